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
It is built the ways a library builds a ``redis.Redis``: ``EmbeddedRedis(engine)``,
``EmbeddedRedis.from_url("memory://")``, ``EmbeddedRedis(connection_pool=pool)``
(so ``type(client)(connection_pool=client.connection_pool)`` copies a
client), and a plain ``redis.Redis`` works too with
``ConnectionPool(connection_class=EmbeddedConnection, engine=engine)``.

Threads share the engine (each command is atomic); a thread waiting for a
reply or a pub/sub message on a connection (``get_message(timeout=...)``,
``listen()``) is woken by whatever thread produces it.  A forked child gets
a *copy* of the engine, as with any in-process store: its writes stay in
the child, and the parent never sees them (run job workers that fork, such
as rq's default ``Worker``, against ``redpocket serve``, or use a worker
that does not fork).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import redis
from redis._parsers import BaseParser
from redis.connection import AbstractConnection, ConnectionPool, parse_url

from .engine import Engine, ReplyError, add_structure
from .engine.blocking import Block
from .engine.pubsub import hub as pubsub_hub
from .engine.replies import NullArray, Push, Pushes
from .errors import ConfigurationError

# Commands whose replies may nest engine-only values (a null array inside GEOPOS's array, XPENDING's
# and XREADGROUP's nested null arrays: no pending entries, an entry deleted since delivery ...).
_REPLY_CONVERSION_COMMANDS = frozenset({b"exec", b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro",
                                        b"geopos", b"xpending", b"xreadgroup"})


def to_redis_py(reply: Any) -> Any:
    """Turn engine reply values nested in arrays into what redis-py's parser gives."""
    if type(reply) is list:
        return [to_redis_py(item) for item in reply]
    if type(reply) is dict:
        return {key: to_redis_py(item) for key, item in reply.items()}
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


