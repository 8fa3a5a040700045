"""Streams in the RDB format: ``STREAM_LISTPACKS_2`` (type 19) written, types 15 and 19 read.

A stream value is Redis's radix tree of listpacks as it is in memory, then
the stream's counters and its consumer groups (``rdbSaveObject`` /
``rdbLoadObject`` in ``rdb.c``)::

    node count, then per node: master ID (16 bytes, big-endian ms and seq), listpack
    length, last ID, first ID, max deleted ID, entries added     (the IDs: two lengths each)
    group count, then per group: name, last ID, entries read,
        global PEL: count, then per entry: ID (16 bytes), delivery time (ms, 8 bytes LE), delivery count
        consumers: count, then per consumer: name, seen time (ms), PEL: count, then IDs (16 bytes)

Type 15 (Redis 6.x) has no first ID, max deleted ID, entries added nor
entries read: they are derived as Redis derives them.

A node's listpack (``t_stream.c``) starts with the master entry ``live,
deleted, field count, fields..., 0``; each entry follows as ``flags,
ms - master ms, seq - master seq, [field count, fields interleaved with
values | values alone when the SAMEFIELDS flag says the fields are the
master's], piece count``.  Deleted entries stay in place, flagged, until
the whole node goes: :class:`~..types.stream.Node` keeps them (its
``tombstones``) so a DUMP is byte-identical to Redis's.
"""

from __future__ import annotations

from typing import Final

from ..types.stream import UINT64_MAX, InvalidNodeError, LoadedNode, Node, Stream, StreamID
from .rdb_listpack import LISTPACK_HEADER_SIZE, LISTPACK_UNKNOWN_COUNT, listpack_entry, listpack_integer, parse_listpack
from .rdb_primitives import (
    RdbFormatError,
    Reader,
    encode_length,
    encode_millisecond_time,
    encode_string,
)

FLAG_NONE: Final = 0
FLAG_DELETED: Final = 1
FLAG_SAMEFIELDS: Final = 2
_INT64_SIGN: Final = 2**63
_ENTRY_CACHE_SIZE: Final = 256


def encode_id(stream_id: StreamID) -> bytes:
    """Return an ID as the 16 bytes of a radix-tree key (``streamEncodeID``): ms then seq, big-endian."""
    return stream_id[0].to_bytes(8, "big") + stream_id[1].to_bytes(8, "big")


def decode_id(raw: bytes) -> StreamID:
    """Return the ID of a 16-byte radix-tree key."""
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def _delta(value: int, base: int) -> int:
    """Return ``value - base`` as C computes it on two ``uint64_t`` and stores it in an ``int64_t``."""
    delta = (value - base) & UINT64_MAX
    return delta - 2**64 if delta >= _INT64_SIGN else delta


def _length(value: int) -> bytes:
    """Return ``rdbSaveLen`` of a C ``long long`` (a negative one is written as its ``uint64_t``)."""
    return encode_length(value & UINT64_MAX)


# -- writing ---------------------------------------------------------------------------------------------------------


def node_listpack(stream: Stream, node: Node) -> bytes:
    """Return the listpack Redis holds for ``node``: the master entry, then live and deleted entries in ID order."""
    master_ms, master_seq = node.master_id
    master_fields = node.fields
    field_count = len(master_fields)
    integer = listpack_integer
    cache: dict[bytes, bytes] = {}  # field names and repeated values: encoded once per node

    def string(item: bytes) -> bytes:
        encoded = cache.get(item)
        if encoded is None:
            encoded = listpack_entry(item)
            if len(cache) < _ENTRY_CACHE_SIZE:
                cache[item] = encoded
        return encoded

    parts = [integer(node.live), integer(node.deleted), integer(field_count), *map(string, master_fields), integer(0)]
    elements = field_count + 4
    live = stream.entries
    ids = list(live.irange(node.master_id, node.last_id))
    if node.tombstones:
        ids = sorted((*ids, *node.tombstones))
    for stream_id in ids:
        fields = live.get(stream_id)
        flags = FLAG_NONE
        if fields is None:
            fields = node.tombstones[stream_id]
            flags = FLAG_DELETED
        count = len(fields) >> 1
        same = count == field_count and tuple(fields[0::2]) == master_fields
        parts.append(integer(flags | FLAG_SAMEFIELDS if same else flags))
        ms_delta, seq_delta = stream_id[0] - master_ms, stream_id[1] - master_seq
        parts.append(integer(ms_delta if 0 <= ms_delta < _INT64_SIGN else _delta(stream_id[0], master_ms)))
        parts.append(integer(seq_delta if 0 <= seq_delta < _INT64_SIGN else _delta(stream_id[1], master_seq)))
        if same:
            parts.extend(map(string, fields[1::2]))
            parts.append(integer(count + 3))
            elements += count + 4
        else:
            parts.append(integer(count))
            parts.extend(map(string, fields))
            parts.append(integer(2 * count + 4))
            elements += 2 * count + 5
    body = b"".join(parts)
    total = LISTPACK_HEADER_SIZE + len(body) + 1
    header = total.to_bytes(4, "little") + min(elements, LISTPACK_UNKNOWN_COUNT).to_bytes(2, "little")
    return header + body + b"\xff"


