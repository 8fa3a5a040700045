"""One client connection: request parsing, execution in the engine, replies, per-client state.

The hot path (:meth:`ClientConnection.data_received` with
``_run_fast``) feeds each read to ``hiredis.Reader``, executes every
complete command it yields and writes all the replies in one
``transport.write``.  It runs while the client is authenticated, not
subscribed, not monitoring, and the read starts a well-formed request.
Anything else — inline commands, a request split across reads, hostile
lengths, protocol errors, AUTH, pub/sub context — goes through the exact
Python parser (:class:`.protocol.RequestParser`) and the checked path
(``_run_checked``), which mirror Redis's ``processInputBuffer`` and
``processCommand``.

Per-client state is the engine :class:`~redpocket.engine.session.Session`
(db, MULTI, WATCH, name, protocol) plus what only a socket has here:
authentication, a blocked command, MONITOR mode, pause/resume of reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, Protocol

import hiredis

from ..engine.acl import users
from ..engine.blocking import Block
from ..engine.commands.connection import REPLY_OFF, REPLY_ON, ReplyMode
from ..engine.pubsub import hub
from ..engine.replies import OK, PONG, Push, Pushes, ReplyError, SimpleString
from ..engine.tracking import tracking
from .commands import Action
from .protocol import ProtocolError, RequestParser, encode, error_line
from .scripts import SCRIPT_COMMANDS, ScriptCall

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("redpocket.server")

# Reads hiredis must not see go to the exact parser: an aggregate header with a
# count of 7 digits or more (hiredis would allocate for it at once), and a
# line starting "+" or "=" (hiredis returns those items as bytes, where Redis
# wants "$").  Translated by _SHAPES, a digit reads "d", an aggregate type
# byte "*", a newline "n" and "+"/"=" "+": substring searches (find(),
# quicker than ``in`` on bytes), several times faster than a regular expression.
# "n+" is only looked for once a "+" is found: a lone byte is a memchr, while a
# two-byte needle whose first byte is as common as "n" costs about 2 ns a byte.
_SHAPES: Final = bytes(
    ord("d") if chr(byte).isdigit() else ord("*") if chr(byte) in "*%~>|" else ord("n") if byte == 10
    else ord("+") if chr(byte) in "+=" else ord(".")
    for byte in range(256)
)
_HUGE_COUNT: Final = b"*ddddddd"
_STRING_MARK: Final = b"+"
_STRING_ITEM: Final = b"n+"
# Fed after a read's last request: an empty request when hiredis holds no half-parsed one.
_EMPTY_REQUEST: Final = b"*0\r\n"
_SIMPLE: Final = {b"OK": b"+OK\r\n", b"PONG": b"+PONG\r\n", b"QUEUED": b"+QUEUED\r\n"}
_SMALL_INTS: Final = [b":%d\r\n" % i for i in range(1024)]
_BULK_HEADS: Final = [b"$%d\r\n" % i for i in range(1024)]

NOAUTH: Final = b"-NOAUTH Authentication required.\r\n"
NOAUTH_HELLO: Final = error_line(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
    "version at the same time"
)
_NO_AUTH_COMMANDS: Final = frozenset({b"auth", b"hello", b"quit"})
_PUBSUB_CONTEXT: Final = frozenset(
    {b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe", b"ssubscribe", b"sunsubscribe",
     b"ping", b"quit", b"reset"}
)
# The Block of a client whose command waits for CLIENT PAUSE to end.
POSTPONED: Final = Block([], 0, None)
# The Block of a client whose script runs in a worker thread (see scripts.py).
SCRIPTING: Final = Block([], 0, None)
# The Block of a client in WAIT, until its replicas acknowledge (see replication.py).
WAITING: Final = Block([], 0, None)
# What _run_fast does after its loop: nothing more, flush and stop, or hand the rest to the exact parser.
_DONE: Final = "done"
_FLUSH: Final = "flush"
_CHECKED: Final = "checked"
_HANDOVER: Final = "handover"
_NOTHING: Final[dict[bytes, Any]] = {}  # the spellings run inline inside MULTI
# Under this slow-log threshold (seconds) every command is timed alone.
_RUN_THRESHOLD: Final = 0.001
_NOT_MONITORED: Final = frozenset({b"auth", b"hello", b"monitor", b"quit"})
_REPR: Final = {92: b"\\\\", 34: b'\\"', 10: b"\\n", 13: b"\\r", 9: b"\\t", 7: b"\\a", 8: b"\\b"}


def quote_arg(arg: bytes) -> bytes:
    """Quote one argument as Redis's ``sdscatrepr`` does (MONITOR lines)."""
    out = bytearray(b'"')
    for byte in arg:
        special = _REPR.get(byte)
        if special is not None:
            out += special
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\x%02x" % byte
    out += b'"'
    return bytes(out)


