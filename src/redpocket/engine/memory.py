"""How much memory the keyspace takes in this process: the estimate behind ``used_memory``.

The engine's data are Python objects, so the estimate counts what CPython
allocates for them, not what Redis would (``MEMORY USAGE`` and ``INFO``
report this process's bytes):

* **Tables** (O(1)): :data:`TABLE_ENTRY` bytes per entry of each
  database's ``data``, ``accessed`` and ``expires`` dicts (what a CPython
  dict takes per entry on average over its growth: 24 bytes of entry, its
  index and the free room kept before the next resize), plus one float (LRU
  clock) or int (LFU counter) per key and one int per expiry time.  The
  average, not the table's size of the moment, so a cache that deletes and
  adds keys all the time keeps a steady capacity.
* **Keys and values** (kept incrementally in ``Database.used``): a key
  costs its ``bytes`` object; a string value its ``bytes`` object; a
  container its own object (``sys.getsizeof``: the hash table, the deque's
  blocks) plus its element count times the average size of a few sampled
  elements (their ``bytes``, floats, tuples and the sorted list's pointers).
  The sample is taken again when a container's length has doubled or
  halved since the last one, so a write costs O(1) (:func:`value_size`).

``pymalloc`` rounds every small object up to 16 bytes: an object of ``n``
bytes is counted as ``n + 8`` on average (:data:`ROUNDING`).
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import islice
from typing import Any, Final

STARTUP_MEMORY: Final = 876080  # used_memory of an empty engine: what an empty Redis 7.0 reports
ROUNDING: Final = 8  # pymalloc's 16-byte size classes: the average bytes lost per object
BYTES_HEADER: Final = sys.getsizeof(b"") - 1 + ROUNDING  # a bytes object's header (33 on CPython 3.11)
STRING_BASE: Final = BYTES_HEADER  # + len(value)
KEY_BASE: Final = BYTES_HEADER  # + len(key)
NUMBER: Final = 32  # a float or a small int object, as pymalloc allocates it
TUPLE_2: Final = sys.getsizeof((1, 2)) + ROUNDING
POINTER: Final = 8
SAMPLES: Final = 8
# Measured once with tracemalloc on CPython 3.11 (sortedcontainers' objects are many small ones):
ZSET_BASE: Final = 300  # a ZSet and its empty SortedList, apart from the scores dict
STREAM_BASE: Final = 4700  # a Stream and its three empty SortedDicts, apart from the entries' dict
NODE: Final = 400  # a stream's listpack node record, its ID and its place in the nodes' SortedDict
GROUP: Final = 5000  # a consumer group with its SortedDicts
_BYTES = bytes


def string_size(value: bytes) -> int:
    """Return the bytes a string value takes (its ``bytes`` object)."""
    return STRING_BASE + len(value)


def key_size(key: bytes) -> int:
    """Return the bytes a key's name takes (its ``bytes`` object; the tables are counted apart)."""
    return KEY_BASE + len(key)


def _element(item: Any) -> int:
    if item.__class__ is _BYTES:
        return BYTES_HEADER + len(item)
    return sys.getsizeof(item) + ROUNDING


def element_unit(value: Any, samples: int = SAMPLES) -> float:
    """Return the average bytes one element of container ``value`` takes, from ``samples`` elements (0: all)."""
    if not hasattr(value, "__len__"):
        return 0.0
    if samples <= 0:
        samples = max(len(value), 1)
    kind = value.__class__
    if kind is dict:
        pairs = list(islice(value.items(), samples))
        return sum(_element(k) + _element(v) for k, v in pairs) / len(pairs) if pairs else 0.0
    if kind is set:
        members = list(islice(value, samples))
        return sum(_element(m) for m in members) / len(members) if members else 0.0
    if kind is deque:
        if not value:
            return 0.0
        if samples >= len(value):
            return sum(_element(item) for item in value) / len(value)
        return (_element(value[0]) + _element(value[-1])) / 2
    name = getattr(value, "type_name", None)
    if name == "zset":
        pairs = list(islice(value.scores.items(), samples))
        if not pairs:
            return 0.0
        # member bytes, its score float (twice: the dict's and the tuple's), the (score, member)
        # tuple, the sorted list's pointer (with its load factor), the scores dict's slot.
        return sum(_element(m) for m, _ in pairs) / len(pairs) + 2 * NUMBER + TUPLE_2 + POINTER * 2 + 50
    if name == "stream":
        entries = list(islice(value.entries.items(), samples))
        if not entries:
            return 0.0
        each = 0
        for stream_id, fields in entries:
            each += sys.getsizeof(stream_id) + ROUNDING + sys.getsizeof(fields) + ROUNDING + 2 * NUMBER
            each += sum(_element(field) for field in fields)
        # the SortedDict's dict slot and sorted-list pointer per entry
        return each / len(entries) + 60
    return 0.0