def encode_stream(stream: Stream, compress: bool) -> bytes:
    """Return the body of a ``STREAM_LISTPACKS_2`` value (``rdbSaveObject`` for ``OBJ_STREAM``)."""
    parts = [encode_length(len(stream.nodes))]
    for master_id, node in stream.nodes.items():
        parts.append(encode_string(encode_id(master_id), compress))
        parts.append(encode_string(node_listpack(stream, node), compress))
    parts.append(encode_length(len(stream)))
    for stream_id in (stream.last_id, stream.first_id, stream.max_deleted_id):
        parts.append(encode_length(stream_id[0]))
        parts.append(encode_length(stream_id[1]))
    parts.append(encode_length(stream.entries_added))
    parts.append(encode_length(len(stream.groups)))
    for name, group in stream.groups.items():
        parts.append(encode_string(name, compress))
        parts.append(encode_length(group.last_id[0]))
        parts.append(encode_length(group.last_id[1]))
        parts.append(_length(group.entries_read))
        parts.append(encode_length(len(group.pending)))
        for stream_id, nack in group.pending.items():
            parts.append(encode_id(stream_id))
            parts.append(encode_millisecond_time(nack.delivery_time))
            parts.append(encode_length(nack.delivery_count))
        parts.append(encode_length(len(group.consumers)))
        for consumer_name, consumer in group.consumers.items():
            parts.append(encode_string(consumer_name, compress))
            parts.append(encode_millisecond_time(consumer.seen_time))
            parts.append(encode_length(len(consumer.pending)))
            parts.extend(encode_id(stream_id) for stream_id in consumer.pending)
    return b"".join(parts)


# -- reading ---------------------------------------------------------------------------------------------------------


_SMALL_INTEGERS: Final = {b"%d" % value: value for value in range(-4096, 4096)}


def _integer(item: bytes) -> int:
    """Return a listpack element as the integer it must be (``lpGetIntegerIfValid``)."""
    small = _SMALL_INTEGERS.get(item)
    if small is not None:
        return small
    try:
        value = int(item)
    except ValueError:
        value = None
    if value is None or b"%d" % value != item:  # (int() also takes spaces, "+" and "_")
        raise RdbFormatError(0, "stream listpack element is not an integer")
    return value


def parse_node(master_id: StreamID, blob: bytes) -> LoadedNode:
    """Return the node of one listpack, checking it as ``streamValidateListpackIntegrity`` does (deep)."""
    elements = parse_listpack(blob)
    if not elements:
        raise RdbFormatError(0, "Empty listpack inside stream")
    try:
        live, deleted, field_count = _integer(elements[0]), _integer(elements[1]), _integer(elements[2])
        if live < 0 or deleted < 0 or field_count < 0:
            raise RdbFormatError(0, "negative count in a stream master entry")
        pos = 3 + field_count
        master_fields = tuple(elements[3:pos])
        if len(master_fields) != field_count or _integer(elements[pos]) != 0:
            raise RdbFormatError(0, "stream master entry without its zero terminator")
        pos += 1
        master_ms, master_seq = master_id
        items: list[tuple[StreamID, list[bytes], bool]] = []
        found_live = 0
        small = _SMALL_INTEGERS.get
        for _ in range(live + deleted):
            flags = small(elements[pos])
            if flags is None:
                flags = _integer(elements[pos])
            ms_delta = small(elements[pos + 1])
            if ms_delta is None:
                ms_delta = _integer(elements[pos + 1])
            seq_delta = small(elements[pos + 2])
            if seq_delta is None:
                seq_delta = _integer(elements[pos + 2])
            stream_id = ((master_ms + ms_delta) & UINT64_MAX, (master_seq + seq_delta) & UINT64_MAX)
            pos += 3
            if flags & FLAG_SAMEFIELDS:
                count = field_count
                fields: list[bytes] = [b""] * (2 * count)
                fields[0::2] = master_fields
                values = elements[pos : pos + count]
                if len(values) != count:
                    raise IndexError(pos)
                fields[1::2] = values
                pos += count
                pieces = count + 3
            else:
                count = _integer(elements[pos])
                if count < 0:
                    raise RdbFormatError(0, "negative field count in a stream entry")
                pos += 1
                fields = elements[pos : pos + 2 * count]
                pos += 2 * count
                pieces = 2 * count + 4
            if small(elements[pos]) != pieces and _integer(elements[pos]) != pieces:
                raise RdbFormatError(0, "stream entry with a wrong piece count")
            pos += 1
            is_deleted = bool(flags & FLAG_DELETED)
            found_live += not is_deleted
            items.append((stream_id, fields, is_deleted))
    except IndexError:
        raise RdbFormatError(0, "stream listpack entry cut short") from None
    if pos != len(elements):
        raise RdbFormatError(0, "data after the last stream entry of a listpack")
    if found_live != live:
        raise RdbFormatError(0, "stream master entry counts do not match its entries")
    return master_id, master_fields, items, len(blob)


