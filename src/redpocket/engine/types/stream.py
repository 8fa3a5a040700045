"""The stream type: entries ordered by ID, consumer groups and their pending entries.

A :class:`Stream` keeps its live entries in a ``SortedDict`` mapping an ID
``(ms, seq)`` to the entry's flat ``[field, value, ...]`` list: O(log n) to
append, to find where a range starts and to delete, then O(1) per entry
walked.  Consumer groups keep their pending entries list (PEL) as a
``SortedDict`` too, shared with each consumer's own PEL (one :class:`Nack`
object in both, as Redis shares one ``streamNACK``).

Redis stores entries in listpacks of at most ``stream-node-max-entries``
entries and ``stream-node-max-bytes`` bytes, the nodes of a radix tree.
That layout shows: ``MAXLEN ~`` and ``MINID ~`` only remove whole nodes,
XDEL leaves tombstones that count towards a node being full, and XINFO
reports the number of nodes.  :class:`Node` records what decides those
(the node's first ID and fields, its live and deleted counts, its size in
bytes as the listpack would have it), so approximate trimming removes what
Redis removes.  Consumer groups and consumers are reported in name order
(Redis keeps them in radix trees).

This module is the type API only: no argument parsing, no replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from sortedcontainers import SortedDict

from ..args import is_int

StreamID = tuple[int, int]
# What a loader read of one node: master ID, master fields, (id, fields, deleted) items, listpack size.
LoadedNode = tuple[StreamID, tuple[bytes, ...], list[tuple[StreamID, list[bytes], bool]], int]

UINT64_MAX: Final = 2**64 - 1
MIN_ID: Final[StreamID] = (0, 0)
MAX_ID: Final[StreamID] = (UINT64_MAX, UINT64_MAX)
INVALID_ENTRIES_READ: Final = -1  # Redis's SCG_INVALID_ENTRIES_READ
LISTPACK_MAX_SIZE: Final = 1 << 30  # STREAM_LISTPACK_MAX_SIZE
_FLAG_SAMEFIELDS: Final = 2


def format_id(stream_id: StreamID) -> bytes:
    """Return an ID as Redis prints it: ``ms-seq``."""
    return b"%d-%d" % stream_id


def next_id(stream_id: StreamID) -> StreamID | None:
    """Return the ID right after ``stream_id``, or ``None`` past the last possible one (``streamIncrID``)."""
    ms, seq = stream_id
    if seq == UINT64_MAX:
        if ms == UINT64_MAX:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def previous_id(stream_id: StreamID) -> StreamID | None:
    """Return the ID right before ``stream_id``, or ``None`` before 0-0 (``streamDecrID``)."""
    ms, seq = stream_id
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, UINT64_MAX)
    return (ms, seq - 1)


# -- listpack sizes: what Redis's node-full rule measures -----------------------------------


def _backlen_size(length: int) -> int:
    if length <= 127:
        return 1
    if length < 16383:
        return 2
    if length < 2097151:
        return 3
    if length < 268435455:
        return 4
    return 5


def _int_size(value: int) -> int:
    """Return the bytes a listpack integer entry takes, back-length included."""
    if 0 <= value <= 127:
        encoded = 1
    elif -4096 <= value <= 4095:
        encoded = 2
    elif -32768 <= value <= 32767:
        encoded = 3
    elif -8388608 <= value <= 8388607:
        encoded = 4
    elif -(2**31) <= value < 2**31:
        encoded = 5
    else:
        encoded = 9
    return encoded + _backlen_size(encoded)


_NUMBER_START: Final = frozenset(b"-0123456789")


def _string_size(value: bytes) -> int:
    """Return the bytes a listpack string entry takes (a canonical integer is stored as one)."""
    length = len(value)
    if length < 21 and length and value[0] in _NUMBER_START and is_int(value):
        return _int_size(int(value))
    encoded = 1 + length if length < 64 else 2 + length if length < 4096 else 5 + length
    return encoded + _backlen_size(encoded)


def _signed_delta(a: int, b: int) -> int:
    """Return ``a - b`` as C computes it on two ``uint64_t`` and stores it in an ``int64_t``."""
    delta = (a - b) & UINT64_MAX
    return delta - 2**64 if delta >= 2**63 else delta


class InvalidNodeError(ValueError):
    """A node a loader read that cannot be part of a stream; ``index`` says which."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class Node:
    """One listpack of Redis's radix tree: the shape that approximate trimming and node limits follow."""

    __slots__ = ("deleted", "entry_bytes", "fields", "fields_bytes", "last_id", "live", "master_id", "tombstones")

    def __init__(self, master_id: StreamID, fields: tuple[bytes, ...]) -> None:
        self.master_id = master_id
        self.fields = fields  # the master entry's field names
        # The master entry's fixed part: field count, names, terminator.
        self.fields_bytes = _int_size(len(fields)) + sum(_string_size(field) for field in fields) + _int_size(0)
        self.live = 0
        self.deleted = 0
        self.entry_bytes = 0  # the entries' bytes, tombstones included
        self.last_id = master_id  # the last entry appended, live or deleted
        # Deleted entries whose bytes the listpack still holds (flagged deleted), for the RDB encoding.
        self.tombstones: dict[StreamID, list[bytes]] = {}

    def size(self) -> int:
        """Return ``lpBytes`` of the listpack: header, master entry, entries, end byte."""
        return 7 + _int_size(self.live) + _int_size(self.deleted) + self.fields_bytes + self.entry_bytes

    def entry_size(self, stream_id: StreamID, fields: list[bytes]) -> int:
        """Return the bytes an entry appended to this node takes."""
        names = fields[0::2]
        same = tuple(names) == self.fields
        ms_delta = stream_id[0] - self.master_id[0]
        seq_delta = stream_id[1] - self.master_id[1]
        # (flags and small deltas take 2 bytes each; others as C computes them on uint64_t)
        size = 2 + (2 if 0 <= ms_delta <= 127 else _int_size(_signed_delta(stream_id[0], self.master_id[0])))
        size += 2 if 0 <= seq_delta <= 127 else _int_size(_signed_delta(stream_id[1], self.master_id[1]))
        pieces = len(names) + 3
        if not same:
            size += _int_size(len(names)) + sum(map(_string_size, names))
            pieces += len(names) + 1
        size += sum(map(_string_size, fields[1::2]))
        return size + _int_size(pieces)


