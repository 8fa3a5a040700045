"""The redis-py connection class that executes commands in an in-process Engine.

Like httpx's transports, the in-process engine is just another transport
under the same client: :class:`EmbeddedConnection` is a redis-py
connection whose "socket" is a :class:`~redpocket.engine.Session`.  Commands
are never encoded as RESP; arguments are turned into ``bytes`` and handed to
the engine, and replies come back as the values redis-py's parser would
produce, so every response callback, pipeline and transaction of redis-py
works unchanged.

:class:`EmbeddedRedis` is a ``redis.Redis`` whose single-command path skips
the connection pool's retry machinery (nothing can time out in-process).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import redis
from redis._parsers import BaseParser
from redis.connection import AbstractConnection, ConnectionPool

from .engine import Engine, ReplyError
from .engine.blocking import Block
from .engine.commands.pubsub import Push, Pushes
from .engine.commands.pubsub import hub as pubsub_hub
from .engine.replies import NullArray

_REPLY_CONVERSION_COMMANDS = frozenset({b"exec", b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro"})


def to_redis_py(reply: Any) -> Any:
    """Turn engine reply values nested in arrays into what redis-py's parser gives."""
    if type(reply) is list:
        return [to_redis_py(item) for item in reply]
    if type(reply) is ReplyError:
        return BaseParser.parse_error(reply.message)
    if type(reply) is NullArray:
        return None
    return reply


def _decode(reply: Any, encoding: str, errors: str) -> Any:
    if isinstance(reply, bytes):
        return reply.decode(encoding, errors)
    if isinstance(reply, list):
        return [_decode(item, encoding, errors) for item in reply]
    if isinstance(reply, dict):
        return {_decode(k, encoding, errors): _decode(v, encoding, errors) for k, v in reply.items()}
    return reply


def keep_reply(append: Any, argv: list[bytes], reply: Any) -> None:
    """Queue an array reply as redis-py's parser gives it: EXEC's and scripts' nested errors, pub/sub frames one by one."""
    if type(reply) is Pushes:
        for frame in reply:
            append(frame)
    elif argv[0].lower() in _REPLY_CONVERSION_COMMANDS:
        append(to_redis_py(reply))
    else:
        append(reply)


def redis_py_reply(reply: Any, encoder: Any, disable_decoding: bool = False) -> Any:
    """Return a queued reply as redis-py's ``read_response`` does: errors raised, null arrays ``None``, text decoded."""
    kind = type(reply)
    if kind is ReplyError:
        raise BaseParser.parse_error(reply.message)
    if kind is NullArray:
        return None
    if encoder.decode_responses and not disable_decoding:
        return _decode(reply, encoder.encoding, encoder.encoding_errors)
    return reply


def open_session(engine: Engine, deliver: Any) -> Any:
    """Open a client session of ``engine`` whose pub/sub messages go to ``deliver`` (called from any thread)."""
    session = engine.session()
    pubsub_hub(engine).set_deliverer(session, deliver)
    return session


def end_session(session: Any) -> None:
    """Drop a client session's subscriptions and close it."""
    pubsub_hub(session.engine).forget(session)
    session.close()


class _EngineSocket:
    """Stands in for a socket so redis-py's connect/disconnect bookkeeping works."""

    def __init__(self, connection: EmbeddedConnection) -> None:
        self.connection = connection

    def shutdown(self, how: int) -> None:
        """Do nothing: there is no peer."""

    def close(self) -> None:
        """Release the engine session."""
        self.connection.close_session()


class _ArgvPacker:
    """redis-py's command packer, producing argument lists instead of RESP bytes."""

    def __init__(self, connection: Any) -> None:  # (a sync or an asyncio connection: what counts is its encoder)
        encoder = connection.encoder
        self.encode = encoder.encode
        self.text = (encoder.encoding, encoder.encoding_errors)

    def pack(self, *args: Any) -> list[list[bytes]]:
        command = args[0]
        if isinstance(command, str) and " " in command:
            args = tuple(command.split()) + args[1:]
        encode = self.encode
        encoding, errors = self.text
        # bytes, str and numbers, the usual arguments, without the encoder's isinstance chain
        # (which stays for the rest: bool is refused there, as redis-py does)
        return [[arg if (kind := type(arg)) is bytes else arg.encode(encoding, errors) if kind is str
                 else repr(arg).encode() if kind is int or kind is float else encode(arg)
                 for arg in args]]