def _signed(value: int) -> int:
    """Return a length read back as the C ``long long`` it was saved from."""
    return value - 2**64 if value >= _INT64_SIGN else value


def _read_id(reader: Reader) -> StreamID:
    return reader.read_length(), reader.read_length()


def decode_stream(reader: Reader, version_2: bool) -> Stream:
    """Read a stream value of type 19 (``version_2``) or 15; raise :class:`RdbFormatError` for anything wrong."""
    stream = Stream()
    nodes: list[LoadedNode] = []
    offsets: list[int] = []
    seen: set[StreamID] = set()
    for _ in range(reader.read_length()):
        at = reader.pos
        raw = reader.read_string()
        if len(raw) != 16:
            raise reader.fail("Stream node key entry is not the size of a stream ID", at)
        master_id = decode_id(raw)
        if master_id in seen:
            raise reader.fail("Listpack re-added with existing key", at)
        seen.add(master_id)
        at = reader.pos
        blob = reader.read_string()
        try:
            nodes.append(parse_node(master_id, blob))
        except RdbFormatError as error:
            raise reader.fail(f"Stream listpack integrity check failed: {error.reason}", at) from None
        offsets.append(at)
    try:
        stream.load_nodes(nodes)
    except InvalidNodeError as error:
        raise reader.fail(f"Stream listpack integrity check failed: {error.reason}", offsets[error.index]) from None
    at = reader.pos
    length = reader.read_length()
    last_id = _read_id(reader)
    if length != len(stream.entries):
        raise reader.fail("Stream length inconsistent with rax entries", at)
    if stream.entries and last_id < stream.last_live_id():
        raise reader.fail("Stream last ID below its last entry", at)
    stream.last_id = last_id
    if version_2:
        _read_id(reader)  # the first ID: the first live entry's, which the stream knows
        stream.max_deleted_id = _read_id(reader)
        stream.entries_added = reader.read_length()
    else:
        stream.entries_added = length
    for _ in range(reader.read_length()):
        at = reader.pos
        name = reader.read_string()
        group_last_id = _read_id(reader)
        if version_2:
            entries_read = _signed(reader.read_length())
        else:
            entries_read = stream.estimate_entries_read(group_last_id)
        group = stream.create_group(name, group_last_id, entries_read)
        if group is None:
            raise reader.fail(f"Duplicated consumer group name {name!r}", at)
        unowned: dict[StreamID, tuple[int, int]] = {}
        for _ in range(reader.read_length()):
            at = reader.pos
            stream_id = decode_id(reader.take(16))
            delivery_time = int.from_bytes(reader.take(8), "little", signed=True)
            delivery_count = reader.read_length()
            if stream_id in unowned:
                raise reader.fail("Duplicated global PEL entry loading stream consumer group", at)
            unowned[stream_id] = (delivery_time, delivery_count)
        for _ in range(reader.read_length()):
            at = reader.pos
            consumer_name = reader.read_string()
            seen_time = int.from_bytes(reader.take(8), "little", signed=True)
            consumer = group.create_consumer(consumer_name, seen_time)
            if consumer is None:
                raise reader.fail("Duplicate stream consumer detected.", at)
            for _ in range(reader.read_length()):
                at = reader.pos
                stream_id = decode_id(reader.take(16))
                nack = unowned.pop(stream_id, None)
                if nack is None:
                    reason = ("Duplicated consumer PEL entry loading a stream consumer group"
                              if stream_id in group.pending else "Consumer entry not found in group global PEL")
                    raise reader.fail(reason, at)
                group.add_pending(stream_id, consumer, *nack)
        if unowned:
            raise reader.fail("Stream CG PEL entry without consumer", at)
    return stream