def container_base(value: Any) -> int:
    """Return the bytes a container takes apart from its elements (its own tables)."""
    kind = value.__class__
    if kind is dict or kind is set or kind is deque:
        return sys.getsizeof(value) + ROUNDING
    name = getattr(value, "type_name", None)
    if name == "zset":
        return sys.getsizeof(value.scores) + ZSET_BASE
    if name == "stream":
        return STREAM_BASE + sys.getsizeof(value.entries) + NODE * len(value.nodes) + GROUP * len(value.groups)
    dump = getattr(value, "dump", None)
    if dump is not None:  # a custom structure (structures.py): its serialised size, when it has one
        try:
            return len(dump()) + 64
        except Exception:  # (dump() is optional: a structure that is never persisted may not define it)
            pass
    return sys.getsizeof(value) + ROUNDING


def value_size(value: Any, previous: tuple[int, float, int] | None) -> tuple[int, float, int]:
    """Return ``(size, unit, sampled_length)`` of a container value, resampling only when needed.

    ``previous`` is the last result for the same key: its per-element
    ``unit`` is kept while the length stays within half to twice the
    length it was sampled at.
    """
    if not hasattr(value, "__len__"):  # a custom structure (structures.py): measured whole
        return container_base(value), 0.0, 0
    length = len(value)
    if previous is not None and previous[2] >> 1 <= length <= previous[2] << 1 and length:
        unit = previous[1]
        sampled = previous[2]
    else:
        unit = element_unit(value)
        sampled = length
    return container_base(value) + int(unit * length), unit, sampled


def table_size(table: dict[Any, Any]) -> int:
    """Return the bytes a dict's table takes (``sys.getsizeof``; nothing for the shared empty table)."""
    return sys.getsizeof(table) if table else 0


TABLE_ENTRY: Final = 42  # a dict's bytes per entry, averaged over its growth (sys.getsizeof / len)
SIZE_ENTRY: Final = 120  # a container's entry in Database.sizes: a 3-tuple, an int and a float


def database_memory(db: Any) -> int:
    """Return the bytes one database takes: its keys and values (``db.used``) and its tables' entries."""
    entries = len(db.data) + len(db.accessed)
    expires = len(db.expires)
    total = db.used + TABLE_ENTRY * (entries + expires + len(db.sizes) + len(db.encodings))
    total += NUMBER * (len(db.accessed) + expires) + SIZE_ENTRY * len(db.sizes)
    if db.sampler is not None:
        total += POINTER * (len(db.sampler.keys) + len(db.volatile_sampler.keys))
    return total


def key_usage(key: bytes, value: Any, samples: int) -> int:
    """Return the bytes one key takes (MEMORY USAGE): its name, its table entries and clock, its value.

    A container's elements are estimated from ``samples`` of them (0: all), as Redis's ``SAMPLES``.
    """
    size = key_size(key) + 2 * TABLE_ENTRY + NUMBER
    if value.__class__ is bytes:
        return size + string_size(value)
    elements = int(element_unit(value, samples) * len(value)) if hasattr(value, "__len__") else 0
    return size + container_base(value) + elements + TABLE_ENTRY + SIZE_ENTRY
