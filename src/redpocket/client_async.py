"""The redis-py asyncio connection class that executes commands in an in-process Engine.

The asyncio twin of :mod:`redpocket.client`, sharing its decisions: the
same argument packing (:class:`~redpocket.client._ArgvPacker`), the same
reply shaping (:func:`~redpocket.client.keep_reply`,
:func:`~redpocket.client.redis_py_reply`).  Only the waiting differs: a
blocking command (``BLPOP``, ``BLMOVE``, ``BZPOPMIN``...), a command held by
``CLIENT PAUSE`` and a subscriber waiting for its next message suspend the
awaiting task instead of the event loop's thread.  A blocked task is parked
in :class:`BlockedTasks`, which listens to the engine's ``ready_listeners``
and ``unblock_listeners``: a write from any thread or task (or ``CLIENT
UNBLOCK``) wakes it through its loop's ``call_soon_threadsafe``, and it runs
its command again, as the TCP server retries its parked clients.

:class:`AsyncEmbeddedRedis` is a ``redis.asyncio.Redis`` whose
single-command path takes an idle connection from a plain list instead of
the pool's lock and retry machinery (nothing can time out in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import weakref
from collections import deque
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.connection import AbstractConnection

from .client import (
    EngineEndpoint,
    _ArgvPacker,
    client_arguments_for_url,
    default_engine,
    keep_reply,
    open_session,
    pool_engine_and_decoding,
    redis_py_reply,
)
from .engine import Engine
from .engine.blocking import Block, WaitQueues, join_queues, leave_queues
from .engine.commands.pubsub import Push, Pushes

# How often a command held back by CLIENT PAUSE looks again whether the pause is over (seconds).
_PAUSE_POLL = 0.005


def _fire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Waiter:
    """One task waiting for the engine: a future on its loop, set from any thread."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        """Wake the task (callable from any thread; a closed loop has nobody left to wake)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_fire, self.future)

    def rearm(self) -> None:
        """Wait again after a wake-up that did not serve the command (the caller holds the engine lock)."""
        self.future = self.loop.create_future()


class BlockedTasks:
    """The asyncio tasks of one engine parked in blocking commands, by the keys they wait for.

    Every method runs under the engine's lock: the engine calls
    :meth:`keys_ready` and :meth:`unblocked` holding it, and the connections
    park and unpark holding it.
    """

    def __init__(self, engine: Engine) -> None:
        self.waiting: WaitQueues = {}
        self.sessions: dict[int, _Waiter] = {}
        engine.ready_listeners.append(self.keys_ready)
        engine.unblock_listeners.append(self.unblocked)

    def park(self, waiter: _Waiter, session_id: int, keys: list[tuple[int, bytes]]) -> None:
        """Queue ``waiter`` behind each of ``keys``, in arrival order."""
        join_queues(self.waiting, waiter, keys)
        self.sessions[session_id] = waiter

    def unpark(self, waiter: _Waiter, session_id: int, keys: list[tuple[int, bytes]]) -> None:
        """Take ``waiter`` out of the queues of its keys."""
        leave_queues(self.waiting, waiter, keys)
        self.sessions.pop(session_id, None)

    def keys_ready(self, keys: set[tuple[int, bytes]]) -> None:
        """Engine listener: ``keys`` were written while clients were blocked; wake their tasks, first come first."""
        for key in keys:
            for waiter in self.waiting.get(key, ()):
                waiter.wake()

    def unblocked(self, session: Any) -> None:
        """Engine listener: CLIENT UNBLOCK ended the wait of ``session``."""
        waiter = self.sessions.get(session.id)
        if waiter is not None:
            waiter.wake()


_blocked_tasks: weakref.WeakKeyDictionary[Engine, BlockedTasks] = weakref.WeakKeyDictionary()


def blocked_tasks(engine: Engine) -> BlockedTasks:
    """Return the parked tasks of ``engine`` (listening from the first call on); the caller holds its lock."""
    tasks = _blocked_tasks.get(engine)
    if tasks is None:
        tasks = _blocked_tasks[engine] = BlockedTasks(engine)
    return tasks


