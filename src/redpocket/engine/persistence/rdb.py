"""The RDB format of Redis 7.0 (version 10): values, DUMP payloads and whole files.

This module owns the serialization; everything that moves data in Redis's
format goes through it (DUMP / RESTORE, ``dump.rdb``, later replication and
export).  Its layers:

- :mod:`.rdb_primitives`: CRC-64, lengths, integer / LZF / verbatim strings;
- :mod:`.rdb_listpack`: listpack and intset builders and parsers, the older
  ziplist and zipmap parsers;
- here: one value (:func:`encode_value` / :func:`decode_value`) and a DUMP
  payload (:func:`dump_payload` / :func:`restore_payload`);
- :mod:`.rdb_file`: whole files (capture, write, load).

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
stream     ``STREAM_LISTPACKS_2``: the listpack nodes, counters, groups, PELs and consumers
custom     ``MODULE_2``, module type ``redpocket``: structure name, version, ``dump()`` bytes
=========  ====================================  =======================================

Loading reads all of the above and every older encoding Redis 7.0 loads
(ziplist, zipmap, quicklist 1, text doubles).  Streams (``STREAM_LISTPACKS_2``
written, types 15 and 19 read) are :mod:`.rdb_stream`'s: their listpacks
follow the stream's own node boundaries, so they too are byte-identical.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..keyspace import type_name
from ..types.stream import Stream
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
    encode_lzf_blob,
    encode_string,
    lzf_compress,
)
from .rdb_stream import decode_stream, encode_stream

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
_QUICKLIST_MIN_COMPRESS_BYTES: Final = 48
_QUICKLIST_MIN_COMPRESS_IMPROVE: Final = 8
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
    list_compress_depth: int = 0

    @classmethod
    def of(cls, config: Config) -> Settings:
        """Read the settings from an engine's configuration."""
        return cls(
            compress=config.get("rdbcompression") == "yes",
            list_fill=config.get_int("list-max-listpack-size"),
            list_compress_depth=config.get_int("list-compress-depth"),
        )


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


def _compressed_node(data: bytes) -> bytes | None:
    """Return a quicklist node's bytes as ``__quicklistCompressNode`` compresses them, or ``None`` if it does not."""
    if len(data) < _QUICKLIST_MIN_COMPRESS_BYTES:
        return None
    compressed = lzf_compress(data, len(data))
    if compressed is None or len(compressed) + _QUICKLIST_MIN_COMPRESS_IMPROVE >= len(data):
        return None
    return compressed


def encode_value(value: Any, encoding: str, settings: Settings) -> tuple[int, bytes]:
    """Return ``(RDB type, body)`` of a value stored with ``encoding`` (its ``OBJECT ENCODING``)."""
    kind = type(value)
    compress = settings.compress
    if kind is bytes:
        return TYPE_STRING, encode_string(value, compress)
    if kind is deque:
        nodes = quicklist_nodes(value, settings.list_fill)
        parts = [encode_length(len(nodes))]
        depth = settings.list_compress_depth
        inner = range(depth, len(nodes) - depth) if depth and len(nodes) >= 2 * depth else range(0)
        for index, (container, data) in enumerate(nodes):
            parts.append(encode_length(container))
            compressed = _compressed_node(data) if index in inner and container == _QUICKLIST_NODE_PACKED else None
            if compressed is not None:  # a node list-compress-depth keeps compressed is saved as it is
                parts.append(encode_lzf_blob(compressed, len(data)))
            else:
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
    if kind is Stream:
        return TYPE_STREAM_LISTPACKS_2, encode_stream(value, compress)
    dump = getattr(value, "dump", None)
    name = type_name(value)
    if dump is None or name == "none":
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


class UnknownStructureError(RdbFormatError):
    """A custom structure whose class is not added to the engine: its data cannot be loaded."""


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
        if len(flat) % 2:
            raise reader.fail("hash with an odd number of entries", at)
        value = dict(zip(flat[::2], flat[1::2]))  # noqa: B905  (the length is even)
        if len(value) * 2 != len(flat):
            raise reader.fail("duplicate hash fields", at)
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
        return decode_stream(reader, kind == TYPE_STREAM_LISTPACKS_2)  # (an empty stream is still a key)
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
        raise UnknownStructureError(
            reader.base + start, f"unknown structure type '{structure_name}': add the structure to this engine first"
        )
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