class Nack:
    """A pending entry: which consumer holds it, when it was last delivered, how many times."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: Consumer | None, delivery_time: int, delivery_count: int = 1) -> None:
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    """A consumer of a group: its name, when it was last seen and its own pending entries."""

    __slots__ = ("name", "pending", "seen_time")

    def __init__(self, name: bytes, seen_time: int) -> None:
        self.name = name
        self.seen_time = seen_time
        self.pending: SortedDict = SortedDict()  # StreamID -> Nack, shared with the group's PEL


class ConsumerGroup:
    """A consumer group: last delivered ID, entries-read counter, PEL and consumers."""

    __slots__ = ("consumers", "entries_read", "last_id", "name", "pending")

    def __init__(self, name: bytes, last_id: StreamID, entries_read: int) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pending: SortedDict = SortedDict()  # StreamID -> Nack
        self.consumers: SortedDict = SortedDict()  # name -> Consumer (name order, as Redis's rax)

    def lookup_consumer(self, name: bytes, now_ms: int | None = None) -> Consumer | None:
        """Return the consumer called ``name``; a ``now_ms`` marks it as seen then."""
        consumer = self.consumers.get(name)
        if consumer is not None and now_ms is not None:
            consumer.seen_time = now_ms
        return consumer

    def create_consumer(self, name: bytes, now_ms: int) -> Consumer | None:
        """Add a consumer; ``None`` if it already exists."""
        if name in self.consumers:
            return None
        consumer = self.consumers[name] = Consumer(name, now_ms)
        return consumer

    def delete_consumer(self, consumer: Consumer) -> int:
        """Remove a consumer and its pending entries; return how many it had pending."""
        pending = len(consumer.pending)
        for stream_id in consumer.pending:
            del self.pending[stream_id]
        del self.consumers[consumer.name]
        return pending

    def acknowledge(self, stream_id: StreamID) -> bool:
        """Remove one entry from the PEL; tell whether it was pending."""
        nack = self.pending.pop(stream_id, None)
        if nack is None:
            return False
        if nack.consumer is not None:
            nack.consumer.pending.pop(stream_id, None)
        return True

    def assign(self, stream_id: StreamID, nack: Nack, consumer: Consumer) -> None:
        """Move a pending entry to ``consumer``'s PEL."""
        if nack.consumer is not consumer:
            if nack.consumer is not None:
                nack.consumer.pending.pop(stream_id, None)
            consumer.pending[stream_id] = nack
            nack.consumer = consumer

    def add_pending(self, stream_id: StreamID, consumer: Consumer, delivery_time: int, delivery_count: int) -> Nack:
        """Add a pending entry as it was saved (a loader rebuilding a group: RDB, RESTORE)."""
        nack = self.pending[stream_id] = Nack(consumer, delivery_time, delivery_count)
        consumer.pending[stream_id] = nack
        return nack

    def deliver(self, stream_id: StreamID, consumer: Consumer, now_ms: int) -> Nack:
        """Record ``stream_id`` as delivered to ``consumer`` (XREADGROUP): a new NACK, or a reassigned one."""
        nack = self.pending.get(stream_id)
        if nack is None:
            nack = self.pending[stream_id] = Nack(consumer, now_ms)
            consumer.pending[stream_id] = nack
            return nack
        self.assign(stream_id, nack, consumer)
        nack.delivery_time = now_ms
        nack.delivery_count = 1
        return nack