class AsyncEmbeddedConnection(EngineEndpoint, AbstractConnection):  # type: ignore[misc]
    """A ``redis.asyncio`` connection to an in-process :class:`Engine`."""

    def __init__(self, engine: Engine | None = None, **kwargs: Any) -> None:
        self.engine = engine if engine is not None else default_engine()
        self.session: Any = None
        self._replies: deque[Any] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrival: asyncio.Future[None] | None = None
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        super().__init__(**kwargs)
        self.packer = _ArgvPacker(self)

    @property
    def is_connected(self) -> bool:
        """Tell whether the connection has an engine session."""
        return self.session is not None

    async def _connect(self) -> None:
        self.session = open_session(self.engine, self._deliver)

    def _close(self) -> None:
        """Close the engine session."""
        self.close_session()

    async def disconnect(self, nowait: bool = False, error: Exception | None = None, failure_count: int | None = None,
                         health_check_failed: bool = False) -> None:
        """Close the engine session (there is no socket to wait for)."""
        self._parser.on_disconnect()
        self.reset_should_reconnect()
        self._close()

    def _deliver(self, message: Any) -> None:
        """Receive a pub/sub message published by any client of the engine (any thread)."""
        self._replies.append(message)
        arrival, loop = self._arrival, self._loop
        if arrival is not None and loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fire, arrival)

    # -- sending: executing in the engine ------------------------------------------------
    def pack_command(self, *args: Any) -> list[list[bytes]]:  # type: ignore[override]
        """Turn a command into its argument list."""
        return self.packer.pack(*args)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Execute already "packed" commands (argument lists) and keep their replies.

        A command that blocks suspends this task until it is served or times
        out; the commands behind it run after it, as on a Redis connection.
        """
        if self.session is None:
            await self.connect_check_health(check_health=False)
        session = self.session
        engine = self.engine
        append = self._replies.append
        for argv in command:
            if engine.pause.until:
                await self._wait_for_pause(argv)
            with engine.lock:
                reply = engine.execute_locked(session, argv)
                kind = type(reply)
                if kind is Block:
                    waiter = self._park(reply)
            if kind is Block:
                reply = await self._wait_blocked(argv, reply, waiter)
            elif kind is list or kind is Pushes:
                keep_reply(append, argv, reply)
                continue
            append(reply)

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Execute one command and keep its reply."""
        await self.send_packed_command(self.packer.pack(*args))

    def _park(self, block: Block) -> _Waiter:
        """Register this connection's session as blocked on ``block``'s keys (the caller holds the engine lock)."""
        waiter = _Waiter(asyncio.get_running_loop())  # (the loop of this call: a connection may outlive a loop)
        session = self.session
        db_index = session.db.index
        blocked_tasks(self.engine).park(waiter, session.id, [(db_index, key) for key in block.keys])
        session.blocked = block
        self.engine.blocked_clients += 1
        return waiter

    async def _wait_blocked(self, argv: list[bytes], block: Block, waiter: _Waiter) -> Any:
        """Suspend until the blocked command is served, times out or is unblocked; return its reply."""
        engine, session = self.engine, self.session
        keys = [(session.db.index, key) for key in block.keys]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block.timeout if block.timeout else None
        try:
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return block.timeout_reply
                try:
                    await asyncio.wait_for(waiter.future, remaining)
                except asyncio.TimeoutError:
                    return block.timeout_reply
                with engine.lock:
                    if session.wakeup is not None:  # CLIENT UNBLOCK
                        return session.wakeup[0]
                    reply = engine.execute_locked(session, argv)
                    if type(reply) is not Block:
                        return reply
                    waiter.rearm()
        finally:
            with engine.lock:
                blocked_tasks(engine).unpark(waiter, session.id, keys)
                engine.blocked_clients -= 1
                session.blocked = session.wakeup = None

    async def _wait_for_pause(self, argv: list[bytes]) -> None:
        """Suspend while CLIENT PAUSE holds this command back (Redis counts the client as blocked meanwhile)."""
        engine, pause = self.engine, self.engine.pause
        with engine.lock:
            if not pause.holds(engine, self.session, argv):
                return
            engine.blocked_clients += 1
        try:
            while True:
                await asyncio.sleep(min(pause.remaining(), _PAUSE_POLL))
                with engine.lock:
                    if not pause.holds(engine, self.session, argv):
                        return
        finally:
            with engine.lock:
                engine.blocked_clients -= 1

    # -- reading: the queued replies -------------------------------------------------------
    async def can_read_destructive(self) -> bool:
        """Tell whether a reply (or pub/sub message) is waiting."""
        return bool(self._replies)

    can_read = can_read_destructive

    async def read_response(  # type: ignore[override]
        self, disable_decoding: bool = False, timeout: float | None = None, *, disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        """Return the next reply, raising it when it is an error (a subscriber waits for its next message).

        ``timeout`` as in redis-py: ``None`` waits ``socket_timeout`` (then
        raises ``TimeoutError``), ``math.inf`` forever, a number that many
        seconds (then returns ``None``).  A RESP3 push the caller is not
        reading goes to the parser's push handlers, as redis-py's parsers do.
        """
        replies = self._replies
        while True:
            if not replies and not await self._arrived(timeout):
                if timeout is None:
                    raise redis.TimeoutError("Timeout reading from embedded engine")
                return None
            reply = replies.popleft()
            if type(reply) is not Push or push_request:
                return redis_py_reply(reply, self.encoder, disable_decoding)
            handle = getattr(self._parser, "handle_push_response", None)
            if handle is not None:
                handled = handle(list(reply))
                if inspect.isawaitable(handled):
                    await handled

    async def _arrived(self, timeout: float | None) -> bool:
        """Wait for a reply or message to be queued (see :meth:`read_response` for ``timeout``); tell whether one was."""
        wait = self.socket_timeout if timeout is None else None if timeout == math.inf else timeout
        if wait is not None and wait <= 0:
            return bool(self._replies)
        self._loop = loop = asyncio.get_running_loop()
        arrival = self._arrival = loop.create_future()
        try:
            if not self._replies:  # (a message queued before the future was published would not set it)
                await asyncio.wait_for(arrival, wait)
        except asyncio.TimeoutError:
            pass
        finally:
            self._arrival = None
        return bool(self._replies)


class AsyncEmbeddedRedis(redis.asyncio.Redis):
    """A ``redis.asyncio.Redis`` bound to an in-process engine, with a lean single-command path.

    ``AsyncEmbeddedRedis(engine, db=0, decode_responses=False, **options)``
    takes ``redis.asyncio.Redis``'s options; ``AsyncEmbeddedRedis(
    connection_pool=pool)`` uses an existing pool, whose engine it takes, as
    ``type(client)(connection_pool=...)`` does (a library copying its client).
    """

    def __init__(
        self, engine: Engine | None = None, *, connection_pool: redis.asyncio.ConnectionPool | None = None, db: int = 0,
        decode_responses: bool = False, **kwargs: Any,
    ) -> None:
        if connection_pool is None:
            self.engine = engine if engine is not None else default_engine()
            kwargs.pop("unix_socket_path", None)
            connection_pool = redis.asyncio.ConnectionPool(
                connection_class=kwargs.pop("connection_class", AsyncEmbeddedConnection),
                engine=self.engine,
                db=db,
                decode_responses=decode_responses,
                **kwargs,
            )
        else:
            if kwargs or engine is not None:
                raise TypeError("AsyncEmbeddedRedis(connection_pool=...) takes its engine and options from the pool")
            self.engine, decode_responses = pool_engine_and_decoding(connection_pool)
        super().__init__(connection_pool=connection_pool, decode_responses=decode_responses)
        self._idle: list[AsyncEmbeddedConnection] = []
        # The lean path needs the pool to make engine connections (a pool of sockets takes redis-py's path).
        self._embedded = issubclass(connection_pool.connection_class, AsyncEmbeddedConnection)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncEmbeddedRedis:  # type: ignore[override]
        """Build a client from a URL: ``memory://[name]``, ``file:///dir``, or a ``redis://`` URL's options (as the sync client)."""
        engine, options = client_arguments_for_url(cls.__name__, url, kwargs)
        return cls(engine, **options)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Execute one command in the engine and apply redis-py's response callback.

        Each call takes an idle connection of its own, so a task suspended in
        a blocking command never shares its connection with another task.
        """
        if self.single_connection_client or not self._embedded:
            return await super().execute_command(*args, **options)
        idle = self._idle
        conn = idle.pop() if idle else self.connection_pool.make_connection()
        try:
            await conn.send_packed_command(conn.packer.pack(*args))
            response = await self.parse_response(conn, args[0], **options)  # type: ignore[arg-type]
        except redis.ResponseError:
            idle.append(conn)
            raise
        except BaseException:  # (cancelled in a blocking command: the session may hold state; drop it)
            await conn.disconnect()
            raise
        idle.append(conn)
        return response

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the idle connections of the single-command path, then the pool (as redis-py does)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect()
        await super().aclose(close_connection_pool)
