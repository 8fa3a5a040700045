"""RDB files: capture a dataset, write it as ``dump.rdb``, load a ``dump.rdb`` fast.

A file is the magic ``REDIS0010``, AUX fields (``redis-ver``, ``redis-bits``,
``ctime``, ``used-mem``, ``aof-base``), function libraries (``FUNCTION2``),
then per non-empty database ``SELECTDB`` and ``RESIZEDB`` followed by its
keys (``EXPIRETIME_MS``, ``IDLE`` / ``FREQ`` under an LRU / LFU policy, the
value type, the key, the value: see :mod:`.rdb`), ``EOF`` and the CRC-64
of everything before it (0 under ``rdbchecksum no``).

Saving in the background has two halves, as snapshots always had here:
:func:`capture` runs under the engine lock and copies the containers
(strings are immutable, structures are dumped), :func:`write_capture`
encodes and writes the copy in any thread.  :func:`load_rdb` reads a file
written by redis-server 7.0 or by this engine; short string keys and values
(nearly every key of a typical dataset) are decoded inline.

Function libraries (:mod:`..functions`) are saved and loaded with the
data, as Redis's ``FUNCTION2`` opcode: their code.
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final, NamedTuple

from ..functions import functions
from ..keyspace import type_name
from ..replies import ReplyError
from ..types.stream import Stream
from ..types.zset import ZSet
from .rdb import (
    OPCODE_AUX,
    OPCODE_EOF,
    OPCODE_EXPIRETIME,
    OPCODE_EXPIRETIME_MS,
    OPCODE_FREQ,
    OPCODE_FUNCTION,
    OPCODE_FUNCTION2,
    OPCODE_IDLE,
    OPCODE_MODULE_AUX,
    OPCODE_RESIZEDB,
    OPCODE_SELECTDB,
    RDB_VERSION,
    REDIS_VERSION,
    TYPE_MODULE_2,
    EmptyValue,
    Settings,
    Structures,
    UnknownStructureError,
    UnsupportedValueError,
    decode_value,
    encode_structure,
    encode_value,
    encoding_of,
    module_name,
    structure_version,
)
from .rdb_primitives import RdbFormatError, Reader, crc64, encode_length, encode_millisecond_time, encode_string
from .records import CorruptFileError, PersistenceError

if TYPE_CHECKING:
    from ..engine import Engine


# -- capturing and writing --------------------------------------------------------------------------------------------


class Entry(NamedTuple):
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


def copy_for_save(value: Any) -> Any:
    """Return a copy of a stored value that stays valid while the engine goes on writing."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is dict or kind is deque or kind is set or kind is ZSet or kind is Stream:
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


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector: a save or load makes up to millions of containers and no cycles,
    and each automatic collection would rescan all of them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def capture(engine: Engine) -> Capture:
    """Copy the dataset for a background save (the caller holds the engine lock); expired keys are left out."""
    with without_cycle_collection():
        return _capture(engine)


def _capture(engine: Engine) -> Capture:
    from ..keyspace import now_ms

    now = now_ms()
    policy = engine.config.get("maxmemory-policy")
    result = Capture(taken=time.time(), dirty=engine.dirty, settings=Settings.of(engine.config),
                     lru="lru" in policy, lfu="lfu" in policy)
    libraries = engine.extensions.get("functions")  # (functions.py keeps them there once any is loaded)
    if libraries is not None:
        result.functions = libraries.codes()
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


_SHORT_STRINGS: Final = [bytes((length,)) for length in range(64)]
_DIGIT_STARTS: Final = frozenset(bytes((char,)) for char in b"-0123456789")


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
        pending = self._pending
        compress = settings.compress
        hint = b"\xf8\x00" if lru else b"\xf9\x00" if lfu else b""  # no access times or counters are kept
        short = _SHORT_STRINGS
        size = 0
        for key, value, encoding, expires in entries:
            # Keys and small values are nearly always short strings that are not integers: encoded inline.
            length = len(key)
            if length < 64 and (length > 11 or key[:1] not in _DIGIT_STARTS):
                key_bytes = short[length] + key
            else:
                key_bytes = encode_string(key, compress)
            if type(value) is bytes:
                length = len(value)
                if length < 21 and (length > 11 or value[:1] not in _DIGIT_STARTS):
                    record = b"\x00" + key_bytes + short[length] + value
                else:
                    record = b"\x00" + key_bytes + encode_string(value, compress)
            else:
                if type(value) is _DumpedStructure:
                    kind, body = TYPE_MODULE_2, encode_structure(value.name, value.version, value.payload, settings)
                else:
                    kind, body = encode_value(value, encoding, settings)
                record = bytes((kind,)) + key_bytes + body
            if expires is not None:
                record = b"\xfc" + encode_millisecond_time(expires) + hint + record
            elif hint:
                record = hint + record
            pending.append(record)
            size += len(record)
            if size >= 1 << 20:
                self._pending_size += size
                size = 0
                self.flush()
                pending = self._pending
        self._pending_size += size

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
    with without_cycle_collection():
        return _write_capture(handle, captured, checksum, aof_base)


def _write_capture(handle: IO[bytes], captured: Capture, checksum: bool, aof_base: bool) -> int:
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


