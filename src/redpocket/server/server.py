"""The asyncio TCP server: listening sockets, the client table, blocked clients, MONITOR, shutdown.

:class:`Server` wraps an :class:`~redpocket.engine.Engine` (a new one unless
given) and serves it to any Redis client.  Run it with :meth:`Server.start`
(blocking, SIGTERM/SIGINT shut it down cleanly), ``await server.serve()``
inside a loop of your own, or :meth:`Server.run_in_thread` for tests and
embedding::

    with Server(port=0).run_in_thread() as server:
        redis.Redis(port=server.port).ping()

uvloop is used when it is installed.  Persistence (``dir``, ``appendonly``,
``appendfsync``) belongs to :mod:`redpocket.engine.persistence`; the server
only passes the options on when that module is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..engine import Engine, add_structure, pubsub
from ..engine.blocking import join_queues, leave_queues
from ..engine.persistence.records import PersistenceError
from ..engine.replies import ReplyError
from ..engine.version import REDIS_VERSION
from . import commands, replica, replication
from .connection import ClientConnection, quote_arg
from .migrate import install_migrate_transport

log = logging.getLogger("redpocket.server")

PROTECTED_MODE_MESSAGE = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for "
    "the default user. In this mode connections are only accepted from the loopback interface. If you want to "
    "connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
    "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting "
    "to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the protected mode option "
    "to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart "
    "it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. "
    "NOTE: You only need to do one of the above things in order for the server to start accepting connections "
    "from the outside."
)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a uvloop event loop when uvloop is installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return]


class Server:
    """A Redis-protocol TCP server in front of one engine."""

    protected_mode_message = PROTECTED_MODE_MESSAGE

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6380,
        dir: str | None = None,
        engine: Engine | None = None,
        requirepass: str | None = None,
        maxclients: int = 10000,
        *,
        appendonly: str | bool | None = None,
        appendfsync: str | None = None,
        protected_mode: bool | None = None,
        config: dict[str, str] | None = None,
        structures: list[Any] | tuple[Any, ...] = (),
    ) -> None:
        settings = dict(config or {})
        if engine is None:
            engine = Engine(databases=int(settings.pop("databases", "16")))
        self.engine = engine
        install_migrate_transport(engine)
        self.host = host
        self.requested_port = int(port)
        self.port = int(port)
        if requirepass is not None:
            settings["requirepass"] = requirepass
        settings.setdefault("maxclients", str(maxclients))
        if protected_mode is not None:
            settings["protected-mode"] = "yes" if protected_mode else "no"
        if dir is not None:
            settings["dir"] = str(dir)
        # A directory given here, in a config file or as --dir turns persistence on (BGSAVE, SAVE ...).
        self.dir = settings.get("dir")
        if appendonly is not None:
            settings["appendonly"] = appendonly if isinstance(appendonly, str) else ("yes" if appendonly else "no")
        if appendfsync is not None:
            settings["appendfsync"] = appendfsync
        for name, value in settings.items():
            try:
                self.engine.config.set(name, value)
            except ReplyError as error:
                raise ValueError(f"bad setting {name} {value!r}: {error.message}") from None
        pubsub.hub(self.engine)
        commands.install(self.engine)
        self.replication = replication.install(self)
        self.replica_link = replica.MasterLink(self)
        self.engine.extensions["master_link"] = self.replica_link
        self.connections: dict[int, ClientConnection] = {}
        self.monitors: dict[ClientConnection, None] = {}
        self.parked: dict[tuple[int, bytes], dict[ClientConnection, None]] = {}
        self.ready_keys: set[tuple[int, bytes]] = set()
        self._serving_ready = False
        self.engine.ready_listeners.append(self._keys_ready)
        # Clients with replies to write at the end of this event-loop turn.
        self.pending_writes: dict[ClientConnection, None] = {}
        self._writes_scheduled = False
        # Clients whose command waits for CLIENT PAUSE to end, in arrival order.
        self.postponed: dict[ClientConnection, None] = {}
        self._pause_timer: asyncio.TimerHandle | None = None
        self.engine.unblock_listeners.append(self._unblocked)
        self.engine.script_listeners.append(self._script_command)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.loop_thread_id = 0
        self.persistence: Any = None
        self._servers: list[asyncio.base_events.Server] = []
        self._stopped: asyncio.Event | None = None
        self._shutdown_mode = ""
        self._cron_handle: asyncio.TimerHandle | None = None
        self._obuf_cache: tuple[str, dict[str, tuple[int, int, int]]] = ("", {})
        self.pending_structures = list(structures)
        for structure in self.pending_structures:
            self.add_structure(structure)

    # -- extension ---------------------------------------------------------------------
    def add_structure(self, structure: Any) -> None:
        """Register a custom server-side structure (the Memo API of :mod:`redpocket.engine.structures`)."""
        add_structure(self.engine, structure)

    # -- running ---------------------------------------------------------------------------
    async def serve(self) -> None:
        """Listen and serve clients until SHUTDOWN or :meth:`stop`."""
        await self.listen()
        assert self._stopped is not None
        await self._stopped.wait()
        await self._close()

    async def listen(self) -> None:
        """Open the persistence files and the listening sockets (the first half of :meth:`serve`)."""
        self.loop = asyncio.get_running_loop()
        self.loop_thread_id = threading.get_ident()
        self._stopped = asyncio.Event()
        log.info("Redis version=%s (redpocket), pid=%d, just started", REDIS_VERSION, os.getpid())
        if self.dir is not None or self.engine.config.values["appendonly"] == "yes":
            try:
                self.persistence = _open_persistence(self.engine)
            except PersistenceError as error:
                log.critical("Fatal error loading the persistence files: %s. Exiting.", error)
                raise
        hosts = self.host.split() if self.host else [None]
        backlog = int(self.engine.config.values.get("tcp-backlog", "511"))
        for host in hosts:
            server = await self.loop.create_server(
                lambda: ClientConnection(self), host=host, port=self.requested_port, backlog=backlog,
                reuse_address=True, start_serving=True,
            )
            self._servers.append(server)
            if self.requested_port == 0:
                self.requested_port = server.sockets[0].getsockname()[1]
        self.port = self.requested_port
        self.engine.config.set("port", str(self.port))
        log.info("Server initialized")
        log.info("Ready to accept connections tcp (%s port %d)", self.host, self.port)
        self._cron_handle = self.loop.call_later(1.0 / self.engine.config.hz, self._cron)
        master = self.engine.config.values.get("replicaof", "")
        if master:  # (--replicaof host port, or a replicaof line in the config file)
            host, master_port = master.rsplit(" ", 1)
            self.replica_link.start(host, int(master_port))

    def start(self) -> None:
        """Run the server in this thread until it shuts down; SIGTERM and SIGINT stop it cleanly.

        As with ``redis-server``, persistence files that cannot be loaded (a
        corrupt append-only file, a directory another engine holds) are
        fatal: the reason is logged and ``SystemExit(1)`` raised.
        """
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            if threading.current_thread() is threading.main_thread():
                for signum, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
                    loop.add_signal_handler(signum, self._signal, name)
            loop.run_until_complete(self.serve())
        except PersistenceError:  # logged by listen()
            raise SystemExit(1) from None
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    def _signal(self, name: str) -> None:
        log.warning("Received %s scheduling shutdown...", name)
        self.request_shutdown("")

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[Server]:
        """Serve from a background thread for the duration of a ``with`` block (tests, embedding)."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = new_event_loop()
            asyncio.set_event_loop(loop)

            async def main() -> None:
                try:
                    await self.listen()
                except BaseException as error:
                    failure.append(error)
                    started.set()
                    return
                started.set()
                assert self._stopped is not None
                await self._stopped.wait()
                await self._close()

            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        thread = threading.Thread(target=run, name=f"redpocket-server-{self.requested_port}", daemon=True)
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]
        try:
            yield self
        finally:
            self.stop()
            thread.join(timeout=30)

    def stop(self) -> None:
        """Ask the server to shut down (from any thread)."""
        self.request_shutdown("")

    def request_shutdown(self, mode: str) -> None:
        """Shut down: ``mode`` is ``""``, ``"save"`` or ``"nosave"`` (SHUTDOWN's argument)."""
        loop = self.loop
        if loop is None or self._stopped is None or loop.is_closed():
            return
        self._shutdown_mode = mode
        if threading.get_ident() == self.loop_thread_id:
            self._stopped.set()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stopped.set)

    async def _close(self) -> None:
        log.warning("User requested shutdown...")
        if self._cron_handle is not None:
            self._cron_handle.cancel()
        for server in self._servers:
            server.close()
        for connection in list(self.connections.values()):
            connection.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self._servers = []
        self.replication.detach()
        await self.replica_link.close()
        _close_persistence(self.persistence, self._shutdown_mode)
        self.persistence = None
        with contextlib.suppress(ValueError):
            self.engine.ready_listeners.remove(self._keys_ready)
        with contextlib.suppress(ValueError):
            self.engine.unblock_listeners.remove(self._unblocked)
        with contextlib.suppress(ValueError):
            self.engine.script_listeners.remove(self._script_command)
        log.warning("redpocket is now ready to exit, bye bye...")

    def _cron(self) -> None:
        """Periodic work (Redis's serverCron): active expiry, the persistence tick."""
        engine = self.engine
        with engine.lock:
            engine.cron(time.monotonic())
            if self.ready_keys:
                self.serve_ready()
        self.replication.cron()
        tick = getattr(self.persistence, "tick", None)
        if tick is not None:
            try:
                tick()
            except Exception:
                log.exception("persistence tick failed")
        self._cron_handle = self.loop.call_later(1.0 / engine.config.hz, self._cron)

    # -- blocked clients ---------------------------------------------------------------------
    def park(self, connection: ClientConnection, keys: list[tuple[int, bytes]]) -> None:
        """Queue a blocked client behind each key it waits for, in arrival order."""
        join_queues(self.parked, connection, keys)

    def unpark(self, connection: ClientConnection, keys: list[tuple[int, bytes]]) -> None:
        """Remove a client from the queues of its keys."""
        leave_queues(self.parked, connection, keys)

    def _unblocked(self, session: Any) -> None:
        """Engine listener: CLIENT UNBLOCK woke a client; answer it once the current command is done."""
        connection = self.connections.get(session.id)
        if connection is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(connection.wake)

    # -- output ------------------------------------------------------------------------------
    def want_write(self, connection: ClientConnection) -> None:
        """Have ``connection``'s queued replies written once this event-loop turn has read everything."""
        self.pending_writes[connection] = None
        if not self._writes_scheduled:
            self._writes_scheduled = True
            self.loop.call_soon(self._write_pending)

    def _write_pending(self) -> None:
        self._writes_scheduled = False
        pending = self.pending_writes
        self.pending_writes = {}
        for connection in pending:
            connection.write_out()

    # -- CLIENT PAUSE ------------------------------------------------------------------------
    def postpone(self, connection: ClientConnection) -> None:
        """Hold a client back until the pause ends."""
        self.postponed[connection] = None
        self.pause_changed()

    def pause_changed(self) -> None:
        """Resume the postponed clients if the pause is over, else wake up when it ends."""
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        if not self.postponed:
            return
        remaining = self.engine.pause.remaining()
        if remaining:
            self._pause_timer = self.loop.call_later(remaining, self.pause_changed)
        else:
            self.loop.call_soon(self._resume_postponed)

    def _resume_postponed(self) -> None:
        if self.engine.pause.active():
            self.pause_changed()
            return
        for connection in list(self.postponed):
            connection.resume_postponed()

    def _keys_ready(self, keys: set[tuple[int, bytes]]) -> None:
        """Engine listener: keys were written while clients were blocked."""
        if threading.get_ident() == self.loop_thread_id:
            self.ready_keys.update(keys)
        elif self.loop is not None and not self.loop.is_closed():
            wanted = set(keys)
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._ready_from_thread, wanted)

    def _ready_from_thread(self, keys: set[tuple[int, bytes]]) -> None:
        self.ready_keys.update(keys)
        with self.engine.lock:
            self.serve_ready()

    def serve_ready(self) -> None:
        """Retry the clients blocked on ready keys, first come first served."""
        if self._serving_ready:
            return
        self._serving_ready = True
        try:
            while self.ready_keys:
                keys = list(self.ready_keys)
                self.ready_keys.clear()
                for key in keys:
                    waiting = self.parked.get(key)
                    if waiting:
                        for connection in list(waiting):
                            connection.retry_blocked()
        finally:
            self._serving_ready = False

    # -- MONITOR, CLIENT KILL, limits ----------------------------------------------------------
    def feed_monitors(self, source: ClientConnection, argv: list[bytes]) -> None:
        """Send one executed command to every MONITOR client, as Redis formats it."""
        line = b"+%.6f [%d %s] %s\r\n" % (
            time.time(), source.session.db.index, source.address.encode(), b" ".join(quote_arg(a) for a in argv))
        for monitor in list(self.monitors):
            if monitor is not source:
                monitor.send_raw(line)

    def _script_command(self, db_index: int, argv: list[bytes]) -> None:
        """Engine listener: show a command a script ran to MONITOR clients (``[db lua]``), from any thread."""
        if not self.monitors:
            return
        line = b"+%.6f [%d lua] %s\r\n" % (time.time(), db_index, b" ".join(quote_arg(a) for a in argv))
        if threading.get_ident() == self.loop_thread_id:
            self._send_to_monitors(line)
        else:
            with contextlib.suppress(RuntimeError):  # (the loop closed: shutting down)
                self.loop.call_soon_threadsafe(self._send_to_monitors, line)

    def _send_to_monitors(self, line: bytes) -> None:
        for monitor in list(self.monitors):
            monitor.send_raw(line)

    def reap_killed(self, killer: ClientConnection) -> None:
        """Close the sockets of clients whose sessions CLIENT KILL closed."""
        for connection in list(self.connections.values()):
            if connection is not killer and connection.session.closed and not connection.closing:
                connection.close()

    def output_limits(self, kind: str) -> tuple[int, int, int]:
        """Return ``(hard, soft, soft_seconds)`` of ``client-output-buffer-limit`` for a client class."""
        value = self.engine.config.values["client-output-buffer-limit"]
        cached_value, parsed = self._obuf_cache
        if value != cached_value:
            parsed = {}
            words = value.split()
            for i in range(0, len(words) - 3, 4):
                parsed[words[i]] = (int(words[i + 1]), int(words[i + 2]), int(words[i + 3]))
            self._obuf_cache = (value, parsed)
        return parsed.get(kind, (0, 0, 0))


def _open_persistence(engine: Engine) -> Any:
    """Open the append-only file through :mod:`redpocket.engine.persistence` when that module exists."""
    try:
        module = importlib.import_module("redpocket.engine.persistence")
    except ImportError:
        if engine.config.values["appendonly"] == "yes":
            log.warning("appendonly yes asked, but this build has no persistence module: data stays in memory")
        return None
    opener = getattr(module, "open_persistence", None)
    if opener is None:
        return None
    config = engine.config.values
    return opener(engine, dir=config["dir"], appendonly=config["appendonly"] == "yes",
                  appendfsync=config["appendfsync"])


def _close_persistence(persistence: Any, mode: str) -> None:
    """Flush and close the persistence files; ``SHUTDOWN SAVE`` (or a plain SHUTDOWN with save points) snapshots."""
    if persistence is None:
        return
    try:
        save = mode == "save" or (mode == "" and bool(persistence.engine.config.values["save"]))
        try:
            persistence.close(save=save)
        except TypeError:  # a close() without the save flag
            persistence.close()
    except Exception:
        log.exception("closing the persistence files failed")
