"""The Engine: databases, the command table and command execution.

``Engine.execute(session, argv)`` is the whole protocol-free interface: it
takes a command as a list of ``bytes`` and returns a reply value (see
:mod:`.replies`).  Generic checks run here before any handler, as in
Redis's ``processCommand``: unknown command, arity, MULTI queueing.  One
re-entrant lock makes every command, every EXEC and every script atomic
with respect to the other threads using the engine.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
import weakref
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .blocking import Block
from .clients import Pause
from .config import Config
from .eviction import OOM_ERROR, Evictor
from .expiry import active_expire_cycle
from .info import rss_bytes
from .keyspace import Database, Signals
from .latency import LatencyMonitor
from .memory import STARTUP_MEMORY, database_memory
from .registry import COMMANDS, HOOK_POINTS, CommandHook, CommandSpec, CommandTable
from .replies import QUEUED, READONLY_ERROR, ReplyError
from .session import Session
from .slowlog import SlowLog

if TYPE_CHECKING:
    from .tracking import Tracking

log = logging.getLogger("redpocket.engine")

# Commands that run at once even inside MULTI (Redis's processCommand).
_MULTI_IMMEDIATE = frozenset({b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"})
# What a client in MULTI may still send while memory is over maxmemory (Redis's processCommand).
_MULTI_UNDER_OOM = frozenset({b"exec", b"discard", b"quit", b"reset"})
_SCRIPT_COMMANDS = frozenset({b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro"})
_NOT_IN_MULTI = "ERR Command not allowed inside a transaction"


def unknown_command_error(argv: list[bytes]) -> ReplyError:
    """Build Redis's ``unknown command`` error, quoting the first arguments."""
    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % arg.decode("utf-8", "replace")[: 128 - len(args)]
    name = argv[0].decode("utf-8", "replace")[:128]
    message = f"ERR unknown command '{name}', with args beginning with: {args}"
    return ReplyError(message.replace("\r", " ").replace("\n", " "))


def copy_table(table: dict[bytes, CommandSpec]) -> CommandTable:
    """Copy the command table, so each engine keeps its own call statistics and extensions."""
    copied: dict[bytes, CommandSpec] = {}
    for name, spec in table.items():
        clone = dataclasses.replace(spec, subcommands={})
        clone.hooked = clone.fullname in HOOK_POINTS
        for sub_name, sub in spec.subcommands.items():
            clone.subcommands[sub_name] = copied_sub = dataclasses.replace(sub, parent=clone)
            copied_sub.hooked = copied_sub.fullname in HOOK_POINTS
        copied[name] = clone
    return CommandTable(copied)


def arity_error(spec: CommandSpec) -> ReplyError:
    """Build Redis's ``wrong number of arguments`` error for ``spec``."""
    return ReplyError(f"ERR wrong number of arguments for '{spec.fullname}' command")


