"""One engine's persistence: its directory, append-only files, snapshots and ticker thread.

:func:`attach_persistence` loads a directory into an engine and keeps it
there; :func:`open_persistent_engine` builds the engine too.  Start-up
follows Redis 7: with ``appendonly yes`` the append-only directory
(``appendonlydir``: a manifest, a base, incremental files; see
:mod:`.aof_manifest`) is the truth, and a single ``appendonly.aof`` of older
versions is moved into it first; without it, or when there is no such
directory yet, the snapshot (``SAVE`` / ``BGSAVE``) is loaded, and the
append-only files are then created from the loaded data.  Snapshots are RDB
files (``dump.rdb``, see :mod:`.rdb_file`) that redis-server loads too; a
snapshot of the older ``REDPOCKET-SNAPSHOT`` format is still read.  Either
server can be started on a directory the other wrote.

The ticker thread wakes twice a second: ``everysec`` fsync, automatic
rewrite by growth, ``save`` points (``CONFIG SET save "60 1000"``) and
``CONFIG SET appendonly yes|no`` at runtime.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import CommandHook
from . import rdb_file, snapshot
from .aof import AppendOnlyFile, map_file
from .aof_manifest import AofDirectory, load_manifest
from .records import CorruptFileError, PersistenceError, replay

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("redpocket.persistence")

TICK_SECONDS = 0.5
BGSAVE_RETRY_SECONDS = 5.0  # Redis's CONFIG_BGSAVE_RETRY_DELAY
LOCK_FILE = "redpocket.lock"
# Commands that run other commands atomically: their writes go to the file as one block.
ATOMIC_COMMANDS = ("exec", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")


class AtomicSection(CommandHook):
    """Make the writes of one EXEC or script reach the append-only file as one block (an engine hook)."""

    def __init__(self, persistence: Persistence) -> None:
        self.persistence = persistence
        # The file each open block began on (None: there was none), innermost last: an EXEC
        # may run EVAL, and CONFIG SET appendonly may open or close the file meanwhile.
        self.begun: list[AppendOnlyFile | None] = []

    def before(self, session: Session, argv: list[bytes]) -> None:
        """Open the block."""
        aof = self.persistence.aof
        if aof is not None:
            aof.begin_atomic()
        self.begun.append(aof)

    def after(self, session: Session, argv: list[bytes], reply: Any) -> Any:
        """Close the block this command opened."""
        aof = self.begun.pop() if self.begun else None
        if aof is not None:
            aof.end_atomic()
        return reply

_open: set[Persistence] = set()


def load_snapshot(engine: Engine, path: Path) -> int:
    """Load the snapshot at ``path`` (an RDB file, or the older format) into ``engine``; return the keys or commands."""
    with open(path, "rb") as handle:
        head = handle.read(5)
    if rdb_file.is_rdb(head):
        return rdb_file.load_rdb_data(engine, path.read_bytes(), str(path)).keys
    data, closer = map_file(path)
    try:
        records, end = snapshot.snapshot_records(data, str(path))
        count = replay(engine, records, str(path))
        if end != len(data):
            raise CorruptFileError(str(path), end, "unexpected data after the snapshot")
        return count
    finally:
        if closer is not None:
            closer.close()


def parse_save_points(text: str) -> list[tuple[int, int]]:
    """Return the ``save`` setting as ``(seconds, changes)`` pairs."""
    numbers = [int(word) for word in text.split()]
    return list(zip(numbers[::2], numbers[1::2], strict=False))


class Persistence:
    """The persistence of one engine in one directory."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.engine = engine
        self.directory = directory
        self.aof: AppendOnlyFile | None = None
        self.closed = False
        self.saves = 0
        self.last_bgsave_ok = True
        self.last_bgsave_attempt = 0.0
        self.bgsave_thread: threading.Thread | None = None
        self.loaded_commands = 0
        self.dropped_at: int | None = None
        self._lock_handle: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self._last_tick = 0.0
        self.atomic_section = AtomicSection(self)

    # -- paths ---------------------------------------------------------------------
    @property
    def snapshot_path(self) -> Path:
        """Return the snapshot file (``dbfilename`` in the directory)."""
        return self.directory / self.engine.config.get("dbfilename")

    @property
    def aof_directory(self) -> AofDirectory:
        """Return the append-only directory (``appenddirname``, its parts named after ``appendfilename``)."""
        config = self.engine.config
        return AofDirectory(self.directory, config.get("appenddirname"), config.get("appendfilename"))

    @property
    def aof_path(self) -> Path | None:
        """Return the append-only file being appended to (in the append-only directory), if one is open."""
        return self.aof.path if self.aof is not None else None

    @property
    def appendonly(self) -> bool:
        """Tell whether the configuration asks for the append-only file."""
        return self.engine.config.values["appendonly"] == "yes"

    # -- start-up ----------------------------------------------------------------------
    def lock_directory(self) -> None:
        """Take the directory's lock file, refusing a directory whose append-only file another engine has open."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.directory / LOCK_FILE, "a+b")  # noqa: SIM115  (held until close())
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise PersistenceError(
                    f"{self.directory} is in use by another engine (it holds {LOCK_FILE}); "
                    "open each directory from one engine at a time"
                ) from None
        self._lock_handle = handle

    def load(self) -> None:
        """Load the directory's data into the (empty) engine and open the append-only file."""
        engine = self.engine
        counters = (engine.commands_processed, engine.keyspace_hits, engine.keyspace_misses)
        snapshot_path = self.snapshot_path
        layout = self.aof_directory
        manifest = layout.read()
        if self.appendonly and manifest is None and layout.legacy_file.exists():
            manifest = layout.upgrade_legacy()  # a single appendonly.aof (older versions, Redis 6) becomes the base
        if self.appendonly and manifest is not None and manifest.files:
            self.loaded_commands, self.dropped_at, valid_end = load_manifest(engine, manifest)
            target = layout.append_target(manifest)
            self.aof = AppendOnlyFile(engine, target, layout)
            self.aof.open(valid_end if target == manifest.files[-1] else 0)
        else:
            if snapshot_path.exists():
                self.loaded_commands = load_snapshot(engine, snapshot_path)
            if self.appendonly:
                self.aof = AppendOnlyFile(engine, layout.append_target(manifest), layout)
                self.aof.open(0)
                if any(db.data for db in engine.databases) or snapshot.library_codes(engine):
                    self.aof.rewrite_now()
        engine.commands_processed, engine.keyspace_hits, engine.keyspace_misses = counters
        engine.dirty = 0

    def attach(self) -> None:
        """Start logging writes and ticking; make the engine's commands find this object."""
        engine = self.engine
        with engine.lock:
            engine.propagators.append(self.propagate)
            for name in ATOMIC_COMMANDS:
                engine.add_hook(name, self.atomic_section)
            engine.extensions["persistence"] = self
        self._ticker = threading.Thread(target=self._tick_forever, name="redpocket-persistence", daemon=True)
        self._ticker.start()
        _open.add(self)

    def propagate(self, session: Session | None, db_index: int, argv: list[bytes], reply: Any) -> None:
        """Log one executed write command to the append-only file, when there is one."""
        aof = self.aof
        if aof is not None:
            aof.propagate(session, db_index, argv, reply)

    def begin_atomic(self) -> None:
        """Start a section whose writes reach the file as one block (see :class:`AppendOnlyFile`)."""
        if self.aof is not None:
            self.aof.begin_atomic()

    def end_atomic(self) -> None:
        """End an atomic section."""
        if self.aof is not None:
            self.aof.end_atomic()

    # -- snapshots -------------------------------------------------------------------------
    @property
    def bgsave_running(self) -> bool:
        """Tell whether a background save is running."""
        thread = self.bgsave_thread
        return thread is not None and thread.is_alive()

    @property
    def checksum(self) -> bool:
        """Tell whether RDB files get a CRC-64 (``rdbchecksum``)."""
        return self.engine.config.get("rdbchecksum") == "yes"

    def save(self) -> None:
        """Write a snapshot now, in this thread (``SAVE``): clients wait until it is on disk."""
        engine = self.engine
        with engine.lock:
            captured = rdb_file.capture(engine)
            rdb_file.write_rdb_file(self.snapshot_path, captured, self.checksum)
            self._saved(captured)

    def bgsave(self) -> bool:
        """Start writing a snapshot in a thread (``BGSAVE``); ``False`` if one is running."""
        with self.engine.lock:
            if self.bgsave_running:
                return False
            self.last_bgsave_attempt = time.monotonic()
            captured = rdb_file.capture(self.engine)
            thread = threading.Thread(target=self._bgsave, args=(captured,), name="redpocket-bgsave", daemon=True)
            self.bgsave_thread = thread
            thread.start()
            return True

    def _bgsave(self, captured: rdb_file.Capture) -> None:
        try:
            rdb_file.write_rdb_file(self.snapshot_path, captured, self.checksum)
        except Exception:
            log.exception("%s: background save failed", self.snapshot_path)
            self.last_bgsave_ok = False
            return
        with self.engine.lock:
            self._saved(captured)

    def _saved(self, captured: rdb_file.Capture) -> None:
        engine = self.engine
        engine.dirty = max(engine.dirty - captured.dirty, 0)
        engine.lastsave = captured.taken
        self.saves += 1
        self.last_bgsave_ok = True

    def bgrewriteaof(self) -> str:
        """Start rewriting the append-only file; return ``started``, ``scheduled`` or ``running``."""
        if self.aof is None:
            raise PersistenceError("the append-only file is off (CONFIG SET appendonly yes turns it on)")
        return self.aof.start_rewrite()

    # -- the ticker ---------------------------------------------------------------------------
    def _tick_forever(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # the ticker must survive anything
                log.exception("persistence ticker")

    def tick(self) -> None:
        """Do the periodic work (the ticker thread calls this twice a second; extra calls return at once)."""
        now = time.monotonic()
        with self._tick_lock:
            if self.closed or now - self._last_tick < TICK_SECONDS * 0.9:
                return
            self._last_tick = now
        engine = self.engine
        if self.appendonly and self.aof is None:
            self._enable_aof()
        elif not self.appendonly and self.aof is not None:
            self._disable_aof()
        aof = self.aof
        if aof is not None:
            aof.retry_pending()
            aof.fsync_if_needed(engine.config.values["appendfsync"] == "everysec")
            if aof.should_rewrite():
                log.info("%s: starting an automatic rewrite (%d bytes, %d after the last one)",
                         aof.path, aof.size, aof.base_size)
                aof.start_rewrite()
        points = parse_save_points(engine.config.values["save"])
        if points and engine.dirty and not self.bgsave_running:
            now = time.time()
            retry_ok = self.last_bgsave_ok or time.monotonic() - self.last_bgsave_attempt > BGSAVE_RETRY_SECONDS
            for seconds, changes in points:
                if engine.dirty >= changes and now - engine.lastsave > seconds and retry_ok:
                    log.info("%d changes in %d seconds: saving", changes, seconds)
                    self.bgsave()
                    break

    def _enable_aof(self) -> None:
        if self._lock_handle is None:
            try:
                self.lock_directory()
            except PersistenceError as error:
                log.error("cannot turn the append-only file on: %s", error)
                self.engine.config.values["appendonly"] = "no"
                return
        with self.engine.lock:
            layout = self.aof_directory
            aof = AppendOnlyFile(self.engine, layout.next_base(), layout)
            self.aof = aof
            aof.start_rewrite()  # writes a base from the dataset, then keeps appending to it

    def _disable_aof(self) -> None:
        with self.engine.lock:
            aof, self.aof = self.aof, None
        if aof is not None:
            aof.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    # -- shutting down --------------------------------------------------------------------------
    def close(self, save: bool = False) -> None:
        """Stop persisting: finish background work, optionally save a snapshot, flush and fsync."""
        if self.closed:
            return
        self.closed = True
        _open.discard(self)
        self._stop.set()
        # A caller holding the engine lock (a SHUTDOWN handler) must not wait for
        # threads that need it: they finish on their own once it is released.
        for thread in (self._ticker, self.bgsave_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=1)
        engine = self.engine
        if save:
            self.save()
        with engine.lock:
            if self.propagate in engine.propagators:
                engine.propagators.remove(self.propagate)
            for name in ATOMIC_COMMANDS:
                engine.remove_hook(name, self.atomic_section)
            if engine.extensions.get("persistence") is self:
                del engine.extensions["persistence"]
            aof, self.aof = self.aof, None
        if aof is not None:
            aof.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def info(self) -> dict[str, Any]:
        """Return the fields of ``INFO persistence`` this object knows."""
        aof = self.aof
        return {
            "rdb_changes_since_last_save": self.engine.dirty,
            "rdb_bgsave_in_progress": int(self.bgsave_running),
            "rdb_last_save_time": int(self.engine.lastsave),
            "rdb_last_bgsave_status": "ok" if self.last_bgsave_ok else "err",
            "rdb_saves": self.saves,
            "aof_enabled": int(aof is not None),
            "aof_rewrite_in_progress": int(aof is not None and aof.rewriting),
            "aof_rewrites": aof.rewrites if aof else 0,
            "aof_last_bgrewrite_status": "ok" if aof is None or aof.last_rewrite_ok else "err",
            "aof_last_write_status": "ok" if aof is None or aof.last_write_error is None else "err",
            "aof_current_size": aof.size if aof else 0,
            "aof_base_size": aof.base_size if aof else 0,
        }


def attach_persistence(
    engine: Engine, directory: str | os.PathLike[str], *, appendonly: bool = True, appendfsync: str = "everysec"
) -> Persistence:
    """Load ``directory`` into ``engine`` (which must be empty) and persist every later write there.

    Register custom structures on the engine first: their commands may be in the files.
    """
    path = Path(directory).absolute()
    config = engine.config
    config.set("dir", str(path))
    config.set("appendonly", "yes" if appendonly else "no")
    config.set("appendfsync", appendfsync)
    persistence = Persistence(engine, path)
    path.mkdir(parents=True, exist_ok=True)
    if appendonly:  # two engines appending to one file would corrupt it; snapshots are atomic renames
        persistence.lock_directory()
    try:
        persistence.load()
    except BaseException:
        if persistence._lock_handle is not None:
            persistence._lock_handle.close()
        raise
    persistence.attach()
    return persistence


def open_persistence(
    engine: Engine, dir: str | os.PathLike[str], appendonly: bool = True, appendfsync: str = "everysec"
) -> Persistence:
    """Attach persistence in ``dir`` to ``engine`` (the TCP server's spelling of :func:`attach_persistence`)."""
    return attach_persistence(engine, dir, appendonly=appendonly, appendfsync=appendfsync)


def open_persistent_engine(
    directory: str | os.PathLike[str],
    appendfsync: str = "everysec",
    *,
    appendonly: bool = True,
    structures: Iterable[type] = (),
    config: dict[str, str] | None = None,
) -> Engine:
    """Return a new engine holding the data of ``directory``, persisting every write there.

    ``structures`` are :class:`~redpocket.engine.structures.Structure`
    classes (and procedure holders) to register before loading.  Close it
    with ``persistence_of(engine).close()``.
    """
    from ..engine import Engine
    from ..structures import add_structure

    engine = Engine(config=config)
    for structure in structures:
        add_structure(engine, structure)
    attach_persistence(engine, directory, appendonly=appendonly, appendfsync=appendfsync)
    return engine


def persistence_of(engine: Engine) -> Persistence | None:
    """Return the persistence attached to ``engine``, if any."""
    found = engine.extensions.get("persistence")
    return found if isinstance(found, Persistence) else None


@atexit.register
def _close_all() -> None:
    """Flush and fsync every open persistence when the interpreter exits normally."""
    for persistence in list(_open):
        try:
            persistence.close()
        except Exception:  # pragma: no cover - best effort at exit
            log.exception("closing %s at exit", persistence.directory)