class EngineEndpoint:
    """What the sync and the asyncio embedded connections share: their session, replies, packing and name."""

    engine: Engine
    session: Any
    db: Any
    _replies: deque[Any]
    packer: _ArgvPacker

    def repr_pieces(self) -> list[tuple[str, Any]]:
        """Describe the connection for ``repr``."""
        return [("engine", hex(id(self.engine))), ("db", self.db)]

    def _host_error(self) -> str:
        return "embedded engine"

    def close_session(self) -> None:
        """Close the engine session (on disconnect) and forget the replies nobody read."""
        if self.session is not None:
            end_session(self.session)
            self.session = None
        self._replies.clear()

    def pack_commands(self, commands: Any) -> list[list[bytes]]:
        """Turn many commands into argument lists (pipelines)."""
        pack = self.packer.pack
        return [pack(*cmd)[0] for cmd in commands]


class EmbeddedConnection(EngineEndpoint, AbstractConnection):
    """A redis-py connection to an in-process :class:`Engine`."""

    def __init__(self, engine: Engine | None = None, **kwargs: Any) -> None:
        self.engine = engine if engine is not None else default_engine()
        self.session: Any = None
        self._replies: deque[Any] = deque()
        self._arrived = threading.Condition(threading.Lock())
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        super().__init__(**kwargs)
        self._command_packer = self.packer = _ArgvPacker(self)

    def _connect(self) -> _EngineSocket:
        self.session = open_session(self.engine, self._deliver)
        return _EngineSocket(self)

    def _deliver(self, message: Any) -> None:
        """Receive a pub/sub message published by any client of the engine (any thread)."""
        with self._arrived:
            self._replies.append(message)
            self._arrived.notify()

    def _wait_for_reply(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: forever) for a reply or message; tell whether one came."""
        if self._replies:
            return True
        with self._arrived:
            return self._arrived.wait_for(lambda: bool(self._replies), timeout)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Execute already "packed" commands (argument lists) and keep their replies."""
        if self._sock is None:
            self.connect_check_health(check_health=False)
        session = self.session
        execute = session.engine.execute
        pause = session.engine.pause
        append = self._replies.append
        for argv in command:
            # While CLIENT PAUSE is on, the waiting entry point holds the command back.
            reply = session.call(argv) if pause.until else execute(session, argv)
            kind = type(reply)
            if kind is Block:
                reply = session.call(argv)
            elif kind is list or kind is Pushes:
                keep_reply(append, argv, reply)
                continue
            append(reply)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Execute one command and keep its reply."""
        self.send_packed_command(self._command_packer.pack(*args))

    def can_read(self, timeout: float | None = 0) -> bool:
        """Tell whether a reply (or pub/sub message) is waiting, waiting up to ``timeout`` seconds."""
        return self._wait_for_reply(timeout or 0)

    def read_response(self, disable_decoding: bool = False, *, timeout: Any = None, disconnect_on_error: bool = True, push_request: bool = False) -> Any:
        """Return the next reply, raising it when it is an error (a subscriber waits for its next message).

        A RESP3 push that is not what the caller reads (``push_request``), such
        as a client-side caching invalidation, goes to the parser's push
        handlers as redis-py's own parsers do, and the next reply is returned.
        """
        while True:
            if not self._replies:
                wait = None if timeout is None or not isinstance(timeout, int | float) else timeout
                if not self._wait_for_reply(wait):
                    raise redis.TimeoutError("Timeout reading from embedded engine")
            reply = self._replies.popleft()
            kind = type(reply)
            if kind is not Push or push_request:
                break
            handle = getattr(self._parser, "handle_push_response", None)
            if handle is not None:
                handle(list(reply))
        return redis_py_reply(reply, self.encoder, disable_decoding)


class EmbeddedRedis(redis.Redis):
    """A ``redis.Redis`` bound to an in-process engine, with a lean single-command path."""

    def __init__(self, engine: Engine | None = None, *, db: int = 0, decode_responses: bool = False, **kwargs: Any) -> None:
        self.engine = engine if engine is not None else default_engine()
        pool = ConnectionPool(
            connection_class=EmbeddedConnection,
            engine=self.engine,
            db=db,
            decode_responses=decode_responses,
            **kwargs,
        )
        super().__init__(connection_pool=pool, decode_responses=decode_responses)
        self._local = threading.local()

    def _thread_connection(self) -> EmbeddedConnection:
        conn = getattr(self._local, "connection", None)
        if conn is None or conn._sock is None:
            conn = self.connection_pool.make_connection()
            conn.connect()
            self._local.connection = conn
        assert isinstance(conn, EmbeddedConnection)
        return conn

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Execute one command in the engine and apply redis-py's response callback."""
        if self.connection is not None:
            return super().execute_command(*args, **options)
        conn = self._thread_connection()
        conn.send_packed_command(conn._command_packer.pack(*args))
        return self.parse_response(conn, args[0], **options)


_default_engine: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """Return the process-wide engine that ``connect()`` uses by default."""
    global _default_engine
    with _default_lock:
        if _default_engine is None:
            _default_engine = Engine()
        return _default_engine
