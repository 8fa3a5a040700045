"""Snapshots: the whole dataset as commands that rebuild it, checksummed.

A snapshot file is a fixed-width header line, a body of records (see
:mod:`.records`) and nothing else::

    REDPOCKET-SNAPSHOT 1 <body length, 20 digits> <CRC-32 of the body, 8 hex digits>\\r\\n
    SELECT 0
    FUNCTION LOAD REPLACE code   (one per function library)
    SET k v / RPUSH k a b ... / HSET / SADD / ZADD / REDPOCKET.RESTORE k type payload
    XADD k id f v ... / XSETID / XGROUP CREATE / XCLAIM ... (a stream, as Redis rewrites one)
    PEXPIREAT k ms
    ...

No pickle: the body is plain commands, loaded through the engine's own
dispatch, so a snapshot can only do what a client could.  Custom
:class:`~redpocket.engine.structures.Structure` values are stored as the
bytes their ``dump()`` returns and rebuilt with their ``load()``.

The append-only file's rewrite starts with a snapshot too (Redis's "RDB
preamble"): :func:`split_snapshot` finds where it ends and the command tail
begins.

Taking a snapshot has two halves.  :func:`capture` runs under the engine
lock and copies every value (containers are copied, structures dumped), so
clients wait only for the copy; :func:`write_snapshot` encodes and writes
the copy in any thread.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from ..keyspace import now_ms, type_name
from ..types.stream import Stream, format_id
from .records import CorruptFileError, TruncatedRecord, encode, parse_records

if TYPE_CHECKING:
    from ..engine import Engine

MAGIC: Final = b"REDPOCKET-SNAPSHOT"
VERSION: Final = 1
HEADER_LENGTH: Final = len(MAGIC) + 1 + 1 + 1 + 20 + 1 + 8 + 2
ITEMS_PER_COMMAND: Final = 64  # Redis's AOF_REWRITE_ITEMS_PER_CMD
RESTORE_COMMAND: Final = b"REDPOCKET.RESTORE"

# Tags of captured values.
STRING, HASH, LIST, SET, ZSET, STREAM, CUSTOM = "string", "hash", "list", "set", "zset", "stream", "custom"


@dataclass(slots=True)
class Capture:
    """A copy of the dataset taken at one instant, ready to be written by another thread."""

    taken: float
    dirty: int
    # db index -> [(key, tag, value copy, absolute expiry in ms or None)]
    databases: list[tuple[int, list[tuple[bytes, str, Any, int | None]]]] = field(default_factory=list)
    # The code of every function library (FUNCTION LOAD), rebuilt before the keys.
    functions: list[bytes] = field(default_factory=list)

    @property
    def keys(self) -> int:
        """Return how many keys the capture holds."""
        return sum(len(entries) for _index, entries in self.databases)


def copy_value(value: Any) -> tuple[str, Any]:
    """Return ``(tag, copy)`` of a stored value, safe to read while the engine goes on writing."""
    kind = type(value)
    if kind is bytes:
        return STRING, value
    if kind is dict:
        return HASH, value.copy()
    if kind is deque:
        return LIST, value.copy()
    if kind is set:
        return SET, value.copy()
    name = type_name(value)
    if name == "zset":
        return ZSET, [(member, score) for member, score in value]
    if kind is Stream:
        return STREAM, value.copy()
    dump = getattr(value, "dump", None)
    if dump is None:
        raise TypeError(f"cannot persist a value of type {kind.__name__}: it has no dump() method")
    payload = dump()
    if not isinstance(payload, bytes):
        raise TypeError(f"{kind.__name__}.dump() returned {type(payload).__name__}, not bytes")
    return CUSTOM, (name.encode(), payload)


def capture(engine: Engine) -> Capture:
    """Copy the dataset (taking the engine lock); logically expired keys are left out."""
    with engine.lock:
        now = now_ms()
        result = Capture(taken=time.time(), dirty=engine.dirty, functions=library_codes(engine))
        for db in engine.databases:
            if not db.data:
                continue
            expires = db.expires
            entries = []
            for key, value in db.data.items():
                when = expires.get(key) if expires else None
                if when is not None and when <= now:
                    continue
                tag, copy = copy_value(value)
                entries.append((key, tag, copy, when))
            if entries:
                result.databases.append((db.index, entries))
        return result


def library_codes(engine: Engine) -> list[bytes]:
    """Return the code of every function library the engine holds (see :mod:`..functions`)."""
    store = engine.extensions.get("functions")
    return [library.code for library in store.libraries.values()] if store is not None else []


def _chunks(items: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(items), ITEMS_PER_COMMAND * 2):
        yield items[start : start + ITEMS_PER_COMMAND * 2]


def value_commands(key: bytes, tag: str, value: Any) -> Iterator[list[bytes]]:
    """Yield the commands that rebuild one captured value at ``key``."""
    if tag == STRING:
        yield [b"SET", key, value]
    elif tag == HASH:
        flat = [item for pair in value.items() for item in pair]
        for chunk in _chunks(flat):
            yield [b"HSET", key, *chunk]
    elif tag == LIST:
        items = list(value)
        for start in range(0, len(items), ITEMS_PER_COMMAND):
            yield [b"RPUSH", key, *items[start : start + ITEMS_PER_COMMAND]]
    elif tag == SET:
        members = list(value)
        for start in range(0, len(members), ITEMS_PER_COMMAND):
            yield [b"SADD", key, *members[start : start + ITEMS_PER_COMMAND]]
    elif tag == ZSET:
        flat = [item for member, score in value for item in (format_score(score), member)]
        for chunk in _chunks(flat):
            yield [b"ZADD", key, *chunk]
    elif tag == STREAM:
        yield from stream_commands(key, value)
    elif tag == CUSTOM:
        name, payload = value
        yield [RESTORE_COMMAND, key, name, payload]
    else:  # pragma: no cover - capture() makes only the tags above
        raise ValueError(f"unknown value tag {tag!r}")


def stream_commands(key: bytes, stream: Stream) -> Iterator[list[bytes]]:
    """Yield the commands that rebuild a stream, as Redis's ``rewriteStreamObject`` writes them.

    Its entries (XADD with their IDs), its counters (XSETID), each group
    (XGROUP CREATE with its read counter), each pending entry with its
    owner, delivery time and count (XCLAIM ... FORCE JUSTID) and each
    consumer with nothing pending (XGROUP CREATECONSUMER).
    """
    if len(stream):
        for stream_id, fields in stream.range((0, 0), (2**64 - 1, 2**64 - 1)):
            yield [b"XADD", key, format_id(stream_id), *fields]
    else:
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [b"XSETID", key, format_id(stream.last_id), b"ENTRIESADDED", b"%d" % stream.entries_added,
           b"MAXDELETEDID", format_id(stream.max_deleted_id)]
    for name, group in stream.groups.items():
        yield [b"XGROUP", b"CREATE", key, name, format_id(group.last_id), b"ENTRIESREAD", b"%d" % group.entries_read]
        for consumer_name, consumer in group.consumers.items():
            if not consumer.pending:
                yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer_name]
                continue
            for stream_id, nack in consumer.pending.items():
                yield [b"XCLAIM", key, name, consumer_name, b"0", format_id(stream_id), b"TIME",
                       b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count, b"JUSTID", b"FORCE"]


def format_score(score: float) -> bytes:
    """Return a sorted-set score as text that parses back to the same double."""
    return repr(float(score)).encode()


def dataset_commands(captured: Capture) -> Iterator[list[bytes]]:
    """Yield the commands that rebuild a whole capture: the function libraries, then database by database."""
    for code in captured.functions:
        yield [b"FUNCTION", b"LOAD", b"REPLACE", code]
    for index, entries in captured.databases:
        yield [b"SELECT", b"%d" % index]
        for key, tag, value, when in entries:
            yield from value_commands(key, tag, value)
            if when is not None:
                yield [b"PEXPIREAT", key, b"%d" % when]


def write_snapshot_to(handle: IO[bytes], captured: Capture) -> int:
    """Write a snapshot of ``captured`` at the position of ``handle``; return its length in bytes.

    ``handle`` must be seekable: the header is written last, once the body's
    length and checksum are known.
    """
    start = handle.tell()
    handle.write(b"\0" * HEADER_LENGTH)
    crc = 0
    length = 0
    pending: list[bytes] = []
    pending_size = 0
    for argv in dataset_commands(captured):
        record = encode(argv)
        pending.append(record)
        pending_size += len(record)
        if pending_size >= 1 << 20:
            block = b"".join(pending)
            handle.write(block)
            crc = zlib.crc32(block, crc)
            length += len(block)
            pending, pending_size = [], 0
    if pending:
        block = b"".join(pending)
        handle.write(block)
        crc = zlib.crc32(block, crc)
        length += len(block)
    end = handle.tell()
    handle.seek(start)
    handle.write(b"%s %d %020d %08x\r\n" % (MAGIC, VERSION, length, crc))
    handle.seek(end)
    return end - start


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_snapshot(path: Path, captured: Capture) -> None:
    """Write ``captured`` to ``path`` atomically: a temporary file, fsync, rename, fsync the directory."""
    temporary = path.with_name(f"temp-{os.getpid()}-{time.monotonic_ns()}.{path.name}")
    try:
        with open(temporary, "wb") as handle:
            write_snapshot_to(handle, captured)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def split_snapshot(data: Any, path: str) -> tuple[int, int] | None:
    """Check the snapshot at the start of ``data``; return ``(body_start, body_end)``, or ``None`` if there is none.

    Raise :class:`CorruptFileError` for an unknown version, a body shorter
    than its header says or a checksum that does not match.
    """
    if data[: len(MAGIC)] != MAGIC:
        return None
    header = bytes(data[:HEADER_LENGTH])
    fields = header[len(MAGIC) :].split()
    if len(fields) != 3 or not header.endswith(b"\r\n") or not fields[0].isdigit() or not fields[1].isdigit():
        raise CorruptFileError(path, 0, f"malformed snapshot header {header!r}")
    if int(fields[0]) != VERSION:
        raise CorruptFileError(path, 0, f"snapshot format version {int(fields[0])} (this engine reads {VERSION})")
    length = int(fields[1])
    try:
        expected = int(fields[2], 16)
    except ValueError:
        raise CorruptFileError(path, 0, f"malformed snapshot checksum {fields[2]!r}") from None
    body_end = HEADER_LENGTH + length
    if len(data) < body_end:
        raise CorruptFileError(path, len(data), f"the snapshot ends {body_end - len(data)} bytes early")
    if zlib.crc32(data[HEADER_LENGTH:body_end]) != expected:
        raise CorruptFileError(path, HEADER_LENGTH, "the snapshot's checksum does not match its contents")
    return HEADER_LENGTH, body_end


def snapshot_records(data: Any, path: str) -> tuple[Iterator[tuple[int, list[bytes]]], int]:
    """Return the records of the (checked) snapshot at the start of ``data`` and the offset after it."""
    bounds = split_snapshot(data, path)
    if bounds is None:
        raise CorruptFileError(path, 0, f"not a snapshot (it does not start with {MAGIC.decode()})")
    start, end = bounds

    def records() -> Iterator[tuple[int, list[bytes]]]:
        try:
            for offset, _end, argv in parse_records(data, start, path, stop=end):
                yield offset, argv
        except TruncatedRecord as cut:
            raise CorruptFileError(path, cut.offset, "a command runs past the end of the snapshot") from None

    return records(), end