class Engine:
    """A Redis-compatible data-structure engine held in this process."""

    def __init__(self, databases: int = 16, config: dict[str, str] | None = None) -> None:
        self.lock = threading.RLock()
        self.condition = threading.Condition(self.lock)
        self.config = Config(databases=databases)
        # An in-process engine's clients are local: DEBUG works as on a Redis
        # started with enable-debug-command local (pass "no" to refuse it).
        for name, value in {"enable-debug-command": "local", **(config or {})}.items():
            self.config.set(name, value)
        # What the databases report to (dirty count, watched and ready keys, keyspace events).
        self.signals = Signals(self.config, self.touch_watched, self.key_expired)
        self.databases = [Database(i, self.signals) for i in range(int(self.config.get("databases")))]
        self.commands = copy_table(COMMANDS)
        self.started = time.time()
        self.commands_processed = 0
        # Error replies, all and by code (their first word): INFO stats and errorstats.
        self.total_error_replies = 0
        self.error_replies: dict[str, int] = {}
        self.connections_received = 0
        # The client-side caching table while it has work, else None (tracking.py):
        # call() and touch_watched() hand it reads and writes meanwhile.
        self.tracking: Tracking | None = None
        # Called with the set of (db_index, key) written while clients were
        # blocked (engine.blocked_clients > 0); the TCP server retries its
        # parked clients from here, embedded threads wake on the condition.
        self.ready_listeners: list[Any] = []
        self.sessions: weakref.WeakValueDictionary[int, Session] = weakref.WeakValueDictionary()
        self.scripts: dict[bytes, bytes] = {}
        self.extensions: dict[str, Any] = {}
        # Called as hook(session, db_index, argv, reply) after every write command
        # that changed the keyspace (the dirty count moved: handlers call
        # db.modified where they change a key), also the writes a script or
        # EXEC runs, and as hook(None, db_index, [b"DEL", key], None) when a
        # key expires: the append-only file listens here.
        self.propagators: list[Any] = []
        # Who takes part in the run of a hooked command (registry.HOOK_POINTS), by full name.
        self.hooks: dict[str, list[CommandHook]] = {}
        self.slowlog = SlowLog(self.config)
        self.latency = LatencyMonitor(self.config)
        self.pause = Pause()
        # Called with a blocked client's session when CLIENT UNBLOCK wakes it (the TCP server listens).
        self.unblock_listeners: list[Any] = []
        self.active_expire_enabled = True
        self.lastsave = self.started
        self._client_ids = itertools.count(1)
        self._next_cron = 0.0
        self._lua: Any = None
        # The script running past busy-reply-threshold (scripting.RunningScript), else None:
        # other clients' commands get its BUSY error, except those flagged allow-busy.
        self.busy_script: Any = None
        # Called as listener(db_index, argv) after each command a script ran (Redis
        # shows them to MONITOR clients as "[db lua]" lines; the TCP server listens).
        self.script_listeners: list[Any] = []
        # maxmemory (eviction.py): consulted before each command while maxmemory is set.
        self.evictor = Evictor(self.databases, self.config, self.used_memory, self.key_evicted)
        self.peak_memory = STARTUP_MEMORY
        self.startup_rss = rss_bytes()  # the interpreter's own, for MEMORY DOCTOR
        self.script_oom = False  # memory was over maxmemory when the running script started
        self.config.memory_listener = self.memory_settings_changed
        self.evictor.configure()
        self.maxmemory = self.evictor.maxmemory  # (read before every command: one attribute)
        # True while this engine replicates a master (the TCP server's replica link sets it): with
        # replica-read-only yes, write commands are refused except from the master's own session.
        self.replica = False

    # -- what the databases signal (kept in self.signals; these read and write it) ----
    @property
    def dirty(self) -> int:
        """Count of changes to the keyspace since the start (persistence, INFO)."""
        return self.signals.dirty

    @dirty.setter
    def dirty(self, value: int) -> None:
        self.signals.dirty = value

    @property
    def expired_keys(self) -> int:
        """Count of keys deleted because their time was up (INFO)."""
        return self.signals.expired_keys

    @expired_keys.setter
    def expired_keys(self, value: int) -> None:
        self.signals.expired_keys = value

    @property
    def keyspace_hits(self) -> int:
        """Count of reads that found their key (INFO)."""
        return self.signals.keyspace_hits

    @keyspace_hits.setter
    def keyspace_hits(self, value: int) -> None:
        self.signals.keyspace_hits = value

    @property
    def keyspace_misses(self) -> int:
        """Count of reads that did not find their key (INFO)."""
        return self.signals.keyspace_misses

    @keyspace_misses.setter
    def keyspace_misses(self, value: int) -> None:
        self.signals.keyspace_misses = value

    @property
    def frozen_ms(self) -> int | None:
        """While EXEC or a script runs, keys expire as of its start (Redis's fixed_time_expire); None: now."""
        return self.signals.frozen_ms

    @frozen_ms.setter
    def frozen_ms(self, value: int | None) -> None:
        self.signals.frozen_ms = value

    @property
    def watched_keys(self) -> dict[tuple[int, bytes], set[Any]]:
        """The clients watching each (db_index, key)."""
        return self.signals.watched_keys

    @property
    def blocked_clients(self) -> int:
        """How many clients wait in a blocking command or a pause."""
        return self.signals.blocked_clients

    @blocked_clients.setter
    def blocked_clients(self, value: int) -> None:
        self.signals.blocked_clients = value

    @property
    def ready_keys(self) -> set[tuple[int, bytes]]:
        """The (db_index, key) written while clients were blocked, not yet announced."""
        return self.signals.ready_keys

    # -- extensions ------------------------------------------------------------
    def close(self, save: bool = False) -> None:
        """Flush and close the persistence attached to this engine, if any (``save``: snapshot first)."""
        persistence = self.extensions.get("persistence")  # (persistence/manager.py attaches itself here)
        if persistence is not None:
            persistence.close(save)

    def add_hook(self, fullname: str, hook: CommandHook) -> None:
        """Make ``hook`` take part in every run of the command ``fullname`` (one of registry.HOOK_POINTS)."""
        if fullname not in HOOK_POINTS:
            raise ValueError(f"{fullname!r} is not a hook point (registry.HOOK_POINTS)")
        hooks = self.hooks.setdefault(fullname, [])
        if hook not in hooks:
            hooks.append(hook)

    def remove_hook(self, fullname: str, hook: CommandHook) -> None:
        """Stop ``hook`` taking part in runs of ``fullname``."""
        hooks = self.hooks.get(fullname)
        if hooks is not None and hook in hooks:
            hooks.remove(hook)
            if not hooks:
                del self.hooks[fullname]

    # -- clients -------------------------------------------------------------
    def session(self, address: str = "embedded") -> Session:
        """Create the state for a new client."""
        with self.lock:
            session = Session(self, next(self._client_ids), address)
            self.sessions[session.id] = session
            users = self.extensions.get("acl")
            if users is not None:  # (the default user may have been restricted)
                users.attach(session)
            self.connections_received += 1
            return session

    def forget_session(self, session: Session) -> None:
        """Drop a closed client from the client list."""
        with self.lock:
            self.sessions.pop(session.id, None)

    # -- execution ------------------------------------------------------------
    def lookup(self, argv: list[bytes]) -> CommandSpec | ReplyError:
        """Find the command (or subcommand) for ``argv`` and check its arity."""
        spec = self.commands.get(argv[0].lower())
        if spec is None:
            return unknown_command_error(argv)
        if spec.subcommands and len(argv) > 1:
            sub = spec.subcommands.get(argv[1].lower())
            if sub is None:
                name = argv[1].decode("utf-8", "replace")[:128]
                text = f"ERR unknown subcommand '{name}'. Try {spec.name.upper()} HELP."
                return ReplyError(text.replace("\r", " ").replace("\n", " "))
            spec = sub
        if not spec.arity_ok(len(argv)):
            return arity_error(spec)
        return spec

    def execute(self, session: Session, argv: list[bytes]) -> Any:
        """Execute one command for ``session``; return its reply or a :class:`Block`."""
        with self.lock:
            return self.execute_locked(session, argv)

    def execute_locked(self, session: Session, argv: list[bytes]) -> Any:
        """Execute one command for a caller that already holds ``self.lock`` (the TCP server's batches)."""
        name = argv[0].lower()
        spec = self.commands.get(name)
        if spec is None or spec.subcommands or not spec.min_argc <= len(argv) <= spec.max_argc:
            found = self.lookup(argv)
            if isinstance(found, ReplyError):
                return self._rejected(session, name, found, self.named_spec(argv))
            spec = found
        session.last_command = spec
        if session.restricted:  # its ACL user may not run everything (acl.py)
            denied = self.extensions["acl"].denied(session, spec, argv)
            if denied is not None:
                return self._rejected(session, name, denied, spec)
        if (self.replica and spec.write and not session.from_master
                and self.config.values["replica-read-only"] == "yes"):
            return self._rejected(session, name, ReplyError(READONLY_ERROR), spec)
        if self.busy_script is not None and "allow-busy" not in spec.flags:
            return self._rejected(session, name, ReplyError(self.busy_script.busy_error), spec)
        if self.maxmemory and self.busy_script is None:
            refused = self.check_memory(session, spec, name)
            if refused is not None:
                return self._rejected(session, name, refused, spec)
        if session.multi is not None and name not in _MULTI_IMMEDIATE:
            if "no-multi" in spec.flags:  # SAVE, SHUTDOWN: refused, and EXEC then aborts
                return self._rejected(session, name, ReplyError(_NOT_IN_MULTI), spec)
            session.multi.append((spec, argv))
            return QUEUED
        reply = self.call(session, spec, argv)
        if self.signals.ready_keys and self.busy_script is None:  # (blocked clients wait for a busy script to end)
            self.announce_ready()
        if not self.commands_processed & 63:
            self.tick()
        return reply

    def check_memory(self, session: Session, spec: CommandSpec, name: bytes) -> ReplyError | None:
        """Evict down to maxmemory before a command; return the OOM error when it may not run (processCommand).

        Refused while memory stays over the limit: a ``denyoom`` command, an
        EXEC whose queue holds one, and anything but EXEC / DISCARD / QUIT /
        RESET inside MULTI (queueing takes memory too).  A script remembers
        whether memory was over at its start: its first write is refused then.
        """
        out_of_memory = not self.evictor.perform()
        if name in _SCRIPT_COMMANDS:
            self.script_oom = out_of_memory
        if not out_of_memory:
            return None
        multi = session.multi
        if (
            spec.denyoom
            or (multi is not None and name not in _MULTI_UNDER_OOM)
            or (name == b"exec" and multi is not None and any(queued.denyoom for queued, _ in multi))
        ):
            return ReplyError(OOM_ERROR)
        return None

    def used_memory(self) -> int:
        """Return the bytes the engine's data take in this process (INFO's ``used_memory``; see memory.py)."""
        total = STARTUP_MEMORY
        for db in self.databases:
            if db.used:
                if db.stale:
                    db.settle()
                total += database_memory(db)
        return total

    def memory_settings_changed(self) -> None:
        """Apply a new maxmemory or maxmemory-policy (CONFIG SET): evict at once if memory is over it."""
        with self.lock:
            self.evictor.configure()
            self.maxmemory = self.evictor.maxmemory
            if self.evictor.maxmemory:
                self.evictor.perform()

    def key_evicted(self, db: Database, key: bytes) -> None:
        """Evict ``key`` from ``db``: keyspace event, WATCH and tracking, and a DEL (UNLINK) for the AOF."""
        db.evict(key)
        if self.propagators:
            verb = b"UNLINK" if self.config.get("lazyfree-lazy-eviction") == "yes" else b"DEL"
            for hook in self.propagators:
                hook(None, db.index, [verb, key], None)

    def announce_ready(self) -> None:
        """Tell the listeners and the waiting threads which keys blocked clients may now take."""
        ready = self.signals.ready_keys
        for listener in self.ready_listeners:
            listener(ready)
        ready.clear()
        self.condition.notify_all()

    def tick(self) -> None:
        """Run :meth:`cron` when its time has come (callers check every few commands)."""
        now = time.monotonic()
        if now >= self._next_cron:
            self.cron(now)

    def named_spec(self, argv: list[bytes]) -> CommandSpec | None:
        """Return the command or subcommand ``argv`` names, whatever its arity (None: unknown)."""
        spec = self.commands.get(argv[0].lower())
        if spec is not None and spec.subcommands and len(argv) > 1:
            return spec.subcommands.get(argv[1].lower())
        return spec

    def count_error(self, message: str) -> None:
        """Count an error reply sent to a client under its code, the first word (Redis's afterErrorReply)."""
        self.total_error_replies += 1
        space = message.find(" ", 0, 31)
        code = message[:space] if space != -1 else "ERR"
        self.error_replies[code] = self.error_replies.get(code, 0) + 1

    def _rejected(self, session: Session, name: bytes, error: ReplyError, spec: CommandSpec | None) -> ReplyError:
        """Answer a command refused before running (unknown, arity, ACL): EXEC discards the transaction."""
        if spec is not None:
            spec.rejected_calls += 1
        if name == b"exec":
            session.reset_multi()
            text = error.message[4:] if error.message.startswith("ERR ") else error.message
            error = ReplyError("EXECABORT Transaction discarded because of: " + text)
            self.count_error(error.message)
            return error
        self.count_error(error.message)
        if session.multi is not None:
            session.multi_error = True
        elif session.tracking is not None and session.engine.tracking is not None:  # (see Tracking.refused)
            session.engine.tracking.refused(session)
        return error

    def call(self, session: Session, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Run a looked-up command's handler (every client command, EXEC's and scripts' too)."""
        if session.restricted and session.in_exec:  # EXEC checks each queued command again, as Redis does
            denied = self.extensions["acl"].denied_in_exec(session, spec, argv)
            if denied is not None:
                return denied
        tracking = self.tracking
        if tracking is not None and tracking.current is None:  # a client's own command, while clients track keys
            return tracking.call(session, spec, argv)
        hooks = self.hooks.get(spec.fullname) if spec.hooked else None
        if hooks is not None:  # (registry.HOOK_POINTS: the server's actions, AOF blocks, tracking's flush)
            for hook in hooks:
                hook.before(session, argv)
        started = perf_counter()
        try:
            if spec.write and self.propagators:
                signals = self.signals
                dirty = signals.dirty
                reply = spec.handler(session, argv)  # type: ignore[misc]
                if signals.dirty != dirty:
                    for propagate in self.propagators:
                        propagate(session, session.db.index, argv, reply)
                session.propagated = None  # (what the handler said it propagates: every propagator has read it)
            else:
                reply = spec.handler(session, argv)  # type: ignore[misc]
            if reply.__class__ is ReplyError:  # (a script's error reply)
                reply = self.failed(spec, reply)
        except Exception as error:
            reply = self.failed(spec, error)
        if hooks is not None:
            for hook in reversed(hooks):
                reply = hook.after(session, argv, reply)
        if session.blocked is None:
            self.account(session, spec, argv, perf_counter() - started, loggable=reply.__class__ is not Block)
        else:  # a blocked command tried again: Redis counted its call when it blocked, adds only the time
            spec.seconds += perf_counter() - started
        if tracking is not None:
            tracking.after(session, spec, argv)
        return reply

    def account(
        self, session: Session, spec: CommandSpec, argv: list[bytes], elapsed: float, calls: int = 1,
        loggable: bool = True,
    ) -> None:
        """Count ``calls`` runs of ``spec`` that took ``elapsed`` seconds in all (INFO, LATENCY), and log them if slow.

        Commands are counted once they have run, as Redis's ``call()`` does:
        INFO leaves itself out, CONFIG RESETSTAT counts itself.  A command
        that blocked is neither logged nor in LATENCY (``loggable=False``).
        Quick calls cost the latency monitor one comparison (see
        :mod:`.latency`); it takes each of a run's ``calls`` to have lasted
        the run's average.
        """
        self.commands_processed += calls
        spec.calls += calls
        spec.seconds += elapsed
        if loggable:
            if elapsed >= self.config.latency_floor * calls:  # (quicker calls are the histogram's first level)
                self.latency.record(spec, elapsed, calls)
            if elapsed >= self.config.slowlog_seconds and spec.logged:
                self.slowlog.record(session, argv, elapsed)
        else:
            self.latency.leave_out(spec, calls)

    def failed(self, spec: CommandSpec, error: Exception) -> ReplyError:
        """Turn what a handler raised (or a script's error reply) into its error reply, and count it.

        A bug must not take the engine down.  An error a script passes on
        from one of its commands was counted when that command failed
        (``counted``): only ``spec``'s failed calls count it again, as Redis does.
        """
        spec.failed_calls += 1
        if isinstance(error, ReplyError):
            if not error.counted:
                self.count_error(error.message)
            return error
        if isinstance(error, RecursionError):
            reply = ReplyError("ERR reached the maximum nesting depth")
        else:
            log.exception("internal error in %s", spec.fullname, exc_info=error)
            reply = ReplyError(f"ERR internal error executing '{spec.fullname}': {error!r}")
        self.count_error(reply.message)
        return reply

    def execute_blocking(self, session: Session, argv: list[bytes]) -> Any:
        """Execute a command, waiting in this thread while it blocks or a CLIENT PAUSE holds it (embedded clients)."""
        with self.condition:
            if self.pause.until:
                self._wait_for_pause(session, argv)
            reply = self.execute(session, argv)
            if type(reply) is not Block:
                return reply
            return self.wait_blocked(session, argv, reply)

    def wait_blocked(self, session: Session, argv: list[bytes], block: Block) -> Any:
        """Wait in this thread for a command that answered ``block`` (embedded clients); return its reply.

        Each wake-up runs the command again; Redis counted its call when it
        blocked, so the tries only add to its time (see :meth:`call`).
        """
        with self.condition:
            reply: Any = block
            deadline = time.monotonic() + block.timeout if block.timeout else None
            self.blocked_clients += 1
            try:
                while type(reply) is Block:
                    session.blocked = reply
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return reply.timeout_reply
                    self.condition.wait(remaining)
                    if session.wakeup is not None:  # CLIENT UNBLOCK
                        return session.wakeup[0]
                    reply = self.execute(session, argv)
            finally:
                self.blocked_clients -= 1
                session.blocked = session.wakeup = None
            return reply

    def _wait_for_pause(self, session: Session, argv: list[bytes]) -> None:
        """Wait (holding nothing) while CLIENT PAUSE holds this command back."""
        pause = self.pause
        if not pause.holds(self, session, argv):
            return
        self.blocked_clients += 1
        try:
            while pause.holds(self, session, argv):
                self.condition.wait(pause.remaining())
        finally:
            self.blocked_clients -= 1

    # -- housekeeping -----------------------------------------------------------
    def cron(self, now: float) -> None:
        """Run periodic work: the active expiry cycle (Redis's serverCron)."""
        hz = self.config.hz
        self._next_cron = now + 1.0 / hz
        used = self.used_memory()
        if used > self.peak_memory:
            self.peak_memory = used
        if self.evictor.pending and self.busy_script is None:  # (a run stopped at its time limit goes on)
            self.evictor.perform()
        if self.tracking is not None and self.tracking.table:  # (an idle server too, after CONFIG SET: Redis's cron)
            self.tracking.limit()
        if not self.active_expire_enabled or self.busy_script is not None or (self.pause.until and self.pause.active()):
            return  # (Redis expires nothing while clients are paused)
        for db in self.databases:
            if db.expires:
                active_expire_cycle(db)

    def key_expired(self, db: Database, key: bytes) -> None:
        """Hook called when a key is deleted because its time is up (its ``expired`` event is out)."""
        self.signals.dirty += 1
        if self.signals.watched_keys:
            self.touch_watched(db.index, key)
        for hook in self.propagators:
            hook(None, db.index, [b"DEL", key], None)

    # -- WATCH --------------------------------------------------------------------
    def watch(self, session: Session, key: bytes) -> None:
        """Register ``session`` as watching ``key`` in its database."""
        entry = (session.db.index, key)
        if entry in session.watched:
            return
        session.watched.add(entry)
        self.watched_keys.setdefault(entry, set()).add(session)

    def unwatch_all(self, session: Session) -> None:
        """Stop ``session`` watching anything."""
        for entry in session.watched:
            watchers = self.watched_keys.get(entry)
            if watchers is not None:
                watchers.discard(session)
                if not watchers:
                    del self.watched_keys[entry]
        session.watched = set()

    def touch_watched(self, db_index: int, key: bytes) -> None:
        """Mark every client watching ``key`` as failing its next EXEC; invalidate it in client-side caches."""
        watchers = self.signals.watched_keys.get((db_index, key))
        if watchers:
            for session in watchers:
                session.dirty_cas = True
        if self.tracking is not None:  # (it keeps watched_keys non-empty, so every write comes here)
            self.tracking.invalidate(key)