# What a pool or URL may hand a connection that only a socket uses (a URL's host names no engine).
_TRANSPORT_OPTIONS = frozenset({
    "host", "port", "path", "socket_keepalive", "socket_keepalive_options", "socket_type",
})


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
    """A redis-py connection to an in-process :class:`Engine`.

    Options that only a socket uses (``host``, ``port``, ``path``,
    keepalive, ``ssl*``) are accepted and ignored, so a pool built from a
    ``redis://`` URL with ``connection_class=EmbeddedConnection`` works;
    its engine is ``engine=`` or the process-wide :func:`default_engine`.
    """

    def __init__(self, engine: Engine | None = None, **kwargs: Any) -> None:
        self.engine = engine if engine is not None else default_engine()
        from .server.migrate import install_migrate_transport  # MIGRATE's sockets live with the server

        install_migrate_transport(self.engine)
        with _in_use_lock:
            _engines_in_use.add(self.engine)
        self.session: Any = None
        self._replies: deque[Any] = deque()
        self._arrived = threading.Condition(threading.Lock())
        self._waiting = 0  # threads in _wait_for_reply: a sender notifies only when there are some
        for option in [name for name in kwargs if name in _TRANSPORT_OPTIONS or name.startswith("ssl")]:
            del kwargs[option]
        super().__init__(**kwargs)
        self._command_packer = self.packer = _ArgvPacker(self)

    def _connect(self) -> _EngineSocket:
        self.session = open_session(self.engine, self._deliver)
        return _EngineSocket(self)

    def _deliver(self, message: Any) -> None:
        """Receive a pub/sub message published by any client of the engine (any thread)."""
        with self._arrived:
            self._replies.append(message)
            self._arrived.notify_all()

    def _wake_waiters(self) -> None:
        """Wake the threads waiting for a reply on this connection (another thread just queued one, or closed it)."""
        # A waiter counts itself under the lock before it checks the queue, so a
        # sender that appended first and saw no waiter leaves nothing unseen.
        if self._waiting:
            with self._arrived:
                self._arrived.notify_all()

    def _wait_for_reply(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: forever) for a reply or message; tell whether one came.

        A closed connection counts as an answer: reading it then raises ``ConnectionError``.
        """
        if self._replies:
            return True
        with self._arrived:
            self._waiting += 1
            try:
                return self._arrived.wait_for(lambda: bool(self._replies) or self.session is None, timeout)
            finally:
                self._waiting -= 1

    def close_session(self) -> None:
        """Close the engine session (on disconnect); wake any thread waiting for a reply."""
        super().close_session()
        self._wake_waiters()

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
            reply = session.execute_blocking(argv) if pause.until else execute(session, argv)
            kind = type(reply)
            if kind is Block:  # (counted once, as it ran: the waiting goes on from here)
                reply = session.engine.wait_blocked(session, argv, reply)
                kind = type(reply)
            if kind is list or kind is dict or kind is Pushes:
                keep_reply(append, argv, reply)
                continue
            append(reply)
        if self._waiting:  # another thread reads this connection (a pub/sub reader)
            self._wake_waiters()

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
                if not self._replies:
                    raise redis.ConnectionError("Connection closed by the embedded engine's client")
            reply = self._replies.popleft()
            kind = type(reply)
            # (Under RESP2 a frame is a plain array reply: UNSUBSCRIBE sent outside pub/sub answers with it.)
            if kind is not Push or push_request or (self.session is not None and self.session.protocol == 2):
                break
            handle = getattr(self._parser, "handle_push_response", None)
            if handle is not None:
                handle(list(reply))
        return redis_py_reply(reply, self.encoder, disable_decoding)


# redis.Redis options that configure the client itself rather than its connections.
_CLIENT_OPTIONS = frozenset({"single_connection_client", "event_dispatcher"})


class EmbeddedRedis(redis.Redis):
    """A ``redis.Redis`` bound to an in-process engine, with a lean single-command path.

    ``EmbeddedRedis(engine, db=0, decode_responses=False, **options)`` takes
    ``redis.Redis``'s options (those that configure a socket are ignored);
    ``EmbeddedRedis(connection_pool=pool)`` uses an existing pool, whose
    engine it takes, as ``type(client)(connection_pool=...)`` does.
    """

    def __init__(
        self, engine: Engine | None = None, *, connection_pool: ConnectionPool | None = None, db: int = 0,
        decode_responses: bool = False, **kwargs: Any,
    ) -> None:
        client_options = {name: kwargs.pop(name) for name in _CLIENT_OPTIONS.intersection(kwargs)}
        if connection_pool is None:
            self.engine = engine if engine is not None else default_engine()
            kwargs.pop("unix_socket_path", None)
            connection_pool = ConnectionPool(
                connection_class=kwargs.pop("connection_class", EmbeddedConnection),
                engine=self.engine,
                db=db,
                decode_responses=decode_responses,
                **kwargs,
            )
        else:
            if kwargs or engine is not None:
                raise TypeError("EmbeddedRedis(connection_pool=...) takes its engine and options from the pool")
            self.engine, decode_responses = pool_engine_and_decoding(connection_pool)
        super().__init__(connection_pool=connection_pool, decode_responses=decode_responses, **client_options)
        # The lean path needs the pool to make engine connections (a pool of sockets takes redis-py's path).
        self._embedded = issubclass(connection_pool.connection_class, EmbeddedConnection)
        self._local = threading.local()
        # Each thread's connection, outside the pool: close() ends their engine sessions.
        self._thread_connections: weakref.WeakSet[EmbeddedConnection] = weakref.WeakSet()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> EmbeddedRedis:  # type: ignore[override]
        """Build a client from a URL: ``memory://[name]``, ``file:///dir`` (see :func:`engine_for_url`).

        A ``redis://``, ``rediss://`` or ``unix://`` URL, as a library's
        settings may hold, gives the process-wide engine with the URL's
        database and options: there is no server to reach in-process.
        """
        engine, options = client_arguments_for_url(cls.__name__, url, kwargs)
        return cls(engine, **options)

    def _thread_connection(self) -> EmbeddedConnection:
        conn = getattr(self._local, "connection", None)
        if conn is None or conn._sock is None:
            conn = self.connection_pool.make_connection()
            assert isinstance(conn, EmbeddedConnection)
            conn.connect()
            self._local.connection = conn
            self._thread_connections.add(conn)
        return conn

    def close(self) -> None:
        """Close the client: its threads' engine sessions end (they leave CLIENT LIST), as redis-py's pool does."""
        for conn in list(getattr(self, "_thread_connections", ())):  # (also from __del__ after a failed __init__)
            conn.disconnect()
        super().close()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Execute one command in the engine and apply redis-py's response callback."""
        if self.connection is not None or not self._embedded:
            return super().execute_command(*args, **options)
        conn = self._thread_connection()
        conn.send_packed_command(conn._command_packer.pack(*args))
        return self.parse_response(conn, args[0], **options)


_default_engine: Engine | None = None
_default_lock = threading.Lock()
_engines: dict[str, Engine] = {}

# The engines embedded connections use in this process.  os.fork() waits for
# the command each one is running, so a child's copy is taken between two
# commands, and the child starts with every engine unlocked (the thread that
# held a lock does not exist there).
_engines_in_use: weakref.WeakSet[Engine] = weakref.WeakSet()
_in_use_lock = threading.Lock()


_forking = threading.local()  # the engines the forking thread locked


def _lock_engines_for_fork() -> None:
    with _in_use_lock:
        _forking.engines = sorted(_engines_in_use, key=id)  # (one order, should two threads fork at once)
    for engine in _forking.engines:
        engine.lock.acquire()


def _unlock_engines_after_fork() -> None:
    for engine in _forking.__dict__.pop("engines", ()):
        engine.lock.release()