class Host(Protocol):
    """What a connection needs from the server that accepted it (``server.Server`` is the one host).

    Written down here so this module never imports the server module: the
    server knows its connections, a connection knows only this.
    """

    engine: Engine
    loop: asyncio.AbstractEventLoop
    loop_thread_id: int
    connections: dict[int, ClientConnection]
    protected_mode_message: str
    monitors: dict[ClientConnection, None]
    postponed: dict[ClientConnection, None]
    ready_keys: set[tuple[int, bytes]]
    replication: Any
    replica_link: Any

    def feed_monitors(self, source: ClientConnection, argv: list[bytes]) -> None:
        """Send one executed command to every MONITOR client."""

    def output_limits(self, kind: str) -> tuple[int, int, int]:
        """Return ``(hard, soft, soft_seconds)`` of ``client-output-buffer-limit`` for a client class."""

    def park(self, connection: ClientConnection, keys: list[tuple[int, bytes]]) -> None:
        """Queue a blocked client behind each key it waits for."""

    def unpark(self, connection: ClientConnection, keys: list[tuple[int, bytes]]) -> None:
        """Remove a client from the queues of its keys."""

    def pause_changed(self) -> None:
        """Resume the postponed clients if the pause is over."""

    def postpone(self, connection: ClientConnection) -> None:
        """Hold a client back until the pause ends."""

    def reap_killed(self, killer: ClientConnection) -> None:
        """Close the sockets of clients whose sessions CLIENT KILL closed."""

    def request_shutdown(self, mode: str) -> None:
        """Shut down (SHUTDOWN's argument)."""

    def serve_ready(self) -> None:
        """Retry the clients blocked on ready keys."""

    def want_write(self, connection: ClientConnection) -> None:
        """Have ``connection``'s queued replies written at the end of this event-loop turn."""


