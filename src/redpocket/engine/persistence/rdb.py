"""The RDB format of Redis 7.0 (version 10): values, DUMP payloads and whole files.

This module owns the serialization; everything that moves data in Redis's
format goes through it (DUMP / RESTORE, ``dump.rdb``, later replication and
export).  Its layers:

- :mod:`.rdb_primitives`: CRC-64, lengths, integer / LZF / verbatim strings;
- :mod:`.rdb_listpack`: listpack and intset builders and parsers, the older
  ziplist and zipmap parsers;
- here: one value (:func:`encode_value` / :func:`decode_value`), a DUMP
  payload (:func:`dump_payload` / :func:`restore_payload`) and a file
  (:class:`RdbWriter` / :func:`load_rdb`).

Values are written with the encoding Redis would have chosen for the same
content (``OBJECT ENCODING``; the rules live with each type, see
:func:`encoding_of`), so a DUMP is byte-identical to Redis's wherever
Redis's choice does not depend on hash-table order:

=========  ====================================  =======================================
type       small (listpack / intset)             large
=========  ====================================  =======================================
string     integer (32-bit), LZF (> 20 bytes), verbatim
list       ``LIST_QUICKLIST_2``: listpack nodes split as ``quicklistPushTail`` splits them
set        ``SET_INTSET`` (all integers)         ``SET`` (members)
hash       ``HASH_LISTPACK``                     ``HASH`` (field, value pairs)
zset       ``ZSET_LISTPACK``                     ``ZSET_2`` (binary doubles, highest first)
custom     ``MODULE_2``, module type ``redpocket``: structure name, version, ``dump()`` bytes
=========  ====================================  =======================================

Loading reads all of the above and every older encoding Redis 7.0 loads
(ziplist, zipmap, quicklist 1, text doubles).  Streams are not serialized
yet: the stream type is being built on another branch, and its encoding
slots in at :func:`encode_value` / :func:`decode_value` (types 15 and 19).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final

from ..keyspace import type_name
from ..types.zset import ZSet
from .rdb_listpack import (
    build_intset,
    build_listpack,
    listpack_entry,
    parse_intset,
    parse_listpack,
    parse_ziplist,
    parse_zipmap,
)
from .rdb_primitives import (
    RdbFormatError,
    Reader,
    crc64,
    encode_binary_double,
    encode_length,
    encode_millisecond_time,
    encode_string,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..engine import Engine

RDB_VERSION: Final = 10
REDIS_VERSION: Final = b"7.0.15"  # what the "redis-ver" aux field says: the Redis this format is

# Value types (rdb.h).
TYPE_STRING: Final = 0
TYPE_LIST: Final = 1
TYPE_SET: Final = 2
TYPE_ZSET: Final = 3
TYPE_HASH: Final = 4
TYPE_ZSET_2: Final = 5
TYPE_MODULE: Final = 6
TYPE_MODULE_2: Final = 7
TYPE_HASH_ZIPMAP: Final = 9
TYPE_LIST_ZIPLIST: Final = 10
TYPE_SET_INTSET: Final = 11
TYPE_ZSET_ZIPLIST: Final = 12
TYPE_HASH_ZIPLIST: Final = 13
TYPE_LIST_QUICKLIST: Final = 14
TYPE_STREAM_LISTPACKS: Final = 15
TYPE_HASH_LISTPACK: Final = 16
TYPE_ZSET_LISTPACK: Final = 17
TYPE_LIST_QUICKLIST_2: Final = 18
TYPE_STREAM_LISTPACKS_2: Final = 19

# Opcodes.
OPCODE_FUNCTION2: Final = 245
OPCODE_FUNCTION: Final = 246
OPCODE_MODULE_AUX: Final = 247
OPCODE_IDLE: Final = 248
OPCODE_FREQ: Final = 249
OPCODE_AUX: Final = 250
OPCODE_RESIZEDB: Final = 251
OPCODE_EXPIRETIME_MS: Final = 252
OPCODE_EXPIRETIME: Final = 253
OPCODE_SELECTDB: Final = 254
OPCODE_EOF: Final = 255

# Module values (module.c): a 64-bit id of 9 name characters (6 bits each) and a 10-bit version.
MODULE_OPCODE_EOF: Final = 0
MODULE_OPCODE_SINT: Final = 1
MODULE_OPCODE_UINT: Final = 2
MODULE_OPCODE_FLOAT: Final = 3
MODULE_OPCODE_DOUBLE: Final = 4
MODULE_OPCODE_STRING: Final = 5
MODULE_NAME_CHARSET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STRUCTURE_MODULE: Final = "redpocket"  # the module type custom structures are stored as
STRUCTURE_FORMAT: Final = 1  # the version of that module type's payload layout

# quicklist.c: node size limits for negative list-max-listpack-size, and the overhead estimate.
_QUICKLIST_SIZE_LEVELS: Final = (4096, 8192, 16384, 32768, 65536)
_QUICKLIST_SAFETY_LIMIT: Final = 8192
_QUICKLIST_ESTIMATE_OVERHEAD: Final = 8
_QUICKLIST_PACKED_THRESHOLD: Final = 1 << 30
_QUICKLIST_NODE_PLAIN: Final = 1
_QUICKLIST_NODE_PACKED: Final = 2
_LISTPACK_EMPTY_SIZE: Final = 7
_HALF_LLONG: Final = float(2**63 - 1) / 2


class UnsupportedValueError(ValueError):
    """A value this format cannot hold (yet): a type with no RDB encoding here."""


# -- the encoding rules (one place: where the engine's OBJECT ENCODING decides) -----------------


def encoding_of(engine: Engine, value: Any, recorded: str | None) -> str:
    """Return the ``OBJECT ENCODING`` Redis 7.0 would report for ``value`` (``recorded``: the key's sticky one)."""
    from ..commands.introspection import encoding_of as object_encoding

    return object_encoding(engine, value, recorded)


@dataclass(frozen=True, slots=True)
class Settings:
    """The configuration the encoder reads: compression, and the list node size."""

    compress: bool = True
    list_fill: int = -2

    @classmethod
    def of(cls, config: Config) -> Settings:
        """Read the settings from an engine's configuration."""
        return cls(compress=config.get("rdbcompression") == "yes", list_fill=config.get_int("list-max-listpack-size"))


# -- writing one value ---------------------------------------------------------------------------


def module_id(name: str, version: int) -> int:
    """Return the 64-bit id of module type ``name`` (9 characters) at encoding ``version`` (``moduleTypeEncodeId``)."""
    if len(name) != 9 or any(char not in MODULE_NAME_CHARSET for char in name):
        raise ValueError(f"a module type name is 9 characters of A-Z a-z 0-9 - _, not {name!r}")
    identifier = 0
    for char in name:
        identifier = (identifier << 6) | MODULE_NAME_CHARSET.index(char)
    return (identifier << 10) | (version & 1023)


def module_name(identifier: int) -> str:
    """Return the 9-character module type name of a module id (``moduleTypeNameByID``)."""
    identifier >>= 10
    chars = []
    for _ in range(9):
        chars.append(MODULE_NAME_CHARSET[identifier & 63])
        identifier >>= 6
    return "".join(reversed(chars))


_STRUCTURE_MODULE_ID: Final = module_id(STRUCTURE_MODULE, STRUCTURE_FORMAT)


def structure_version(cls: type) -> int:
    """Return the version of a structure class's ``dump()`` format (its ``dump_version``, 0 if it sets none)."""
    return int(getattr(cls, "dump_version", 0))


def encode_structure(name: str, version: int, payload: bytes, settings: Settings) -> bytes:
    """Return the body of a ``MODULE_2`` value holding a custom structure."""
    return b"".join((
        encode_length(_STRUCTURE_MODULE_ID),
        encode_length(MODULE_OPCODE_STRING), encode_string(name.encode(), settings.compress),
        encode_length(MODULE_OPCODE_UINT), encode_length(version),
        encode_length(MODULE_OPCODE_STRING), encode_string(payload, settings.compress),
        encode_length(MODULE_OPCODE_EOF),
    ))


def score_item(score: float) -> bytes | int:
    """Return a score as ``zzlInsertAt`` stores it in a listpack: an integer, or ``d2string``'s text."""
    if -_HALF_LLONG <= score <= _HALF_LLONG and score == int(score):
        return int(score)  # double2ll (-0.0 becomes 0 too)
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def quicklist_nodes(items: Iterable[bytes], fill: int) -> list[tuple[int, bytes]]:
    """Return ``(container, data)`` for each node ``quicklistPushTail`` would make from ``items``."""
    nodes: list[tuple[int, bytes]] = []
    entries: list[bytes] = []
    count = 0
    size = 0  # lpBytes of the node being filled
    level = _QUICKLIST_SIZE_LEVELS[-fill - 1] if -len(_QUICKLIST_SIZE_LEVELS) <= fill < 0 else 0

    def close() -> None:
        if entries:
            body = b"".join(entries)
            total = 6 + len(body) + 1
            header = total.to_bytes(4, "little") + min(count, 65535).to_bytes(2, "little")
            nodes.append((_QUICKLIST_NODE_PACKED, header + body + b"\xff"))

    for item in items:
        length = len(item)
        if length >= _QUICKLIST_PACKED_THRESHOLD:
            close()
            entries, count, size = [], 0, 0
            nodes.append((_QUICKLIST_NODE_PLAIN, item))
            continue
        entry = listpack_entry(item)
        if entries:
            new_size = size + length + _QUICKLIST_ESTIMATE_OVERHEAD
            if level:
                allowed = new_size <= level or (new_size <= _QUICKLIST_SAFETY_LIMIT and count < fill)
            else:
                allowed = new_size <= _QUICKLIST_SAFETY_LIMIT and count < fill
            if allowed:
                entries.append(entry)
                count += 1
                size += len(entry)
                continue
            close()
        entries, count, size = [entry], 1, _LISTPACK_EMPTY_SIZE + len(entry)
    close()
    return nodes


def encode_value(value: Any, encoding: str, settings: Settings) -> tuple[int, bytes]:
    """Return ``(RDB type, body)`` of a value stored with ``encoding`` (its ``OBJECT ENCODING``)."""
    kind = type(value)
    compress = settings.compress
    if kind is bytes:
        return TYPE_STRING, encode_string(value, compress)
    if kind is deque:
        parts = []
        nodes = quicklist_nodes(value, settings.list_fill)
        parts.append(encode_length(len(nodes)))
        for container, data in nodes:
            parts.append(encode_length(container))
            parts.append(encode_string(data, compress))
        return TYPE_LIST_QUICKLIST_2, b"".join(parts)
    if kind is set:
        if encoding == "intset":
            return TYPE_SET_INTSET, encode_string(build_intset(map(int, value)), compress)
        return TYPE_SET, encode_length(len(value)) + b"".join([encode_string(member, compress) for member in value])
    if kind is dict:
        if encoding == "listpack":
            return TYPE_HASH_LISTPACK, encode_string(build_listpack(_flatten(value.items())), compress)
        parts = [encode_length(len(value))]
        for item_field, item_value in value.items():
            parts.append(encode_string(item_field, compress))
            parts.append(encode_string(item_value, compress))
        return TYPE_HASH, b"".join(parts)
    if kind is ZSet:
        if encoding == "listpack":
            items: list[bytes | int] = []
            for member, score in value:
                items.append(member)
                items.append(score_item(score))
            return TYPE_ZSET_LISTPACK, encode_string(build_listpack(items), compress)
        parts = [encode_length(len(value))]
        for score, member in reversed(value.ordered):
            parts.append(encode_string(member, compress))
            parts.append(encode_binary_double(score))
        return TYPE_ZSET_2, b"".join(parts)
    dump = getattr(value, "dump", None)
    name = type_name(value)
    if dump is None or name in ("stream", "none"):
        raise UnsupportedValueError(f"a {name} value has no RDB encoding in this engine yet")
    payload = dump()
    if not isinstance(payload, bytes):
        raise TypeError(f"{kind.__name__}.dump() returned {type(payload).__name__}, not bytes")
    return TYPE_MODULE_2, encode_structure(name, structure_version(kind), payload, settings)


def _flatten(pairs: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    for item_field, item_value in pairs:
        yield item_field
        yield item_value


# -- reading one value --------------------------------------------------------------------------------

Structures = dict[str, type]


class EmptyValue(Exception):
    """A value with no elements: Redis skips it when loading a file, and refuses it in RESTORE."""


def _pairs(items: list[bytes], reader: Reader, start: int, what: str) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise reader.fail(f"{what} with an odd number of entries", start)
    return list(zip(items[::2], items[1::2], strict=True))


def _unique_dict(pairs: list[tuple[bytes, bytes]], reader: Reader, start: int, what: str) -> dict[bytes, bytes]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise reader.fail(f"duplicate {what} fields", start)
    return result


def _zset_from_pairs(pairs: list[tuple[bytes, bytes]], reader: Reader, start: int) -> ZSet:
    scores: dict[bytes, float] = {}
    for member, text in pairs:
        try:
            score = float(text)
        except ValueError:
            raise reader.fail(f"invalid sorted set score {text!r}", start) from None
        if math.isnan(score):
            raise reader.fail("sorted set with a NaN score", start)
        scores[member] = score
    if len(scores) != len(pairs):
        raise reader.fail("duplicate sorted set members", start)
    return ZSet.from_scores(scores)


def _decode_blob(reader: Reader, parse: Callable[[bytes], list[bytes]]) -> tuple[list[bytes], int]:
    start = reader.pos
    blob = reader.read_string()
    try:
        return parse(blob), start
    except RdbFormatError as error:
        raise reader.fail(error.reason, start) from None


def decode_value(kind: int, reader: Reader, structures: Structures) -> Any:
    """Read one value of RDB type ``kind``; raise :class:`EmptyValue` for one without elements."""
    start = reader.pos
    if kind == TYPE_STRING:
        return reader.read_string()
    if kind == TYPE_LIST:
        count = reader.read_length()
        items = deque(reader.read_string() for _ in range(count))
    elif kind in (TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2):
        items = deque()
        for _ in range(reader.read_length()):
            container = _QUICKLIST_NODE_PACKED
            if kind == TYPE_LIST_QUICKLIST_2:
                at = reader.pos
                container = reader.read_length()
                if container not in (_QUICKLIST_NODE_PACKED, _QUICKLIST_NODE_PLAIN):
                    raise reader.fail("quicklist node of an unknown container type", at)
            if container == _QUICKLIST_NODE_PLAIN:
                items.append(reader.read_string())
                continue
            parse = parse_listpack if kind == TYPE_LIST_QUICKLIST_2 else parse_ziplist
            node, _ = _decode_blob(reader, parse)
            items.extend(node)
    elif kind == TYPE_LIST_ZIPLIST:
        node, _ = _decode_blob(reader, parse_ziplist)
        items = deque(node)
    elif kind in (TYPE_SET, TYPE_SET_INTSET):
        if kind == TYPE_SET:
            members = [reader.read_string() for _ in range(reader.read_length())]
            result = set(members)
            if len(result) != len(members):
                raise reader.fail("duplicate set members", start)
        else:
            result = set(_decode_blob(reader, parse_intset)[0])
        if not result:
            raise EmptyValue
        return result
    elif kind == TYPE_HASH:
        count = reader.read_length()
        hash_pairs = [(reader.read_string(), reader.read_string()) for _ in range(count)]
        value = _unique_dict(hash_pairs, reader, start, "hash")
        if not value:
            raise EmptyValue
        return value
    elif kind in (TYPE_HASH_LISTPACK, TYPE_HASH_ZIPLIST, TYPE_HASH_ZIPMAP):
        parse = {TYPE_HASH_LISTPACK: parse_listpack, TYPE_HASH_ZIPLIST: parse_ziplist}.get(kind, parse_zipmap)
        flat, at = _decode_blob(reader, parse)
        value = _unique_dict(_pairs(flat, reader, at, "hash"), reader, at, "hash")
        if not value:
            raise EmptyValue
        return value
    elif kind in (TYPE_ZSET, TYPE_ZSET_2):
        scores: dict[bytes, float] = {}
        count = reader.read_length()
        for _ in range(count):
            member = reader.read_string()
            score = reader.read_binary_double() if kind == TYPE_ZSET_2 else reader.read_text_double()
            if math.isnan(score):
                raise reader.fail("sorted set with a NaN score", start)
            scores[member] = score
        if len(scores) != count:
            raise reader.fail("duplicate sorted set members", start)
        if not scores:
            raise EmptyValue
        return ZSet.from_scores(scores)
    elif kind in (TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST):
        flat, at = _decode_blob(reader, parse_listpack if kind == TYPE_ZSET_LISTPACK else parse_ziplist)
        zset = _zset_from_pairs(_pairs(flat, reader, at, "sorted set"), reader, at)
        if not len(zset):
            raise EmptyValue
        return zset
    elif kind == TYPE_MODULE_2:
        return _decode_structure(reader, structures)
    elif kind == TYPE_MODULE:
        identifier = reader.read_length()
        raise reader.fail(f"module data I can't load: no matching module type '{module_name(identifier)}'", start)
    elif kind in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
        raise reader.fail("stream values cannot be loaded by this engine yet", start)
    else:
        raise reader.fail(f"unknown RDB value type {kind}", start)
    if not items:
        raise EmptyValue
    return items


def _module_field(reader: Reader, opcode: int) -> Any:
    at = reader.pos
    found = reader.read_length()
    if found != opcode:
        raise reader.fail(f"module value field of type {found}, expected {opcode}", at)
    if opcode == MODULE_OPCODE_STRING:
        return reader.read_string()
    return reader.read_length()


def _decode_structure(reader: Reader, structures: Structures) -> Any:
    start = reader.pos
    identifier = reader.read_length()
    name = module_name(identifier)
    if name != STRUCTURE_MODULE:
        raise reader.fail(f"module data I can't load: no matching module type '{name}'", start)
    if identifier & 1023 != STRUCTURE_FORMAT:
        raise reader.fail(f"redpocket structure payload format {identifier & 1023} (this engine reads {STRUCTURE_FORMAT})",
                          start)
    type_name_bytes = _module_field(reader, MODULE_OPCODE_STRING)
    version = _module_field(reader, MODULE_OPCODE_UINT)
    payload = _module_field(reader, MODULE_OPCODE_STRING)
    at = reader.pos
    if reader.read_length() != MODULE_OPCODE_EOF:
        raise reader.fail("module value not terminated by its EOF marker", at)
    structure_name = type_name_bytes.decode("utf-8", "replace")
    cls = structures.get(structure_name)
    if cls is None:
        raise reader.fail(f"a '{structure_name}' structure, which is not added to this engine", start)
    return load_structure(cls, payload, version, reader, start)


def load_structure(cls: type, payload: bytes, version: int, reader: Reader, start: int) -> Any:
    """Rebuild a structure from its payload: ``load()`` for its own version, ``load_version()`` for older ones."""
    current = structure_version(cls)
    try:
        if version == current:
            return cls.load(payload)  # type: ignore[attr-defined]
        upgrade = getattr(cls, "load_version", None)
        if upgrade is None or version > current:
            raise ValueError(f"payload version {version}, and the class reads version {current}")
        return upgrade(payload, version)
    except Exception as error:
        raise reader.fail(f"cannot load a '{cls.type_name}' structure: {error}", start) from None  # type: ignore[attr-defined]


# -- DUMP payloads -----------------------------------------------------------------------------------


def dump_payload(value: Any, encoding: str, settings: Settings) -> bytes:
    """Return ``createDumpPayload``'s bytes: type, value, RDB version (2 bytes LE), CRC-64 (8 bytes LE)."""
    kind, body = encode_value(value, encoding, settings)
    payload = bytes((kind,)) + body + RDB_VERSION.to_bytes(2, "little")
    return payload + crc64(payload).to_bytes(8, "little")


def verify_payload(payload: bytes) -> bool:
    """Tell whether a DUMP payload's version is one this engine reads and its checksum matches."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return crc64(memoryview(payload)[:-8]) == int.from_bytes(payload[-8:], "little")


def restore_payload(payload: bytes, structures: Structures) -> Any:
    """Return the value of a verified DUMP payload; :class:`RdbFormatError` or :class:`EmptyValue` if it is bad."""
    reader = Reader(payload, 0, len(payload) - 10)
    kind = reader.byte()
    if not (0 <= kind <= 7 or 9 <= kind <= 19):
        raise reader.fail(f"unknown RDB value type {kind}", 0)
    return decode_value(kind, reader, structures)


# -- files --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """One key to write: its value (a copy), encoding, and absolute expiry in ms (or ``None``)."""

    key: bytes
    value: Any
    encoding: str
    expires: int | None


@dataclass(slots=True)
class Capture:
    """A copy of the dataset taken at one instant, ready to be written by another thread."""

    taken: float
    dirty: int
    settings: Settings
    lru: bool = False
    lfu: bool = False
    databases: list[tuple[int, list[Entry], int]] = field(default_factory=list)  # (index, entries, expires count)
    functions: list[bytes] = field(default_factory=list)

    @property
    def keys(self) -> int:
        """Return how many keys the capture holds."""
        return sum(len(entries) for _index, entries, _expires in self.databases)


FUNCTIONS_HOOK: Final = "rdb_functions"  # engine extension: .libraries() -> [code], .load_library(code)


def copy_for_save(value: Any) -> Any:
    """Return a copy of a stored value that stays valid while the engine goes on writing."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is dict or kind is deque or kind is set or kind is ZSet:
        return value.copy()
    dump = getattr(value, "dump", None)
    if dump is None:
        raise UnsupportedValueError(f"a {type_name(value)} value has no RDB encoding in this engine yet")
    return _DumpedStructure(type_name(value), structure_version(kind), dump())


@dataclass(frozen=True, slots=True)
class _DumpedStructure:
    """A structure's state taken at capture time (its ``dump()`` runs under the engine lock)."""

    name: str
    version: int
    payload: bytes


def capture(engine: Engine) -> Capture:
    """Copy the dataset for a background save (the caller holds the engine lock); expired keys are left out."""
    from ..keyspace import now_ms

    now = now_ms()
    policy = engine.config.get("maxmemory-policy")
    result = Capture(taken=time.time(), dirty=engine.dirty, settings=Settings.of(engine.config),
                     lru="lru" in policy, lfu="lfu" in policy)
    hook = engine.extensions.get(FUNCTIONS_HOOK)
    if hook is not None:
        result.functions = list(hook.libraries())
    for db in engine.databases:
        if not db.data:
            continue
        expires = db.expires
        recorded = db.encodings
        entries = []
        expiring = 0
        for key, value in db.data.items():
            when = expires.get(key) if expires else None
            if when is not None:
                if when < now:
                    continue
                expiring += 1
            if type(value) is bytes:
                entries.append(Entry(key, value, "", when))
            else:
                encoding = encoding_of(engine, value, recorded.get(key))
                entries.append(Entry(key, copy_for_save(value), encoding, when))
        if entries:
            result.databases.append((db.index, entries, expiring))
    return result


class RdbWriter:
    """Write an RDB file to a binary handle in pieces, keeping its CRC-64."""

    def __init__(self, handle: IO[bytes], checksum: bool = True) -> None:
        self.handle = handle
        self.checksum = checksum
        self.crc = 0
        self.written = 0
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> None:
        """Queue ``data``; it reaches the handle in blocks of about a megabyte."""
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        if self._pending:
            block = b"".join(self._pending)
            self._pending, self._pending_size = [], 0
            if self.checksum:
                self.crc = crc64(block, self.crc)
            self.handle.write(block)
            self.written += len(block)

    def header(self, aux: Iterable[tuple[bytes, bytes]]) -> None:
        """Write the magic string and the AUX fields."""
        self.write(b"REDIS%04d" % RDB_VERSION)
        for name, text in aux:
            self.write(bytes((OPCODE_AUX,)) + encode_string(name) + encode_string(text))

    def function(self, code: bytes) -> None:
        """Write one function library."""
        self.write(bytes((OPCODE_FUNCTION2,)) + encode_string(code))

    def database(self, index: int, size: int, expiring: int) -> None:
        """Start database ``index`` (SELECTDB, then the RESIZEDB hint)."""
        self.write(bytes((OPCODE_SELECTDB,)) + encode_length(index)
                   + bytes((OPCODE_RESIZEDB,)) + encode_length(size) + encode_length(expiring))

    def entries(self, entries: Iterable[Entry], settings: Settings, lru: bool = False, lfu: bool = False) -> None:
        """Write keys: their expiry, LRU / LFU hint, type, name and value."""
        write = self.write
        compress = settings.compress
        string_type = b"\x00"
        for entry in entries:
            value = entry.value
            prefix = b""
            if entry.expires is not None:
                prefix = b"\xfc" + encode_millisecond_time(entry.expires)
            if lru:
                prefix += b"\xf8\x00"  # no access times are kept: idle 0 seconds
            elif lfu:
                prefix += b"\xf9\x00"
            if type(value) is bytes:
                write(prefix + string_type + encode_string(entry.key, compress) + encode_string(value, compress))
                continue
            if type(value) is _DumpedStructure:
                kind, body = TYPE_MODULE_2, encode_structure(value.name, value.version, value.payload, settings)
            else:
                kind, body = encode_value(value, entry.encoding, settings)
            write(prefix + bytes((kind,)) + encode_string(entry.key, compress) + body)

    def finish(self) -> None:
        """Write EOF and the checksum (0 when checksums are off), and flush."""
        self.write(bytes((OPCODE_EOF,)))
        self.flush()
        self.handle.write(self.crc.to_bytes(8, "little"))
        self.written += 8


def default_aux(aof_base: bool = False) -> list[tuple[bytes, bytes]]:
    """Return the AUX fields Redis writes first (``rdbSaveInfoAuxFields``)."""
    return [
        (b"redis-ver", REDIS_VERSION),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % int(time.time())),
        (b"used-mem", b"%d" % 0),
        (b"aof-base", b"1" if aof_base else b"0"),
    ]


def write_capture(handle: IO[bytes], captured: Capture, checksum: bool = True, aof_base: bool = False) -> int:
    """Write a whole RDB file of ``captured`` to ``handle``; return its size."""
    writer = RdbWriter(handle, checksum)
    writer.header(default_aux(aof_base))
    for code in captured.functions:
        writer.function(code)
    for index, entries, expiring in captured.databases:
        writer.database(index, len(entries), expiring)
        writer.entries(entries, captured.settings, captured.lru, captured.lfu)
    writer.finish()
    return writer.written


def write_rdb_file(path: os.PathLike[str] | str, captured: Capture, checksum: bool = True) -> None:
    """Write ``captured`` to ``path`` atomically: a temporary file, fsync, rename, fsync the directory."""
    from pathlib import Path

    from .snapshot import fsync_directory

    target = Path(path)
    temporary = target.with_name(f"temp-{os.getpid()}-{time.monotonic_ns()}.rdb")
    try:
        with open(temporary, "wb") as handle:
            write_capture(handle, captured, checksum)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


# -- loading a file --------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadStats:
    """What loading an RDB file did."""

    keys: int = 0
    expired: int = 0
    empty: int = 0
    version: int = 0
    aux: dict[bytes, bytes] = field(default_factory=dict)
    end: int = 0


def is_rdb(data: Any) -> bool:
    """Tell whether ``data`` starts like an RDB file."""
    return bytes(data[:5]) == b"REDIS"


def load_rdb(engine: Engine, data: bytes, now: int | None = None, *, verify_checksum: bool = True) -> LoadStats:
    """Load an RDB file's ``data`` into ``engine``'s (empty) databases; raise :class:`RdbFormatError` on bad bytes.

    Keys already expired at ``now`` (ms; default: the current time) are
    skipped, as a Redis master does; values with no elements are skipped
    too.  A key present twice is an error.  The checksum is checked at the
    end (unless it is 0: written with ``rdbchecksum no``); on any error the
    databases are emptied again, so a bad file loads nothing.
    """
    from ..keyspace import now_ms

    try:
        stats = _load(engine, data, now_ms() if now is None else now)
        if stats.end != len(data):
            raise RdbFormatError(stats.end, "unexpected data after the end of the RDB file")
        if stats.version >= 5 and verify_checksum:
            stored = int.from_bytes(data[stats.end - 8 : stats.end], "little")
            if stored and crc64(memoryview(data)[: stats.end - 8]) != stored:
                raise RdbFormatError(stats.end - 8, "RDB CRC error: the checksum does not match the contents")
        return stats
    except BaseException:
        for db in engine.databases:
            db.data.clear()
            db.expires.clear()
        raise


def _load(engine: Engine, data: bytes, now: int) -> LoadStats:
    size = len(data)
    if size < 9 or data[:5] != b"REDIS":
        raise RdbFormatError(0, "not an RDB file (wrong signature)")
    if not data[5:9].isdigit():
        raise RdbFormatError(5, "not an RDB file (bad version field)")
    version = int(data[5:9])
    if not 1 <= version <= RDB_VERSION:
        raise RdbFormatError(5, f"can't handle RDB format version {version}")
    stats = LoadStats(version=version)
    reader = Reader(data, 9)
    structures: Structures = engine.extensions.get("structures", {})
    databases = engine.databases
    db = databases[0]
    dbdata, dbexpires = db.data, db.expires
    expires_at: int | None = None
    keys = 0
    read_string = reader.read_string
    while True:
        pos = reader.pos
        if pos >= size:
            raise reader.fail("unexpected end of data (no EOF opcode)")
        kind = data[pos]
        reader.pos = pos + 1
        if kind == TYPE_STRING:
            # The common case, inlined: a short verbatim key and value.
            pos += 1
            length = data[pos] if pos < size else 255
            if length < 64 and pos + 1 + length < size:
                key = data[pos + 1 : pos + 1 + length]
                pos += 1 + length
                length = data[pos]
                if length < 64 and pos + 1 + length <= size:
                    value = data[pos + 1 : pos + 1 + length]
                    reader.pos = pos + 1 + length
                else:
                    reader.pos = pos
                    value = read_string()
            else:
                key = read_string()
                value = read_string()
        elif kind < OPCODE_FUNCTION2:
            key = read_string()
            try:
                value = decode_value(kind, reader, structures)
            except EmptyValue:
                stats.empty += 1
                expires_at = None
                continue
        elif kind == OPCODE_EXPIRETIME_MS:
            expires_at = reader.read_millisecond_time()
            continue
        elif kind == OPCODE_EXPIRETIME:
            expires_at = reader.read_second_time() * 1000
            continue
        elif kind == OPCODE_SELECTDB:
            at = reader.pos
            index = reader.read_length()
            if index >= len(databases):
                raise reader.fail(f"database {index} (this engine has {len(databases)})", at)
            db = databases[index]
            dbdata, dbexpires = db.data, db.expires
            continue
        elif kind == OPCODE_RESIZEDB:
            reader.read_length()
            reader.read_length()
            continue
        elif kind == OPCODE_AUX:
            name = read_string()
            stats.aux[name] = read_string()
            continue
        elif kind == OPCODE_IDLE:
            reader.read_length()
            continue
        elif kind == OPCODE_FREQ:
            reader.byte()
            continue
        elif kind == OPCODE_EOF:
            break
        elif kind in (OPCODE_FUNCTION2, OPCODE_FUNCTION):
            at = pos
            if kind == OPCODE_FUNCTION:
                raise reader.fail("function data of Redis 7.0 release candidates is not supported", at)
            code = read_string()
            hook = engine.extensions.get(FUNCTIONS_HOOK)
            if hook is None:
                raise reader.fail("the file holds function libraries, which this engine cannot load", at)
            hook.load_library(code)
            continue
        elif kind == OPCODE_MODULE_AUX:
            identifier = reader.read_length()
            raise reader.fail(f"module AUX data I can't load: no matching module '{module_name(identifier)}'", pos)
        else:
            raise reader.fail(f"unknown RDB value type or opcode {kind}", pos)
        if expires_at is not None:
            if expires_at < now:
                stats.expired += 1
                expires_at = None
                continue
            dbexpires[key] = expires_at
            expires_at = None
        if key in dbdata:
            raise reader.fail(f"duplicated key {key!r} in database {db.index}", pos)
        dbdata[key] = value
        keys += 1
    stats.keys = keys
    stats.end = reader.pos + (8 if version >= 5 else 0)
    if stats.end > size:
        raise RdbFormatError(reader.pos, "unexpected end of data (the checksum is cut short)")
    return stats
