"""Commands as records on disk: RESP arrays of bulk strings, and their replay.

Both files the engine writes hold this format: the append-only file is a
stream of records, a snapshot is a header, records and a checksummed end
record.  :func:`parse_records` reads them back strictly; it tells a record
cut short by the end of the data (a crash mid-write) from bytes that are
simply wrong, and names the offset of either.  :func:`replay` executes
records through the engine's own dispatch, so loading a file runs the very
code that produced it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..replies import ReplyError

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("redpocket.persistence")

# A count or a length longer than this is not a number the engine wrote.
_MAX_DIGITS = 19


class PersistenceError(Exception):
    """A persistence file or directory the engine cannot use."""


class CorruptFileError(PersistenceError):
    """A persistence file whose bytes are wrong at ``offset`` (not merely cut short at the end)."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(
            f"{path} is corrupt at offset {offset}: {reason}; "
            "the engine refuses to start rather than lose what follows (repair or move the file)"
        )


class TruncatedRecord(Exception):
    """The data ends inside the record starting at ``offset``."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def encode(argv: Iterable[bytes]) -> bytes:
    """Return one command as a RESP array of bulk strings."""
    items = argv if isinstance(argv, list) else list(argv)
    return b"*%d\r\n" % len(items) + b"".join([b"$%d\r\n%b\r\n" % (len(item), item) for item in items])


_CUT_LINE = re.compile(rb"[0-9]*\r?")


def _read_number(data: Any, pos: int, end: int, marker: bytes, path: str, record_start: int) -> tuple[int, int]:
    """Read ``<marker><digits>CRLF`` at ``pos``; return the number and the position after it."""
    if pos >= end:
        raise TruncatedRecord(record_start)
    if data[pos : pos + 1] != marker:
        raise CorruptFileError(path, pos, f"expected {marker.decode()!r}, found {bytes(data[pos : pos + 1])!r}")
    limit = min(end, pos + 3 + _MAX_DIGITS)
    line_end = data.find(b"\r\n", pos + 1, limit)
    if line_end < 0:
        if limit == end and _CUT_LINE.fullmatch(bytes(data[pos + 1 : end])):
            raise TruncatedRecord(record_start)  # the end of the data cut the line short
        raise CorruptFileError(path, pos, f"malformed {marker.decode()!r} line")
    digits = bytes(data[pos + 1 : line_end])
    if not digits.isdigit():
        raise CorruptFileError(path, pos, f"malformed {marker.decode()!r} line {digits!r}")
    return int(digits), line_end + 2


def parse_records(
    data: Any, start: int = 0, path: str = "<data>", stop: int | None = None
) -> Iterator[tuple[int, int, list[bytes]]]:
    """Yield ``(offset, end, argv)`` for each record of ``data`` (bytes or an mmap) between ``start`` and ``stop``.

    Raise :class:`TruncatedRecord` when the data ends inside a record and
    :class:`CorruptFileError` when bytes are wrong, both naming the offset.
    """
    pos = start
    end = len(data) if stop is None else stop
    while pos < end:
        record_start = pos
        count, pos = _read_number(data, pos, end, b"*", path, record_start)
        if count < 1:
            raise CorruptFileError(path, record_start, "empty command")
        argv: list[bytes] = []
        for _ in range(count):
            length, pos = _read_number(data, pos, end, b"$", path, record_start)
            stop = pos + length
            if stop + 2 > end:
                if not b"\r\n".startswith(bytes(data[stop:end])):
                    raise CorruptFileError(path, stop, "bulk string not followed by CRLF")
                raise TruncatedRecord(record_start)
            if data[stop : stop + 2] != b"\r\n":
                raise CorruptFileError(path, stop, "bulk string not followed by CRLF")
            argv.append(bytes(data[pos:stop]))
            pos = stop + 2
        yield record_start, pos, argv


class RecordStream:
    """The committed commands of a record file: a transaction cut short at the end is left out.

    Iterate it for ``(offset, argv)`` pairs; afterwards ``valid_end`` is the
    offset just past the last complete record (or complete ``MULTI`` ...
    ``EXEC`` block) and ``dropped_at`` the offset where an incomplete tail
    began (``None`` when the data ended cleanly).  With ``tolerate_truncation``
    false an incomplete tail is a :class:`CorruptFileError` instead.
    """

    def __init__(self, data: Any, start: int, path: str, tolerate_truncation: bool = True) -> None:
        self.data = data
        self.start = start
        self.path = path
        self.tolerate_truncation = tolerate_truncation
        self.valid_end = start
        self.dropped_at: int | None = None

    def __iter__(self) -> Iterator[tuple[int, list[bytes]]]:
        transaction: list[tuple[int, list[bytes]]] | None = None
        transaction_start = 0
        try:
            for offset, end, argv in parse_records(self.data, self.start, self.path):
                name = argv[0].lower() if len(argv) == 1 else b""
                if name == b"multi":
                    if transaction is not None:
                        raise CorruptFileError(self.path, offset, "MULTI inside MULTI")
                    transaction, transaction_start = [], offset
                elif name == b"exec":
                    if transaction is None:
                        raise CorruptFileError(self.path, offset, "EXEC without MULTI")
                    yield from transaction
                    transaction = None
                    self.valid_end = end
                elif transaction is not None:
                    transaction.append((offset, argv))
                else:
                    yield offset, argv
                    self.valid_end = end
        except TruncatedRecord as cut:
            self._truncated(transaction_start if transaction is not None else cut.offset)
            return
        if transaction is not None:
            self._truncated(transaction_start)

    def _truncated(self, offset: int) -> None:
        if not self.tolerate_truncation:
            raise CorruptFileError(self.path, offset, "the file ends inside a command")
        self.dropped_at = offset
        log.warning(
            "%s: the last command (at offset %d, %d bytes) was cut short, probably by a crash: dropped",
            self.path, offset, len(self.data) - offset,
        )


def replay(engine: Engine, records: Iterable[tuple[int, list[bytes]]], path: str) -> int:
    """Execute ``records`` in ``engine`` on a loading session; return how many ran.

    ``records`` come from a :class:`RecordStream`, which has already taken
    the ``MULTI`` and ``EXEC`` markers out (loading is single-threaded, so a
    transaction's commands run together anyway).  A command the engine
    does not know stops the load; an error reply is logged and loading goes on,
    as Redis does.
    """
    session = engine.session("persistence-loader")
    executed = 0
    try:
        for offset, argv in records:
            if argv[0].lower() not in engine.commands:
                raise PersistenceError(
                    f"{path}: unknown command {argv[0].decode('utf-8', 'replace')!r} at offset {offset}; "
                    "add the structures this data was written with before opening it"
                )
            reply = engine.execute(session, argv)
            if type(reply) is ReplyError:
                if argv[0].upper() == b"REDPOCKET.RESTORE":  # a structure missing: its data would be lost
                    raise PersistenceError(f"{path}: {reply.message.removeprefix('ERR ')} (at offset {offset})")
                log.warning("%s: %s at offset %d replied %s", path, argv[0].decode("utf-8", "replace"),
                            offset, reply.message)
            executed += 1
    finally:
        session.close()
    return executed