class ClientConnection(asyncio.Protocol):
    """The asyncio protocol of one client socket."""

    def __init__(self, server: Host) -> None:
        self.server = server
        self.engine = server.engine
        self.execute = server.engine.execute
        # The hot path holds the engine lock for a whole read's requests and
        # runs each through the engine's lock-free entry point when it has one.
        self.lock = server.engine.lock
        self.execute_locked = getattr(server.engine, "execute_locked", server.engine.execute)
        self.transport: Any = None
        self.session: Any = None
        self.reader = hiredis.Reader()
        self.parser: RequestParser | None = None
        self.chunk = b""  # the read hiredis is working through
        self.chunk_done = 0  # requests of ``chunk`` already taken
        self.out: list[bytes] | None = None
        self.authenticated = True
        self.subscribed = False
        self.monitor = False
        self.blocked: tuple[list[bytes], Block] | None = None
        self.block_keys: list[tuple[int, bytes]] = []
        self.block_timer: asyncio.TimerHandle | None = None
        self.closing = False
        self.write_paused = False
        self.reading_paused = False
        self.rejected = False
        self.address = "?:0"
        self.soft_limit_since = 0.0
        self.hot: tuple[Any, ...] = ()
        # CLIENT REPLY: replies are off, or the next command's (skip_next) or this one's (skip) is left
        # out.  While any is set the connection is ``quiet`` and keeps to the checked path.
        self.reply_off = False
        self.skip_next = False
        self.skip = False
        self.quiet = False
        self.replica = False  # a replica after its PSYNC: it gets the command stream (replication.py)

    # -- lifecycle ------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        """Accept the client, or refuse it as Redis would (maxclients, protected mode)."""
        self.transport = transport
        server = self.server
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            host = str(peer[0])
            self.address = f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
        else:
            host = ""
            self.address = f"{peer}:0"
        config = self.engine.config
        if len(server.connections) >= int(config.values["maxclients"]):
            self.rejected = True
            transport.write(b"-ERR max number of clients reached\r\n")
            transport.close()
            return
        open_default = not users(self.engine).requires_auth()  # (the default user: nopass and on)
        if open_default and config.values["protected-mode"] == "yes" and host and not _is_loopback(host):
            self.rejected = True
            transport.write(error_line(server.protected_mode_message))
            transport.close()
            log.warning("Possible SECURITY ATTACK detected: protected mode refused a connection from %s", self.address)
            return
        self.authenticated = open_default
        self.session = self.engine.session(self.address)
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple) and len(local) >= 2:
            local_host = str(local[0])
            self.session.local_address = f"[{local_host}]:{local[1]}" if ":" in local_host else f"{local_host}:{local[1]}"
        elif local:
            self.session.local_address = f"{local}:0"
        engine = self.engine
        # What the hot path reads on every read, unpacked in one step there.
        commands = engine.commands
        self.hot = (self.session, engine, self.execute_locked, commands, commands.spellings, engine.ready_keys,
                    engine.config, server.ready_keys)
        server.connections[self.session.id] = self
        hub(self.engine).set_deliverer(self.session, self.deliver)
        # A tracking client's own invalidations, and the BCAST ones, go out at the end of the turn.
        tracking(self.engine).defer = server.loop.call_soon_threadsafe
        log.debug("Accepted %s", self.address)

    def connection_lost(self, exc: Exception | None) -> None:
        """Release everything the client held: blocked keys, subscriptions, MONITOR, the session."""
        self.closing = True
        if self.rejected or self.session is None:
            return
        server = self.server
        if self.blocked is not None:
            self.unblock()
        if self.monitor:
            server.monitors.pop(self, None)
        server.connections.pop(self.session.id, None)
        server.replication.forget(self.session.id)
        hub(self.engine).forget(self.session)
        with self.engine.lock:
            self.session.close()
        log.debug("Client closed connection %s", self.address)

    def close(self) -> None:
        """Close the connection once what was already written has been flushed."""
        if not self.closing:
            self.closing = True
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        """Stop reading requests while the client is not reading replies (bounded memory)."""
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        """Read requests again once the client caught up."""
        self.write_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        # A blocked client keeps being read (its requests queue in the parser), so a hang-up is seen.
        pause = self.write_paused or self.closing
        if pause != self.reading_paused and self.transport is not None and not self.transport.is_closing():
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()
            self.reading_paused = pause

    # -- input -------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        """Parse and execute every complete request in ``data``; write the replies in one batch."""
        if self.closing or self.blocked is not None:
            if self.blocked is not None and not self.closing:
                if self.chunk:
                    self._to_parser(self.chunk_done)
                self._feed_parser(data)
            return
        if (self.parser is not None or data[0] != 42 or not self.authenticated or self.subscribed
                or self.monitor or self.server.monitors or self.engine.pause.until
                or (shapes := data.translate(_SHAPES)).find(_HUGE_COUNT) >= 0
                or (shapes.find(_STRING_MARK) >= 0 and shapes.find(_STRING_ITEM) >= 0)):
            self._feed_parser(data)
            self._run_checked()
            return
        self.reader.feed(data)
        self.chunk = data
        self.chunk_done = 0
        self._run_fast()

    def _feed_parser(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:
            parser = self.parser = RequestParser(self.engine.config.get_int("proto-max-bulk-len"))
        parser.feed(data)
        if parser.pending_bytes() > self.engine.config.get_int("client-query-buffer-limit"):
            head = bytes(parser.buf[parser.pos : parser.pos + 32])
            log.warning("Closing client that reached max query buffer length: %s (qbuf initial bytes: %r)",
                        self.describe(), head)
            self.parser = None
            self.close()

    def _run_fast(self) -> None:
        """Execute the requests hiredis has parsed from ``chunk`` (the hot path), under one lock acquisition.

        When ``chunk`` is used up, the replies are queued for the end of the
        event-loop turn; otherwise what is left goes to the exact parser, or
        waits behind a blocked command.

        A command the engine's table knows by this spelling, with the right
        argument count, outside MULTI and (for a write) with nothing
        listening to writes, runs its handler right here: the rest of
        ``Engine.execute_locked`` (lookup, arity, MULTI queueing,
        propagation) has nothing to do for it.  Which table of spellings
        applies is decided once, then again after each command the engine
        ran: only those can start a MULTI or a propagator.

        Timing (INFO commandstats, SLOWLOG) reads the clock once per *run*:
        consecutive requests of one quick command (flagged ``fast``, or SET)
        share a reading, as a pipeline of GETs does; any other command is
        timed alone, and every command is when the slow log's threshold is
        under a millisecond.  A run that reaches the threshold is logged
        under its last command.
        """
        session, engine, execute, commands, spellings, engine_ready, config, ready = self.hot
        gets = self.reader.gets
        join = b"".join
        alone = config.slowlog_seconds < _RUN_THRESHOLD
        timing: Any = None  # the spec of the run the clock is timing
        joinable = False
        started = 0.0
        timed_argv: Any = None
        simple = _SIMPLE
        small = _SMALL_INTS
        heads = _BULK_HEADS
        out = self.out
        if out is None:
            out = self.out = []
        append = out.append
        done = self.chunk_done
        argv: Any = False
        run_calls = 0  # commands in the run being timed (accounted when it ends)
        last_name: Any = None  # the spelling and argument count last found runnable inline, and its spec
        last_argc = 0
        last_spec: Any = None
        then = _DONE
        lock = self.lock  # (the server's own timer runs the engine's cron: it takes the lock too)
        lock.acquire()
        try:
            inline = self._inline_spellings()
            while True:
                argv = gets()
                if argv.__class__ is not list:
                    if argv is False:
                        break
                    if argv is None:  # "*-1": Redis ignores it
                        done += 1
                        continue
                    raise ProtocolError(b"")
                try:
                    join(argv)  # (a TypeError unless every argument is bytes: quicker than a loop)
                except TypeError:
                    raise ProtocolError(b"") from None
                done += 1
                if not argv:
                    continue
                name = argv[0]
                if name != last_name or len(argv) != last_argc:
                    spec = inline.get(name)
                    if spec is not None and spec.min_argc <= len(argv) <= spec.max_argc:
                        last_name, last_argc, last_spec = name, len(argv), spec
                    else:
                        spec = None
                else:  # the spelling and argument count of the last command: a pipeline's usual case
                    spec = last_spec
                if spec is None:
                    if timing is not None:
                        engine.account(session, timing, timed_argv, perf_counter() - started, run_calls)
                        timing = None
                    if name.lower() in SCRIPT_COMMANDS and session.multi is None:  # (in a worker thread: scripts.py)
                        lock.release()
                        try:
                            reply = self.run_script(argv)
                        finally:
                            lock.acquire()
                        if reply is SCRIPTING:  # (busy: the rest of the read waits for its reply)
                            self.chunk_done = done
                            then = _FLUSH
                            break
                    else:
                        reply = execute(session, argv)
                    if name not in spellings:
                        commands.learn(name)
                    inline = self._inline_spellings()
                    last_name = None  # (the table in use may have changed)
                    alone = config.slowlog_seconds < _RUN_THRESHOLD  # (CONFIG SET may have changed it)
                    if engine.pause.until or self.server.postponed:  # CLIENT PAUSE / UNPAUSE
                        then = _HANDOVER
                else:  # Engine.execute_locked and Engine.call, for a command that needs nothing else of them
                    if spec is not timing or not joinable:
                        now = perf_counter()
                        if timing is not None:
                            engine.account(session, timing, timed_argv, now - started, run_calls)
                        timing = spec
                        joinable = spec.quick and not alone
                        started = now
                        run_calls = 0
                    timed_argv = argv
                    run_calls += 1
                    session.last_command = spec
                    try:
                        reply = spec.handler(session, argv)  # type: ignore[misc]
                        if reply.__class__ is ReplyError:  # (a script's error reply: counted as Engine.call does)
                            reply = engine.failed(spec, reply)
                    except Exception as error:
                        reply = engine.failed(spec, error)
                    if engine_ready:
                        engine.announce_ready()
                kind = reply.__class__
                if kind is bytes:
                    size = len(reply)
                    if size < 1024:
                        append(heads[size])
                        append(reply)
                        append(b"\r\n")
                    else:
                        append(b"$%d\r\n%s\r\n" % (size, reply))
                elif kind is int:
                    append(small[reply] if 0 <= reply < 1024 else b":%d\r\n" % reply)
                elif kind is SimpleString and (encoded := simple.get(reply)) is not None:
                    append(encoded)
                elif reply is None:
                    append(b"_\r\n" if session.protocol == 3 else b"$-1\r\n")
                elif not self._reply(argv, reply):
                    self.chunk_done = done
                    then = _FLUSH
                    break
                elif self.subscribed or self.monitor or self.quiet:  # the rest needs the checked path
                    then = _CHECKED
                    break
                if ready:
                    self.server.serve_ready()
                    if self.closing:
                        then = _FLUSH
                        break
                if then is _HANDOVER:  # the rest of the read goes through the checked path, which honours a pause
                    self.server.pause_changed()
                    then = _CHECKED
                    break
        except (ProtocolError, hiredis.ProtocolError, MemoryError):  # (MemoryError: a huge declared count)
            then = _CHECKED
        finally:
            if timing is not None:
                engine.account(session, timing, timed_argv, perf_counter() - started, run_calls)
            lock.release()
        if then is _DONE:
            reader = self.reader
            complete = not reader.has_data()
            if complete:
                reader.feed(_EMPTY_REQUEST)
                try:
                    complete = reader.gets() == []
                except hiredis.ProtocolError:  # it landed inside a half-read request
                    complete = False
            if complete:
                self.chunk = b""
                if out:
                    self.server.want_write(self)
                else:
                    self.out = None
                return
            # The read ended inside a request: hiredis cannot say so, nor enforce the limits on it.
            then = _CHECKED
        if then is _CHECKED:
            self._to_parser(done)
            self._run_checked()
        else:
            self._flush()

    def _inline_spellings(self) -> dict[bytes, Any]:
        """Return the spellings the hot path may run itself for this client now (the engine runs the rest).

        None inside MULTI, nor for a tracking client (the engine remembers
        what it reads) or an ACL-restricted one (the engine checks it), nor
        while a script is busy (the engine answers BUSY); only
        read-only commands while writes are propagated or maxmemory is set.
        """
        session = self.session
        if session.multi is not None or session.tracking or session.restricted or self.engine.busy_script is not None:
            return _NOTHING  # (a busy script: the engine answers BUSY)
        commands = self.engine.commands
        engine = self.engine
        if engine.propagators or engine.replica or engine.evictor.maxmemory:  # (the engine checks memory and
            return commands.read_spellings  # read-only replicas before writes)
        return commands.spellings

    def _to_parser(self, done: int) -> None:
        """Hand the rest of ``chunk`` (after ``done`` requests) to the exact parser."""
        self.reader = hiredis.Reader()
        parser = self.parser = RequestParser(self.engine.config.get_int("proto-max-bulk-len"))
        parser.feed(self.chunk)
        self.chunk = b""
        try:
            for _ in range(done):
                parser.next_command()
        except ProtocolError:  # pragma: no cover - hiredis accepted it
            pass

    def _run_checked(self) -> None:
        """Execute requests from the exact parser with every check of Redis's processCommand."""
        parser = self.parser
        if parser is None:
            return
        if self.out is None:
            self.out = []
        out = self.out
        try:
            while not self.closing and self.blocked is None:
                try:
                    argv = parser.next_command(not self.authenticated)
                except ProtocolError as error:
                    if not (self.reply_off or self.skip):
                        out.append(error.reply)
                    self.closing = True
                    log.debug("Protocol error (%s) from client: %s", error.reason.decode("latin-1"), self.describe())
                    break
                if argv is None:
                    break
                if argv and self.quiet:  # CLIENT REPLY SKIP leaves out the reply of the command after it
                    self.skip, self.skip_next = self.skip_next, False
                    self.quiet = self.reply_off or self.skip
                if argv and not self._checked(argv):
                    break
        finally:
            if parser.idle and self.parser is parser and not self.quiet:
                self.parser = None  # back to the hot path
            self._flush()

    def _count_rejected(self, argv: list[bytes], error: str | bytes) -> None:
        """Count an error reply for a command refused before the engine runs it (INFO errorstats, commandstats)."""
        with self.engine.lock:
            spec = self.engine.named_spec(argv)
            if spec is not None:
                spec.rejected_calls += 1
            self.engine.count_error(error[1:-2].decode() if isinstance(error, bytes) else error)

    def _checked(self, argv: list[bytes]) -> bool:
        """Run one request with the authentication, pub/sub and MONITOR checks; tell whether to go on."""
        out = self.out
        assert out is not None
        name = argv[0].lower()
        if not self.authenticated:
            if name not in _NO_AUTH_COMMANDS:
                self._count_rejected(argv, NOAUTH)
                out.append(NOAUTH)
                return True
            if name == b"hello" and not any(arg.lower() == b"auth" for arg in argv[2:]):
                self._count_rejected(argv, NOAUTH_HELLO)
                out.append(NOAUTH_HELLO)
                return True
        if self.subscribed and self.session.protocol == 2 and name not in _PUBSUB_CONTEXT:
            found = self.engine.lookup(argv)
            if isinstance(found, ReplyError):
                error = found.message
            else:
                error = (f"ERR Can't execute '{found.fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                         "QUIT / RESET are allowed in this context")
            self._count_rejected(argv, error)
            if not (self.reply_off or self.skip):
                out.append(error_line(error))
            return True
        engine = self.engine
        if engine.pause.until and engine.pause.holds(engine, self.session, argv):
            self.postpone(argv)
            return False
        if self.server.monitors and name not in _NOT_MONITORED and self._monitored(argv):
            self.server.feed_monitors(self, argv)
        if name in SCRIPT_COMMANDS and self.session.multi is None:
            reply = self.run_script(argv)
            if reply is SCRIPTING:
                return False
        else:
            reply = self.execute(self.session, argv)
        if engine.pause.until or self.server.postponed:
            self.server.pause_changed()
        if not self.authenticated and name in (b"auth", b"hello") and not isinstance(reply, ReplyError):
            self.authenticated = True
        if self.subscribed and name == b"ping" and self.session.protocol == 2 and not isinstance(reply, ReplyError):
            reply = [b"pong", argv[1] if len(argv) > 1 else b""]
        if not self._reply(argv, reply):
            return False
        if self.server.ready_keys:
            self.server.serve_ready()
        return not self.closing

    def _reply(self, argv: list[bytes], reply: Any) -> bool:
        """Queue a reply that is not a plain value; tell whether to go on with the next request."""
        out = self.out
        assert out is not None
        kind = reply.__class__
        if kind is Block:
            self.block(argv, reply)
            return False
        if kind is Action:
            return self._action(reply)
        if kind is Pushes:  # (sent even while replies are off, as Redis does)
            out.append(encode(reply, self.session.protocol))
            self.subscribed = hub(self.engine).count(self.session) > 0
            return True
        if kind is ReplyMode:
            self._reply_mode(reply)
            return True
        if not (self.reply_off or self.skip):
            out.append(encode(reply, self.session.protocol))
        if self.session.closed:  # CLIENT KILL of itself
            self.closing = True
            return False
        return True

    def _reply_mode(self, mode: ReplyMode) -> None:
        """Carry out CLIENT REPLY ON|OFF|SKIP (only ON answers)."""
        if mode is REPLY_ON:
            self.reply_off = self.skip = self.skip_next = False
            assert self.out is not None
            self.out.append(encode(OK, self.session.protocol))
        elif mode is REPLY_OFF:
            self.reply_off = True
        elif not self.reply_off:
            self.skip_next = True
        self.quiet = self.reply_off or self.skip or self.skip_next

    def _action(self, action: Action) -> bool:
        out = self.out
        assert out is not None
        what = action.kind
        if what == "reset":  # RESET turns replies back on, though not for itself after CLIENT REPLY SKIP
            self.reply_off = self.skip_next = False
            self.quiet = self.skip
        if action.reply is not None and not (self.reply_off or self.skip):
            out.append(encode(action.reply, self.session.protocol))
        if what == "quit":
            self.closing = True
            return False
        if what == "monitor":
            self.monitor = True
            self.server.monitors[self] = None
        elif what == "reset":
            self.subscribed = False
            self.authenticated = not users(self.engine).requires_auth()  # (RESET logs in as the default user)
            if self.monitor:
                self.monitor = False
                self.server.monitors.pop(self, None)
        elif what == "killed":
            self.server.reap_killed(self)
            if self.session.closed:
                self.closing = True
                return False
        elif what == "shutdown":
            self.closing = True
            self.server.request_shutdown(action.argument)
            return False
        elif what == "psync":
            replid, offset = action.argument.split()
            self.server.replication.psync(self, replid, int(offset))
        elif what == "replicaof":
            self.server.replica_link.replicaof(action.argument)
        elif what == "wait":
            self.blocked = ([], WAITING)
            self.server.replication.park(self, int(action.argument))
            return False
        return True

    def _flush(self) -> None:
        """Queue the replies for the end of this event-loop turn (or write them now, before closing).

        As Redis writes in ``beforeSleep``, the server writes every client's
        replies after it has read and run all the requests of the turn: the
        writes come back to back, so a client machine woken by the first
        finds the others already there instead of being woken once each.
        """
        if self.closing:
            self.write_out()
        elif self.out:
            self.server.want_write(self)
        else:
            self.out = None

    def write_out(self) -> None:
        """Write the queued replies in one ``transport.write``; close the connection if it is closing."""
        out = self.out
        self.out = None
        transport = self.transport
        if out and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            if self.subscribed or self.monitor:
                self.check_output_limit()
        if self.closing:
            transport.close()

    def _monitored(self, argv: list[bytes]) -> bool:
        """Tell whether MONITOR shows ``argv``: not a command refused as unknown or of the wrong arity, nor an admin one.

        (Redis feeds monitors from ``call()``, which a rejected command never reaches.)
        """
        found = self.engine.lookup(argv)
        return not isinstance(found, ReplyError) and "admin" not in found.flags

    # -- blocking commands -----------------------------------------------------------------
    def block(self, argv: list[bytes], block: Block) -> None:
        """Park the client until a key it waits for is written, or its timeout."""
        self.blocked = (argv, block)
        self.session.blocked = block
        db_index = self.session.db.index
        self.block_keys = [(db_index, key) for key in dict.fromkeys(block.keys)]
        self.server.park(self, self.block_keys)
        self.engine.blocked_clients += 1
        if block.timeout:
            self.block_timer = self.server.loop.call_later(block.timeout, self._block_timeout)
        self._update_reading()

    def run_script(self, argv: list[bytes]) -> Any:
        """Run a script command in a worker thread (see scripts.py); return its reply, or SCRIPTING if it runs on.

        The loop waits for it up to ``busy-reply-threshold``; past that the
        client is parked like a blocked one and the reply comes later.
        """
        session = self.session
        threshold = self.engine.config.get_int("busy-reply-threshold")
        if threshold <= 0:  # (no busy state: the loop would wait for the script anyway)
            return self.execute(session, argv)
        call = ScriptCall()
        call.start(lambda: self.execute(session, argv))
        loop = self.server.loop

        def later(reply: Any, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # (the loop closed: the server shut down meanwhile)
                loop.call_soon_threadsafe(self._script_done, reply, error)

        if call.wait(threshold / 1000, later):
            if call.error is not None:
                return self._script_failed(call.error)
            return call.reply
        self.blocked = (argv, SCRIPTING)
        return SCRIPTING

    @staticmethod
    def _script_failed(error: BaseException) -> ReplyError:
        log.error("script command failed", exc_info=error)
        return ReplyError(f"ERR internal error executing a script: {error!r}")

    def _script_done(self, reply: Any, error: BaseException | None) -> None:
        """Send a script's reply, then go on with the requests that queued behind it."""
        if self.blocked is None or self.blocked[1] is not SCRIPTING:
            return
        self.blocked = None
        if self.closing:
            return
        self._resume_with(self._script_failed(error) if error is not None else reply)

    def unblock(self) -> None:
        """Leave the blocked state (served, timed out or disconnected)."""
        if self.blocked is None:
            return
        if self.blocked[1] is SCRIPTING or self.blocked[1] is WAITING:  # (a script's worker thread finishes it)
            self.blocked = None
            return
        postponed = self.blocked[1] is POSTPONED
        self.blocked = None
        self.session.blocked = self.session.wakeup = None
        if postponed:
            self.server.postponed.pop(self, None)
        self.server.unpark(self, self.block_keys)
        self.block_keys = []
        self.engine.blocked_clients -= 1
        if self.block_timer is not None:
            self.block_timer.cancel()
            self.block_timer = None

    def postpone(self, argv: list[bytes]) -> None:
        """Hold a command back until CLIENT PAUSE ends (Redis counts the client as blocked meanwhile)."""
        self.blocked = (argv, POSTPONED)
        self.block_keys = []
        self.engine.blocked_clients += 1
        self.server.postpone(self)
        self._update_reading()

    def resume_postponed(self) -> None:
        """Run the command a pause held back, then the requests behind it."""
        if self.blocked is None or self.blocked[1] is not POSTPONED or self.closing:
            return
        argv = self.blocked[0]
        self.unblock()
        if self.out is None:
            self.out = []
        if self._checked(argv):
            self._go_on()
        else:
            self._flush()

    def resume_waiting(self, count: int) -> None:
        """Answer a WAIT with the count of replicas that acknowledged, then go on with the requests behind it."""
        if self.blocked is None or self.blocked[1] is not WAITING or self.closing:
            return
        self.blocked = None
        self._resume_with(count)

    def wake(self) -> None:
        """Answer a command CLIENT UNBLOCK ended (as a timeout, or with an UNBLOCKED error)."""
        wakeup = self.session.wakeup
        if self.blocked is None or wakeup is None or self.closing:
            return
        self.unblock()
        self._resume_with(wakeup[0])

    def retry_blocked(self) -> None:
        """Run the blocked command again because one of its keys was written (served in FIFO order)."""
        if self.blocked is None or self.blocked[1] is POSTPONED or self.closing:
            return
        argv, _block = self.blocked
        reply = self.execute(self.session, argv)
        if reply.__class__ is Block:
            return
        self.unblock()
        self._resume_with(reply)

    def _block_timeout(self) -> None:
        self.block_timer = None
        if self.blocked is None or self.closing:
            return
        reply = self.blocked[1].timeout_reply
        self.unblock()
        self._resume_with(reply)

    def _resume_with(self, reply: Any) -> None:
        """Send the reply of the command that blocked, then go on with the requests behind it."""
        if self.out is None:
            self.out = []
        if not (self.reply_off or self.skip):
            self.out.append(encode(reply, self.session.protocol))
        self._go_on()

    def _go_on(self) -> None:
        """Run the requests that queued behind a blocked or postponed command."""
        if self.chunk:
            self._run_fast()
        else:
            self._run_checked()
            if self.out is not None:
                self._flush()
        self._update_reading()

    # -- pub/sub and MONITOR output ------------------------------------------------------------
    def deliver(self, message: Push) -> None:
        """Send one pub/sub message (any thread); enforce the pubsub output buffer limits."""
        if self.closing:
            return
        server = self.server
        if threading.get_ident() != server.loop_thread_id:
            server.loop.call_soon_threadsafe(self.deliver, message)
            return
        data = encode(message, self.session.protocol)
        if self.out is not None:
            self.out.append(data)
            return
        self.transport.write(data)
        self.check_output_limit()

    def send_raw(self, data: bytes) -> None:
        """Write bytes outside a reply (MONITOR lines)."""
        if self.closing:
            return
        if self.out is not None:
            self.out.append(data)
        else:
            self.transport.write(data)
            self.check_output_limit()

    def check_output_limit(self) -> None:
        """Close a pub/sub or MONITOR client whose unread output passed ``client-output-buffer-limit``."""
        size = self.transport.get_write_buffer_size()
        if not size:
            self.soft_limit_since = 0.0
            return
        hard, soft, seconds = self.server.output_limits("pubsub")
        if hard and size > hard:
            self._overflow()
            return
        if soft and size > soft:
            now = time.monotonic()
            if not self.soft_limit_since:
                self.soft_limit_since = now
            elif now - self.soft_limit_since > seconds:
                self._overflow()
        else:
            self.soft_limit_since = 0.0

    def _overflow(self) -> None:
        log.warning("Client %s closed for overcoming of output buffer limits.", self.describe())
        self.closing = True
        self.transport.abort()

    def describe(self) -> str:
        """Describe the client as Redis's log lines do."""
        session = self.session
        if session is None:
            return f"addr={self.address}"
        return f"id={session.id} addr={self.address} name={session.name.decode('utf-8', 'replace')} db={session.db.index}"

    def __repr__(self) -> str:
        return f"<ClientConnection {self.describe()}>"


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


__all__ = ["PONG", "ClientConnection", "quote_arg"]