def load_rdb(
    engine: Engine, data: Any, now: int | None = None, *, verify_checksum: bool = True, trailing: bool = False
) -> LoadStats:
    """Load an RDB file's ``data`` into ``engine``'s (empty) databases; raise :class:`RdbFormatError` on bad bytes.

    Keys already expired at ``now`` (ms; default: the current time) are
    skipped, as a Redis master does; values with no elements are skipped
    too.  A key present twice is an error.  The checksum is checked at the
    end (unless it is 0: written with ``rdbchecksum no``); on any error the
    databases are emptied again, so a bad file loads nothing.  ``data`` is
    bytes or an mmap; with ``trailing`` it may go on after the RDB (an
    append-only file's commands after its RDB preamble): ``end`` says where.
    """
    from ..keyspace import now_ms

    try:
        with without_cycle_collection():
            stats = _load(engine, data, now_ms() if now is None else now)
        if stats.end != len(data) and not trailing:
            raise RdbFormatError(stats.end, "unexpected data after the end of the RDB file")
        if stats.version >= 5 and verify_checksum:
            stored = int.from_bytes(data[stats.end - 8 : stats.end], "little")
            if stored and crc64(memoryview(data)[: stats.end - 8]) != stored:
                raise RdbFormatError(stats.end - 8, "RDB CRC error: the checksum does not match the contents")
        for db in engine.databases:
            db.recount()  # (the loader stores into the dicts directly: count what it stored once)
        return stats
    except BaseException:
        for db in engine.databases:
            db.data.clear()
            db.expires.clear()
            db.recount()
        raise



def load_rdb_data(engine: Engine, data: Any, path: str, *, trailing: bool = False) -> LoadStats:
    """Load RDB ``data`` read from ``path``; report bad bytes as :class:`CorruptFileError` with the offset."""
    try:
        return load_rdb(engine, data, trailing=trailing)
    except UnknownStructureError as error:
        raise PersistenceError(f"{path}: {error.reason} (at offset {error.offset})") from None
    except RdbFormatError as error:
        raise CorruptFileError(path, error.offset, error.reason) from None


def _load(engine: Engine, data: Any, now: int) -> LoadStats:
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
    read_string = reader.read_string
    from_bytes = int.from_bytes
    structures: Structures = engine.extensions.get("structures", {})
    databases = engine.databases
    db = databases[0]
    dbdata, dbexpires = db.data, db.expires
    expires_at: int | None = None
    keys = 0
    pos = 9
    try:
        while True:
            start = pos
            kind = data[pos]
            pos += 1
            if kind == 0:
                # A string: short verbatim keys and values, and integer values, are decoded inline.
                length = data[pos]
                if length < 64:
                    key = data[pos + 1 : pos + 1 + length]
                    pos += 1 + length
                else:
                    reader.pos = pos
                    key = read_string()
                    pos = reader.pos
                length = data[pos]
                if length < 64:
                    value = data[pos + 1 : pos + 1 + length]
                    pos += 1 + length
                elif length == 0xC0:
                    value = b"%d" % from_bytes(data[pos + 1 : pos + 2], "little", signed=True)
                    pos += 2
                elif length == 0xC1:
                    value = b"%d" % from_bytes(data[pos + 1 : pos + 3], "little", signed=True)
                    pos += 3
                elif length == 0xC2:
                    value = b"%d" % from_bytes(data[pos + 1 : pos + 5], "little", signed=True)
                    pos += 5
                else:
                    reader.pos = pos
                    value = read_string()
                    pos = reader.pos
                if pos > size:
                    raise RdbFormatError(start, "unexpected end of data (inside a key)")
            elif kind < OPCODE_FUNCTION2:
                reader.pos = pos
                key = read_string()
                try:
                    value = decode_value(kind, reader, structures)
                except EmptyValue:
                    stats.empty += 1
                    expires_at = None
                    pos = reader.pos
                    continue
                pos = reader.pos
            else:
                reader.pos = pos
                if kind == OPCODE_EXPIRETIME_MS:
                    expires_at = reader.read_millisecond_time()
                elif kind == OPCODE_EXPIRETIME:
                    expires_at = reader.read_second_time() * 1000
                elif kind == OPCODE_SELECTDB:
                    index = reader.read_length()
                    if index >= len(databases):
                        raise reader.fail(f"database {index} (this engine has {len(databases)})", pos)
                    db = databases[index]
                    dbdata, dbexpires = db.data, db.expires
                elif kind == OPCODE_RESIZEDB:
                    reader.read_length()
                    reader.read_length()
                elif kind == OPCODE_AUX:
                    name = read_string()
                    stats.aux[name] = read_string()
                elif kind == OPCODE_IDLE:
                    reader.read_length()
                elif kind == OPCODE_FREQ:
                    reader.byte()
                elif kind == OPCODE_EOF:
                    break
                elif kind == OPCODE_FUNCTION2:
                    code = read_string()
                    try:
                        functions(engine).create(code, replace=False)
                    except ReplyError as error:
                        raise reader.fail(f"cannot load a function library: {error.message}", start) from None
                elif kind == OPCODE_FUNCTION:
                    raise reader.fail("function data of Redis 7.0 release candidates is not supported", start)
                elif kind == OPCODE_MODULE_AUX:
                    identifier = reader.read_length()
                    raise reader.fail(f"module AUX data I can't load: no matching module '{module_name(identifier)}'",
                                      start)
                else:
                    raise reader.fail(f"unknown RDB value type or opcode {kind}", start)
                pos = reader.pos
                continue
            if expires_at is not None:
                if expires_at < now:
                    stats.expired += 1
                    expires_at = None
                    continue
                dbexpires[key] = expires_at
                expires_at = None
            before = len(dbdata)
            dbdata[key] = value
            if len(dbdata) == before:
                raise RdbFormatError(start, f"duplicated key {key!r} in database {db.index}")
            keys += 1
    except IndexError:
        raise RdbFormatError(size, "unexpected end of data") from None
    stats.keys = keys
    stats.end = reader.pos + (8 if version >= 5 else 0)
    if stats.end > size:
        raise RdbFormatError(reader.pos, "unexpected end of data (the checksum is cut short)")
    return stats
