"""The append-only file: the stream of executed write commands, normalised.

:meth:`AppendOnlyFile.propagate` is an engine propagator: it runs inside
every write command that changed data, under the engine lock, turns the
command into deterministic ones (:mod:`.normalize`), puts a ``SELECT`` in
front when the database changes, and writes the records to the file before
the command returns.  ``appendfsync`` decides when they reach the disk:

==========  ===================================================================
``always``  fsync inside the command: a client never hears of a write the disk lacks
``everysec``  fsync once a second by the persistence ticker (at most a second lost)
``no``      the operating system decides
==========  ===================================================================

A process crash loses nothing under any policy (the bytes are in the OS
already); only an OS crash or power cut can lose the last second under
``everysec``.

Commands that run other commands atomically (EXEC, scripts, procedures)
open an *atomic section* (:meth:`begin_atomic` / :meth:`end_atomic`); their
writes are written at the end in one piece, inside ``MULTI`` ... ``EXEC``
when there is more than one, so a crash never leaves half a transaction
that loading would apply.

The rewrite (``BGREWRITEAOF``, or automatic when the file has grown by
``auto-aof-rewrite-percentage`` over ``auto-aof-rewrite-min-size``) copies
the dataset under the lock, writes it as an RDB preamble (Redis's
``aof-use-rdb-preamble yes``: loading it is fast) in a thread while new
commands are also kept in memory, appends those, and renames the result
over the file.  Loading (:func:`load_append_only_file`) drops a command cut
short at the end, with a warning, and refuses anything else malformed.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..replies import ReplyError
from . import rdb_file, snapshot
from .normalize import Normalizer, normalize
from .records import RecordStream, encode, replay

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session
    from .aof_manifest import AofDirectory

log = logging.getLogger("redpocket.persistence")

_fsync = getattr(os, "fdatasync", os.fsync)
_MULTI = encode([b"MULTI"])
_EXEC = encode([b"EXEC"])


class _Abandoned(Exception):
    """A rewrite stopped because the file is being closed."""


class LoadResult:
    """What loading a file found: commands run, where the valid data ends, what was dropped."""

    __slots__ = ("commands", "dropped_at", "size", "valid_end")

    def __init__(self, commands: int, valid_end: int, dropped_at: int | None, size: int) -> None:
        self.commands = commands
        self.valid_end = valid_end
        self.dropped_at = dropped_at
        self.size = size


def map_file(path: Path) -> tuple[Any, Any]:
    """Return ``(data, closer)`` for reading ``path`` as bytes without copying it into memory."""
    handle = open(path, "rb")  # noqa: SIM115  (closed below; the mapping outlives it)
    try:
        if os.fstat(handle.fileno()).st_size == 0:
            handle.close()
            return b"", None
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        handle.close()
        raise
    handle.close()
    return data, data


def load_append_only_file(engine: Engine, path: Path) -> LoadResult:
    """Replay the file at ``path`` into ``engine``: its snapshot preamble (if any), then its commands.

    A command (or transaction) cut short at the end is dropped with a
    warning; :class:`~.records.CorruptFileError` names the offset of anything
    else wrong.  The caller truncates the file to ``valid_end`` before
    appending to it again.
    """
    data, closer = map_file(path)
    try:
        name = str(path)
        start = 0
        commands = 0
        if rdb_file.is_rdb(data):
            stats = rdb_file.load_rdb_data(engine, data, name, trailing=True)
            start = stats.end
            commands += stats.keys
        elif snapshot.split_snapshot(data, name) is not None:  # the preamble of older versions
            records, start = snapshot.snapshot_records(data, name)
            commands += replay(engine, records, name)
        stream = RecordStream(data, start, name)
        commands += replay(engine, stream, name)
        return LoadResult(commands, stream.valid_end, stream.dropped_at, len(data))
    finally:
        if closer is not None:
            closer.close()


class AppendOnlyFile:
    """The append-only file of one engine, open for appending."""

    def __init__(self, engine: Engine, path: Path, layout: AofDirectory | None = None) -> None:
        self.engine = engine
        self.path = path  # the file appended to; a rewrite moves it to the new base when there is a layout
        self.layout = layout
        self.fd: int | None = None
        self.size = 0
        self.base_size = 0  # the size after the last rewrite (or at start): auto-rewrite grows from it
        self.selected_db = -1  # the database the file's last records ran in (-1: unknown, SELECT first)
        self.normalizers: dict[bytes, Normalizer] = engine.extensions.setdefault("normalizers", {})
        self._io_lock = threading.Lock()  # guards fd changes against the fsync in the ticker thread
        self._unsynced = False
        self._retired: list[int] = []
        self._pending = bytearray()  # bytes a failed write left behind, retried before anything else
        self._atomic_depth = 0
        self._atomic_chunks: list[bytes] = []
        self._atomic_commands = 0
        self._rewrite_buffer: list[bytes] | None = None
        self._rewrite_requested = False
        self.rewrite_thread: threading.Thread | None = None
        self._abandon = False  # set by close(): a rewrite in progress gives up instead of waiting for the lock
        self.last_write_error: OSError | None = None
        self.last_fsync = time.monotonic()
        self.rewrites = 0
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1.0

    # -- opening and closing ------------------------------------------------------
    def open(self, valid_end: int | None = None) -> None:
        """Open the file for appending, cutting off a dropped tail first (``valid_end``)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(fd).st_size
        if valid_end is not None and valid_end < size:
            log.warning("%s: truncating from %d to %d bytes (the cut-short tail)", self.path, size, valid_end)
            os.ftruncate(fd, valid_end)
            os.fsync(fd)
            size = valid_end
        self.fd = fd
        self.size = self.base_size = size

    def close(self) -> None:
        """Write what is pending, fsync and close the file; a running rewrite is abandoned."""
        self._abandon = True
        thread = self.rewrite_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self.engine.lock:
            if self._pending and self.fd is not None:
                try:
                    self._write_pending()
                except OSError as error:
                    log.error("%s: could not write the last %d bytes: %s", self.path, len(self._pending), error)
            with self._io_lock:
                fds = [*self._retired, *([self.fd] if self.fd is not None else [])]
                self._retired = []
                self.fd = None
            for fd in fds:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- logging commands ------------------------------------------------------------
    def propagate(self, session: Session | None, db_index: int, argv: list[bytes], reply: Any) -> None:
        """Log one executed write command (an engine propagator)."""
        db = self.engine.databases[db_index]
        chunks = []
        recorded = session.propagated if session is not None else None
        if recorded is not None and recorded[0] is argv:  # (the handler said what it propagates; Engine.call clears it)
            commands = recorded[1]
        else:
            commands = normalize(db, argv, reply, self.normalizers)
        for command in commands:
            if db_index != self.selected_db:
                chunks.append(encode([b"SELECT", b"%d" % db_index]))
                self.selected_db = db_index
            chunks.append(encode(command))
            self._atomic_commands += 1
        if not chunks:
            return
        if self._atomic_depth:
            self._atomic_chunks.extend(chunks)
            return
        self._atomic_commands = 0
        self.emit(b"".join(chunks))

    def begin_atomic(self) -> None:
        """Start a section whose writes reach the file together (EXEC, a script, a procedure)."""
        if not self._atomic_depth:
            self._atomic_commands = 0
        self._atomic_depth += 1

    def end_atomic(self) -> None:
        """End an atomic section: write its commands, in ``MULTI`` ... ``EXEC`` when there are several."""
        self._atomic_depth -= 1
        if self._atomic_depth:
            return
        chunks, self._atomic_chunks = self._atomic_chunks, []
        count, self._atomic_commands = self._atomic_commands, 0
        if chunks:
            if count > 1:
                chunks = [_MULTI, *chunks, _EXEC]
            self.emit(b"".join(chunks))
        if self._rewrite_requested:
            self._rewrite_requested = False
            self.start_rewrite()

    def emit(self, data: bytes) -> None:
        """Append encoded records: to the rewrite buffer if a rewrite runs, and to the file."""
        if self._rewrite_buffer is not None:
            self._rewrite_buffer.append(data)
        fd = self.fd
        if fd is None:
            return
        try:
            if self._pending:
                self._pending += data
                self._write_pending()
            else:
                try:
                    written = os.write(fd, data)
                except OSError:
                    self._pending += data
                    raise
                self.size += written
                if written < len(data):
                    self._pending += data[written:]
                    self._write_pending()
            if self.engine.config.values["appendfsync"] == "always":
                _fsync(fd)
            else:
                self._unsynced = True
        except OSError as error:
            self.last_write_error = error
            log.error("%s: write failed (%s); %d bytes will be retried", self.path, error, len(self._pending))
            if self.engine.config.values["appendfsync"] == "always":
                raise ReplyError(f"MISCONF Errors writing to the AOF file: {error}") from None
            return
        self.last_write_error = None

    def _write_pending(self) -> None:
        assert self.fd is not None
        view = memoryview(self._pending)
        written = 0
        try:
            while written < len(view):
                written += os.write(self.fd, view[written:])
        finally:
            view.release()
            del self._pending[:written]
            self.size += written

    # -- the ticker's work --------------------------------------------------------------
    def fsync_if_needed(self, sync_current: bool = True) -> None:
        """fsync what was written since the last fsync (``everysec``) and close replaced files.

        Called by the ticker without the engine lock; ``sync_current`` false
        (``appendfsync no``) only settles the files a rewrite replaced.
        """
        with self._io_lock:
            fd = self.fd if self._unsynced and sync_current else None
            self._unsynced = False
            retired, self._retired = self._retired, []
        try:
            if fd is not None:
                _fsync(fd)
                self.last_fsync = time.monotonic()
        except OSError as error:
            log.error("%s: fsync failed: %s", self.path, error)
            with self._io_lock:
                self._unsynced = True
        for old in retired:
            try:
                os.fsync(old)
            except OSError as error:
                log.error("%s: fsync of the replaced file failed: %s", self.path, error)
            finally:
                os.close(old)

    def retry_pending(self) -> None:
        """Retry bytes a failed write left behind (takes the engine lock)."""
        if not self._pending:
            return
        with self.engine.lock:
            if self._pending and self.fd is not None:
                try:
                    self._write_pending()
                    self._unsynced = True
                    self.last_write_error = None
                except OSError as error:
                    self.last_write_error = error

    def should_rewrite(self) -> bool:
        """Tell whether the file has grown enough for an automatic rewrite."""
        config = self.engine.config
        percentage = int(config.values["auto-aof-rewrite-percentage"])
        if not percentage or self.rewriting or self.fd is None:
            return False
        if self.size < int(config.values["auto-aof-rewrite-min-size"]):
            return False
        base = self.base_size or 1
        return (self.size - base) * 100 // base >= percentage

    # -- rewriting ----------------------------------------------------------------------
    @property
    def rewriting(self) -> bool:
        """Tell whether a rewrite is running."""
        return self._rewrite_buffer is not None

    def start_rewrite(self) -> str:
        """Start a background rewrite; return ``"started"``, ``"scheduled"`` or ``"running"``."""
        with self.engine.lock:
            if self.rewriting:
                return "running"
            if self._atomic_depth:
                # The dataset already holds this section's writes, which are not
                # logged yet: copying it now would log them twice.
                self._rewrite_requested = True
                return "scheduled"
            captured = rdb_file.capture(self.engine)
            self._rewrite_buffer = []
            start_db = self.selected_db
            thread = threading.Thread(
                target=self._rewrite, args=(captured, start_db), name="redpocket-aof-rewrite", daemon=True
            )
            self.rewrite_thread = thread
            thread.start()
            return "started"

    def rewrite_now(self) -> None:
        """Rewrite in the calling thread (start-up, enabling the file): returns when the file is in place."""
        self.start_rewrite()
        thread = self.rewrite_thread
        if thread is not None:
            thread.join()

    def _acquire(self) -> None:
        """Take the engine lock for the rewrite thread, giving up if close() (maybe holding it) is waiting."""
        while not self.engine.lock.acquire(timeout=0.05):
            if self._abandon:
                raise _Abandoned
        if self._abandon:
            self.engine.lock.release()
            raise _Abandoned

    def _take_buffer(self) -> bytes:
        self._acquire()
        try:
            buffer = self._rewrite_buffer or []
            if self._rewrite_buffer is not None:
                self._rewrite_buffer = []
        finally:
            self.engine.lock.release()
        return b"".join(buffer)

    def _rewrite(self, captured: rdb_file.Capture, start_db: int) -> None:
        started = time.monotonic()
        target = self.layout.next_base() if self.layout is not None else self.path
        temporary = target.with_name(f"temp-rewriteaof-bg-{os.getpid()}.aof")
        try:
            with open(temporary, "wb") as handle:
                rdb_file.write_capture(handle, captured, self.engine.config.get("rdbchecksum") == "yes", aof_base=True)
                if start_db >= 0:
                    handle.write(encode([b"SELECT", b"%d" % start_db]))
                # Catch up without the lock while commands keep arriving.
                for _ in range(8):
                    block = self._take_buffer()
                    if len(block) < 1 << 16:
                        handle.write(block)
                        break
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
                self._acquire()
                try:
                    handle.write(self._take_buffer())
                    handle.flush()
                    os.fsync(handle.fileno())
                    os.replace(temporary, target)
                    snapshot.fsync_directory(target.parent)
                    if self.layout is not None:  # the manifest lists the new base alone; the old parts go
                        self.layout.commit_base(target)
                    self.path = target
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                    with self._io_lock:
                        if self.fd is not None:
                            self._retired.append(self.fd)
                        self.fd = fd
                    self._pending.clear()  # written to the old file's tail, and in the new file already
                    self.size = self.base_size = os.fstat(fd).st_size
                    self._rewrite_buffer = None
                finally:
                    self.engine.lock.release()
            self.rewrites += 1
            self.last_rewrite_ok = True
            log.info("%s: rewritten (%d keys, %d bytes)", self.path, captured.keys, self.size)
        except _Abandoned:
            log.warning("%s: rewrite abandoned (the file is closing)", self.path)
            self._rewrite_buffer = None
            temporary.unlink(missing_ok=True)
        except BaseException:
            log.exception("%s: background rewrite failed", self.path)
            self.last_rewrite_ok = False
            self._rewrite_buffer = None
            temporary.unlink(missing_ok=True)
        finally:
            self.last_rewrite_seconds = time.monotonic() - started