class Stream:
    """A Redis stream: entries, nodes, counters and consumer groups."""

    __slots__ = ("entries", "entries_added", "groups", "last_id", "max_deleted_id", "nodes")

    type_name = "stream"

    def __init__(self) -> None:
        self.entries: SortedDict = SortedDict()  # StreamID -> [field, value, ...]
        self.nodes: SortedDict = SortedDict()  # master StreamID -> Node
        self.last_id: StreamID = MIN_ID
        self.entries_added = 0
        self.max_deleted_id: StreamID = MIN_ID
        self.groups: SortedDict = SortedDict()  # name -> ConsumerGroup

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return True  # an empty stream is still a key (Redis never deletes one for being empty)

    # -- reading ---------------------------------------------------------------------
    @property
    def first_id(self) -> StreamID:
        """Return the first live entry's ID, or 0-0 when empty (Redis's ``first_id``)."""
        if not self.entries:
            return MIN_ID
        return self.entries.keys()[0]  # type: ignore[no-any-return]

    def last_live_id(self) -> StreamID:
        """Return the last live entry's ID, or 0-0 when empty (``streamLastValidID``)."""
        if not self.entries:
            return MIN_ID
        return self.entries.keys()[-1]  # type: ignore[no-any-return]

    def range(self, start: StreamID, end: StreamID, count: int = 0,
              reverse: bool = False) -> Iterator[tuple[StreamID, list[bytes]]]:
        """Yield ``(id, fields)`` of the entries from ``start`` to ``end`` inclusive (at most ``count`` if > 0)."""
        if start > end:
            return
        entries = self.entries
        for served, stream_id in enumerate(entries.irange(start, end, reverse=reverse)):
            if count and served >= count:
                return
            yield stream_id, entries[stream_id]

    def get(self, stream_id: StreamID) -> list[bytes] | None:
        """Return one entry's fields, or ``None``."""
        return self.entries.get(stream_id)  # type: ignore[no-any-return]

    # -- appending -------------------------------------------------------------------------
    def new_id(self, now_ms: int, ms: int | None = None) -> StreamID | None:
        """Return the ID ``*`` (``ms`` None) or ``ms-*`` gets now, or ``None`` if none is left."""
        last_ms, last_seq = self.last_id
        if ms is None:
            if now_ms > last_ms:
                return (now_ms, 0)
            return next_id(self.last_id)
        if ms == last_ms:
            if last_seq == UINT64_MAX:
                return None
            return (ms, last_seq + 1)
        return (ms, 0)

    def append(self, stream_id: StreamID, fields: list[bytes], node_max_entries: int, node_max_bytes: int,
               fields_length: int | None = None) -> None:
        """Append an entry whose ID is greater than :attr:`last_id` (the caller checked).

        ``fields_length`` is the total length of ``fields`` when the caller has it.
        """
        if node_max_bytes == 0 or node_max_bytes > LISTPACK_MAX_SIZE:
            node_max_bytes = LISTPACK_MAX_SIZE
        node = None
        if self.nodes:
            node = self.nodes.values()[-1]
            if fields_length is None:
                fields_length = sum(map(len, fields))
            if node.size() + fields_length >= node_max_bytes or (
                    node_max_entries and node.live + node.deleted >= node_max_entries):
                node = None
        if node is None:
            node = Node(stream_id, tuple(fields[0::2]))
            self.nodes[stream_id] = node
        node.entry_bytes += node.entry_size(stream_id, fields)
        node.live += 1
        node.last_id = stream_id
        self.entries[stream_id] = fields
        self.entries_added += 1
        self.last_id = stream_id

    def load_nodes(self, nodes: list[LoadedNode]) -> None:
        """Add the nodes a loader read (RDB, RESTORE), in order: ``(master ID, master fields, items, size)``.

        ``items`` are a node's ``(id, fields, deleted)`` in order, ``size``
        its listpack's length in bytes, so later appends fill the last node
        exactly as Redis fills the listpack it loaded.  Everything is
        checked before anything changes: :class:`InvalidNodeError` names
        the first node out of order, with IDs out of order or below its
        master ID, or without a live entry.
        """
        last = self.nodes.values()[-1].last_id if self.nodes else None
        for index, (master_id, _fields, items, _size) in enumerate(nodes):
            if last is not None and master_id <= last:
                raise InvalidNodeError(index, "stream nodes out of order")
            previous = None
            for stream_id, _entry, _deleted in items:
                if stream_id < master_id or (previous is not None and stream_id <= previous):
                    raise InvalidNodeError(index, "stream entries out of order")
                previous = stream_id
            if all(deleted for _id, _entry, deleted in items):
                raise InvalidNodeError(index, "a stream node without live entries")
            last = previous
        live: dict[StreamID, list[bytes]] = {}
        for master_id, fields, items, size in nodes:
            node = Node(master_id, fields)
            for stream_id, entry_fields, deleted in items:
                if deleted:
                    node.deleted += 1
                    node.tombstones[stream_id] = entry_fields
                else:
                    node.live += 1
                    live[stream_id] = entry_fields
            node.last_id = items[-1][0]
            node.entry_bytes = size - node.size()
            self.nodes[master_id] = node
        self.entries.update(live)  # (one sort of all the keys: far faster than inserting them one by one)

    # -- deleting ---------------------------------------------------------------------------
    def _node_of(self, stream_id: StreamID) -> Node:
        nodes = self.nodes
        index = nodes.bisect_right(stream_id) - 1
        return nodes.values()[index]  # type: ignore[no-any-return]

    def delete(self, stream_id: StreamID) -> bool:
        """Delete one entry (XDEL): a tombstone in its node, the node gone once nothing lives in it."""
        fields = self.entries.pop(stream_id, None)
        if fields is None:
            return False
        node = self._node_of(stream_id)
        node.live -= 1
        node.deleted += 1
        if node.live:
            node.tombstones[stream_id] = fields
        else:
            del self.nodes[node.master_id]
        if stream_id > self.max_deleted_id:
            self.max_deleted_id = stream_id
        return True

    def trim(self, maxlen: int | None = None, minid: StreamID | None = None,
             approx: bool = False, limit: int = 0) -> int:
        """Trim to ``maxlen`` entries or drop IDs below ``minid`` as ``streamTrim`` does; return how many went.

        ``approx`` removes whole nodes only; ``limit`` (> 0) caps the
        entries removed, node by node.
        """
        if maxlen is None and minid is None:
            return 0
        deleted = 0
        entries = self.entries
        while self.nodes:
            if maxlen is not None and len(entries) <= maxlen:
                break
            node = self.nodes.values()[0]
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                remove_node = len(entries) - node.live >= maxlen
            else:
                remove_node = node.last_id < minid  # type: ignore[operator]
            if remove_node:
                for stream_id in list(entries.irange(node.master_id, node.last_id)):
                    del entries[stream_id]
                del self.nodes[node.master_id]
                deleted += node.live
                continue
            if approx:
                break
            for stream_id in list(entries.irange(node.master_id, node.last_id)):
                if (len(entries) <= maxlen) if maxlen is not None else stream_id >= minid:  # type: ignore[operator]
                    break
                node.tombstones[stream_id] = entries.pop(stream_id)
                node.live -= 1
                node.deleted += 1
                deleted += 1
            break
        return deleted

    # -- consumer groups --------------------------------------------------------------------
    def create_group(self, name: bytes, last_id: StreamID, entries_read: int) -> ConsumerGroup | None:
        """Add a consumer group; ``None`` if one has that name."""
        if name in self.groups:
            return None
        group = self.groups[name] = ConsumerGroup(name, last_id, entries_read)
        return group

    def range_has_tombstones(self, start: StreamID | None) -> bool:
        """Tell whether a deleted entry may lie from ``start`` on (``streamRangeHasTombstones``, open end)."""
        if not self.entries or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return (start or MIN_ID) <= self.max_deleted_id

    def estimate_entries_read(self, stream_id: StreamID) -> int:
        """Return the logical read counter of ``stream_id``, or -1 when it cannot be known."""
        if not self.entries_added:
            return 0
        if not self.entries and stream_id <= self.last_id:
            return self.entries_added
        if stream_id == self.last_id:
            return self.entries_added
        if stream_id > self.last_id:
            return INVALID_ENTRIES_READ
        first = self.first_id
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < first:
            if stream_id < first:
                return self.entries_added - len(self.entries)
            if stream_id == first:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def lag(self, group: ConsumerGroup) -> int | None:
        """Return how many entries the group has not read yet, ``None`` when unknown (``streamReplyWithCGLag``)."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        entries_read = self.estimate_entries_read(group.last_id)
        if entries_read != INVALID_ENTRIES_READ:
            return self.entries_added - entries_read
        return None

    def advance_group(self, group: ConsumerGroup, stream_id: StreamID) -> None:
        """Move a group's last delivered ID to ``stream_id``, keeping its read counter when it can."""
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(stream_id):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_entries_read(stream_id)
        group.last_id = stream_id

    # -- introspection ----------------------------------------------------------------------
    def radix_tree_nodes(self) -> int:
        """Return how many nodes Redis's radix tree of the node keys has (XINFO's ``radix-tree-nodes``)."""
        keys = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in self.nodes]
        if not keys:
            return 1
        return _trie_nodes(keys, 0, len(keys), 0)

    def memory_usage(self) -> int:
        """Estimate the bytes Redis would use for this stream (``objectComputeSize``): nodes, tree, groups."""
        size = 72 + 48 * self.radix_tree_nodes() + sum(node.size() for node in self.nodes.values())
        for group in self.groups.values():
            size += 64 + 48 * len(group.pending)  # a NACK, and its place in the group's and consumer's PEL
            size += sum(48 + len(name) + 16 * len(consumer.pending) for name, consumer in group.consumers.items())
        return size

    def copy(self) -> Stream:
        """Return a deep copy (COPY): entries, nodes, groups, consumers and PELs."""
        other = Stream()
        other.entries = SortedDict((stream_id, list(fields)) for stream_id, fields in self.entries.items())
        for master_id, node in self.nodes.items():
            clone = Node(master_id, node.fields)  # (fields_bytes is recomputed)
            clone.live, clone.deleted, clone.entry_bytes, clone.last_id = (
                node.live, node.deleted, node.entry_bytes, node.last_id)
            clone.tombstones = {stream_id: list(fields) for stream_id, fields in node.tombstones.items()}
            other.nodes[master_id] = clone
        other.last_id = self.last_id
        other.entries_added = self.entries_added
        other.max_deleted_id = self.max_deleted_id
        for name, group in self.groups.items():
            twin = other.groups[name] = ConsumerGroup(name, group.last_id, group.entries_read)
            for consumer_name, consumer in group.consumers.items():
                twin.consumers[consumer_name] = Consumer(consumer_name, consumer.seen_time)
            for stream_id, nack in group.pending.items():
                owner = None if nack.consumer is None else twin.consumers[nack.consumer.name]
                copied = twin.pending[stream_id] = Nack(owner, nack.delivery_time, nack.delivery_count)
                if owner is not None:
                    owner.pending[stream_id] = copied
        return other


def _trie_nodes(keys: list[bytes], lo: int, hi: int, depth: int) -> int:
    """Count the radix-tree nodes of ``keys[lo:hi]`` (sorted, 16 bytes each) from the node at byte ``depth`` down.

    A rax node either compresses a run of bytes that lead to one child or
    branches on several bytes; a key ends in a node of its own.
    """
    if hi - lo == 1:
        return 1 if depth == 16 else 2  # (a compressed run to the end, then the key's node)
    first, last = keys[lo], keys[hi - 1]
    branch = depth
    while first[branch] == last[branch]:
        branch += 1
    count = 1 if branch == depth else 2  # the branching node, after a compressed run if any
    start = lo
    while start < hi:
        byte = keys[start][branch]
        end = start
        while end < hi and keys[end][branch] == byte:
            end += 1
        count += _trie_nodes(keys, start, end, branch + 1)
        start = end
    return count