def _reset_engines_in_child() -> None:
    for engine in _forking.__dict__.pop("engines", ()):
        engine.condition._at_fork_reinit()  # (a new, unlocked lock and no waiters)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_lock_engines_for_fork, after_in_parent=_unlock_engines_after_fork,
        after_in_child=_reset_engines_in_child,
    )


def default_engine() -> Engine:
    """Return the process-wide engine that ``connect()`` uses by default."""
    global _default_engine
    with _default_lock:
        if _default_engine is None:
            _default_engine = Engine()
        return _default_engine


def client_arguments_for_url(client_name: str, url: str, kwargs: dict[str, Any]) -> tuple[Engine | None, dict[str, Any]]:
    """Decide the engine and options an embedded client's ``from_url(url, **kwargs)`` builds it with (sync and async).

    ``memory://`` and ``file://`` name an engine (see :func:`engine_for_url`);
    a ``redis://``, ``rediss://`` or ``unix://`` URL, as a library's settings
    may hold, gives the process-wide engine (``None``) with the URL's
    database and options: there is no server to reach in-process.
    """
    kwargs = dict(kwargs)
    scheme = url.partition(":")[0].lower()
    if scheme in ("memory", "file"):
        engine, options = engine_for_url(url, kwargs.pop("structures", ()), kwargs.pop("engine", None))
        return engine, {**options, **kwargs}
    if scheme in ("redis", "rediss", "unix"):
        options = parse_url(url)
        for option in ("host", "port", "path", "connection_class"):
            options.pop(option, None)
        return kwargs.pop("engine", None), {**kwargs, **options}
    raise ConfigurationError(f"{client_name}.from_url: use memory://, file://, or a redis:// URL, not {url!r}")


def pool_engine_and_decoding(pool: Any) -> tuple[Engine, bool]:
    """Return the engine an embedded client built on ``pool`` uses, and whether the pool decodes replies."""
    engine = pool.connection_kwargs.get("engine")
    return (engine if engine is not None else default_engine()), bool(pool.connection_kwargs.get("decode_responses", False))


def engine_for_url(url: str, structures: Any = (), engine: Engine | None = None) -> tuple[Engine, dict[str, Any]]:
    """Return the engine a ``memory://`` or ``file://`` URL names, and the client options its query sets.

    ``memory://`` is the process-wide engine; ``memory://name`` one engine
    per name; ``file:///dir`` the one engine of this process persisted in
    that directory (``?appendfsync=always|everysec|no``).  ``?db=N`` selects
    the database.  ``structures`` (Memo extensions) are added to the engine;
    an ``engine`` given is used instead of the one the URL names.
    """
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    options: dict[str, Any] = {}
    if "db" in query:
        options["db"] = int(query["db"][0])
    if engine is None:
        if parsed.scheme == "file":
            directory = _file_directory(url, parsed)
            engine = _persistent_engine(directory, query.get("appendfsync", ["everysec"])[0], structures)
        elif parsed.netloc or parsed.path not in ("", "/"):
            engine = _named_engine((parsed.netloc + parsed.path).strip("/"))
        else:
            engine = default_engine()
    for structure in structures:
        add_structure(engine, structure)
    return engine, options


def _file_directory(url: str, parsed: Any) -> str:
    """Return the directory of a ``file:`` URL: absolute, or relative to the working directory."""
    if parsed.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"{url!r} names the host {parsed.netloc!r}: write file:///absolute/dir for an absolute path, "
            f"or file:{parsed.netloc}{parsed.path} for a directory relative to the working directory"
        )
    directory = unquote(parsed.path)
    if not directory:
        raise ConfigurationError(f"file: URLs need a directory: file:///var/lib/app/db or file:data/db, not {url!r}")
    return str(Path(directory).resolve())  # file:data/db and file:./data/db: relative to the working directory


def _named_engine(name: str) -> Engine:
    with _default_lock:
        if name not in _engines:
            _engines[name] = Engine()
        return _engines[name]


def _persistent_engine(directory: str, appendfsync: str, structures: Any) -> Engine:
    """Return the one engine of this process persisted in ``directory`` (opened on first use)."""
    from .engine.persistence.manager import open_persistent_engine

    key = "file:" + str(Path(directory).resolve())
    with _default_lock:
        if key not in _engines:
            _engines[key] = open_persistent_engine(directory, appendfsync=appendfsync, structures=structures)
        return _engines[key]


def engine_from_rdb_file(path: str | os.PathLike[str]) -> Engine:
    """Return a new engine holding the keys of the RDB file at ``path`` (written by redis-server or redpocket).

    Raises ``OSError`` when the file cannot be read and
    :class:`~redpocket.engine.persistence.records.CorruptFileError` (with the
    offset) when its bytes are not an RDB file.
    """
    from .engine.persistence.rdb_file import load_rdb_data

    data = Path(path).read_bytes()
    engine = Engine()
    load_rdb_data(engine, data, str(path))
    return engine
