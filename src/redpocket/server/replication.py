"""Replication, the master side: redis-server (or redpocket) replicas of this server, as Redis 7.0 serves them.

A replica connects as a client and sends ``REPLCONF listening-port``,
``REPLCONF capa eof capa psync2`` and ``PSYNC <replid> <offset>`` (``?
-1`` the first time).  :class:`Replication` answers:

- ``+FULLRESYNC <replid> <offset>``, then the dataset as an RDB file sent as
  one ``$<length>`` bulk (written from a copy taken under the engine lock,
  in a worker thread), then the command stream from that offset;
- ``+CONTINUE <replid>`` and the missing part of the stream, when the
  replica asks for an offset the *backlog* (the last ``repl-backlog-size``
  bytes of the stream) still holds: a partial resynchronisation.

The command stream is what the append-only file logs: every write that
changed the keyspace, normalised into deterministic commands
(:mod:`redpocket.engine.persistence.normalize`), with ``SELECT`` when the
database changes and ``MULTI``/``EXEC`` around a transaction's or a
script's writes.  It is fed by an engine propagator, attached when the
first replica asks for a sync (so a server without replicas pays nothing).
Every byte of it moves ``master_repl_offset``; replicas acknowledge what
they applied with ``REPLCONF ACK <offset>`` (every second, or when the
stream asks with ``REPLCONF GETACK *``), which ``WAIT`` counts.  The
server pings its replicas through the stream every
``repl-ping-replica-period`` seconds, as Redis does.

The engine knows this object only as ``engine.extensions["replication"]``:
``INFO replication``, ``INFO stats`` (``sync_*``), ``ROLE`` and ``WAIT``
ask it.  Not supported (Redis's own replies or absence): diskless
``$EOF:`` transfers (the length form works with every replica),
``min-replicas-to-write``, and full syncs of datasets holding streams
(streams have no RDB encoding in this engine yet: such a replica is
refused with a logged error; streams written after the sync replicate).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..engine.persistence import rdb_file
from ..engine.persistence.manager import ATOMIC_COMMANDS
from ..engine.persistence.normalize import Normalizer, normalize
from ..engine.persistence.rdb import UnsupportedValueError
from ..engine.persistence.records import encode
from ..engine.registry import CommandHook, CommandSpec
from ..engine.replies import OK, ReplyError
from . import replica
from .commands import Action

if TYPE_CHECKING:
    from ..engine import Engine
    from ..engine.session import Session
    from .connection import ClientConnection

log = logging.getLogger("redpocket.server")

_MULTI = encode([b"MULTI"])
_EXEC = encode([b"EXEC"])
_PING = encode([b"PING"])
_GETACK = encode([b"REPLCONF", b"GETACK", b"*"])
# The reply of a command that answers nothing (REPLCONF ACK, as Redis's replicas expect).
NO_REPLY = Action("noreply")


class ReplicaLink:
    """One replica connected to this master: its connection, state and acknowledged offset."""

    __slots__ = ("ack_offset", "ack_time", "connection", "ip", "pending", "port", "state")

    def __init__(self, connection: ClientConnection, ip: str, port: str) -> None:
        self.connection = connection
        self.ip = ip
        self.port = port
        self.state = "wait_bgsave"  # then "send_bulk", then "online" (Redis's names in INFO)
        self.ack_offset = 0
        self.ack_time = time.time()
        self.pending: list[bytes] = []  # stream bytes not yet written (all of them until the RDB is sent)


class _Waiter:
    """A client blocked in WAIT: how many replicas it wants to have acknowledged ``target``."""

    __slots__ = ("connection", "target", "timer", "wanted")

    def __init__(self, connection: ClientConnection, wanted: int, target: int) -> None:
        self.connection = connection
        self.wanted = wanted
        self.target = target
        self.timer: Any = None


class _AtomicSection(CommandHook):
    """Send the writes of one EXEC or script to the replicas as one MULTI/EXEC block (an engine hook)."""

    def __init__(self, replication: Replication) -> None:
        self.replication = replication

    def before(self, session: Session, argv: list[bytes]) -> None:
        """Open the block."""
        self.replication.begin_atomic()

    def after(self, session: Session, argv: list[bytes], reply: Any) -> Any:
        """Close it: its commands go out."""
        self.replication.end_atomic()
        return reply


class Replication:
    """The replication state of one server as a master: replication ID, offset, backlog, replicas."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.engine: Engine = server.engine
        self.replid = os.urandom(20).hex()
        self.replid2 = "0" * 40
        self.second_offset = -1
        self.offset = 0  # master_repl_offset: bytes of stream produced so far
        self.backlog = bytearray()  # holds at least the last repl-backlog-size bytes of the stream
        self.backlog_active = False
        self.selected_db = -1  # the database the stream's last command ran in (-1: SELECT first)
        self.replicas: dict[int, ReplicaLink] = {}  # by session id
        self.announced: dict[int, dict[str, str]] = {}  # what REPLCONF said before PSYNC, by session id
        self.waiters: dict[int, _Waiter] = {}  # WAIT clients by session id
        # The stream offset after each client's last write (Redis's c->woff: what its WAIT waits for).
        self.write_offsets: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()
        self._writers: list[Session] = []  # clients whose writes are in the stream bytes being fed
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.normalizers: dict[bytes, Normalizer] = self.engine.extensions.setdefault("normalizers", {})
        self._hook = _AtomicSection(self)
        self._atomic_depth = 0
        self._atomic_chunks: list[bytes] = []
        self._atomic_commands = 0
        self._flush_scheduled = False
        self._getack_scheduled = False
        self._last_ping = time.monotonic()

    # -- the command stream ----------------------------------------------------------------
    def attach(self) -> None:
        """Start producing the stream: an engine propagator and atomic blocks (at the first sync)."""
        if self.backlog_active:
            return
        engine = self.engine
        engine.propagators.append(self.propagate)
        for name in ATOMIC_COMMANDS:
            engine.add_hook(name, self._hook)
        self.backlog_active = True

    def detach(self) -> None:
        """Stop producing the stream (the server closes)."""
        engine = self.engine
        with engine.lock:
            if self.propagate in engine.propagators:
                engine.propagators.remove(self.propagate)
            for name in ATOMIC_COMMANDS:
                engine.remove_hook(name, self._hook)

    def propagate(self, session: Session | None, db_index: int, argv: list[bytes], reply: Any) -> None:
        """Add one executed write command to the stream (an engine propagator, under the engine lock)."""
        recorded = session.propagated if session is not None else None
        if recorded is not None and recorded[0] is argv:  # (the handler said what it propagates)
            commands = recorded[1]
        else:
            commands = normalize(self.engine.databases[db_index], argv, reply, self.normalizers)
        chunks = []
        for command in commands:
            if db_index != self.selected_db:
                chunks.append(encode([b"SELECT", b"%d" % db_index]))
                self.selected_db = db_index
            chunks.append(encode(command))
            self._atomic_commands += 1
        if not chunks:
            return
        if session is not None:
            self._writers.append(session)
        if self._atomic_depth:
            self._atomic_chunks.extend(chunks)
            return
        self._atomic_commands = 0
        self.feed(b"".join(chunks))

    def begin_atomic(self) -> None:
        """Start a section whose writes go out together (EXEC, a script)."""
        if not self._atomic_depth:
            self._atomic_commands = 0
        self._atomic_depth += 1

    def end_atomic(self) -> None:
        """End it: its commands go out, inside ``MULTI`` ... ``EXEC`` when there are several."""
        self._atomic_depth -= 1
        if self._atomic_depth:
            return
        chunks, self._atomic_chunks = self._atomic_chunks, []
        count, self._atomic_commands = self._atomic_commands, 0
        if chunks:
            self.feed(b"".join([_MULTI, *chunks, _EXEC] if count > 1 else chunks))

    def feed(self, data: bytes) -> None:
        """Append ``data`` to the stream: the backlog, every replica's output (the caller holds the engine lock)."""
        backlog = self.backlog
        backlog += data
        self.offset += len(data)
        if self._writers:
            for writer in self._writers:
                self.write_offsets[writer] = self.offset
            self._writers.clear()
        size = max(self.engine.config.get_int("repl-backlog-size"), 1)
        if len(backlog) >= 2 * size:  # (trimmed in halves: each byte is moved at most once)
            del backlog[: len(backlog) - size]
        if self.replicas:
            for link in self.replicas.values():
                link.pending.append(data)
            self._schedule(self._flush)

    def _schedule(self, callback: Any) -> None:
        """Run ``callback`` on the server's loop at the end of this turn (from any thread)."""
        if callback is self._flush:
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self.server.loop_thread_id:
            loop.call_soon(callback)
        else:
            with contextlib.suppress(RuntimeError):  # (the loop closed: shutting down)
                loop.call_soon_threadsafe(callback)

    def _flush(self) -> None:
        """Write the stream bytes queued for each online replica."""
        with self.engine.lock:
            self._flush_scheduled = False
            for link in self.replicas.values():
                if link.state == "online" and link.pending:
                    data = b"".join(link.pending)
                    link.pending.clear()
                    link.connection.send_raw(data)

    @property
    def histlen(self) -> int:
        """Return how many bytes of the stream the backlog holds (``repl_backlog_histlen``)."""
        return min(len(self.backlog), self.engine.config.get_int("repl-backlog-size"))

    @property
    def backlog_first(self) -> int:
        """Return the offset of the backlog's first byte (``repl_backlog_first_byte_offset``)."""
        return self.offset - self.histlen + 1

    # -- the handshake -------------------------------------------------------------------------
    def announce(self, session: Session, option: str, value: str) -> None:
        """Remember what a replica said with ``REPLCONF`` before its PSYNC."""
        self.announced.setdefault(session.id, {})[option] = value

    def psync(self, connection: ClientConnection, replid: str, requested: int) -> None:
        """Serve ``PSYNC replid offset``: continue from the backlog if it can, else a full resynchronisation."""
        engine = self.engine
        if self.server.replica_link.active:
            connection.send_raw(b"-ERR redpocket replicas do not serve replicas of their own (no chained "
                                b"replication): replicate from the master\r\n")
            return
        with engine.lock:
            self.attach()
            session = connection.session
            said = self.announced.pop(session.id, {})
            host = connection.address.rsplit(":", 1)[0].strip("[]")
            link = ReplicaLink(connection, said.get("ip-address", host), said.get("listening-port", "0"))
            connection.replica = True
            if self._can_continue(replid, requested):
                skip = requested - self.backlog_first
                missing = self.histlen - skip
                data = bytes(self.backlog[len(self.backlog) - missing :]) if missing else b""
                link.state = "online"
                link.ack_offset = requested - 1
                self.replicas[session.id] = link
                self.sync_partial_ok += 1
                connection.send_raw(b"+CONTINUE %s\r\n" % self.replid.encode() + data)
                log.info("Partial resynchronization request from %s accepted. Sending %d bytes of backlog "
                         "starting from offset %d.", connection.address, missing, requested)
                return
            if replid != "?":
                self.sync_partial_err += 1
            try:
                captured = rdb_file.capture(engine)
            except UnsupportedValueError as error:
                log.error("Full resynchronization of %s refused: %s", connection.address, error)
                connection.send_raw(b"-ERR " + str(error).encode() + b"\r\n")
                connection.close()
                return
            self.sync_full += 1
            self.selected_db = -1  # (the replica's database after loading is 0: the stream selects first)
            self.replicas[session.id] = link
            connection.send_raw(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), self.offset))
            log.info("Starting BGSAVE for SYNC with target: replicas sockets (%s)", connection.address)
        checksum = engine.config.get("rdbchecksum") == "yes"
        future = self.server.loop.run_in_executor(None, _rdb_bytes, captured, checksum)
        link.state = "send_bulk"
        future.add_done_callback(lambda done: self._send_rdb(link, done))

    def _can_continue(self, replid: str, requested: int) -> bool:
        """Tell whether a partial resynchronisation from ``requested`` is possible (Redis's rules)."""
        if replid != self.replid and (replid != self.replid2 or requested > self.second_offset):
            return False
        return self.backlog_active and self.backlog_first <= requested <= self.backlog_first + self.histlen

    def _send_rdb(self, link: ReplicaLink, done: Any) -> None:
        """Send the RDB a worker thread wrote, then the stream that piled up meanwhile."""
        with self.engine.lock:
            if self.replicas.get(link.connection.session.id) is not link:
                return  # (it disconnected meanwhile)
            error = done.exception()
            if error is not None:
                log.error("Full resynchronization of %s failed: %r", link.connection.address, error)
                link.connection.close()
                return
            payload = done.result()
            pending = b"".join(link.pending)
            link.pending.clear()
            link.state = "online"
            link.ack_time = time.time()
            link.connection.send_raw(b"$%d\r\n" % len(payload) + payload + pending)
            log.info("Synchronization with replica %s succeeded", link.connection.address)

    def forget(self, session_id: int) -> None:
        """Drop what belongs to a closed connection (a replica, a WAIT client, a half-done handshake)."""
        with self.engine.lock:
            self.announced.pop(session_id, None)
            link = self.replicas.pop(session_id, None)
            if link is not None:
                log.info("Connection with replica %s lost.", link.connection.address)
                self._schedule(self._serve_waiters)
            waiter = self.waiters.pop(session_id, None)
            if waiter is not None and waiter.timer is not None:
                waiter.timer.cancel()

    # -- acknowledgements and WAIT ------------------------------------------------------------
    def acknowledge(self, session: Session, offset: int) -> None:
        """Take ``REPLCONF ACK <offset>`` from a replica."""
        link = self.replicas.get(session.id)
        if link is None:
            return
        link.ack_time = time.time()
        if offset > link.ack_offset:
            link.ack_offset = offset
            if self.waiters:
                self._schedule(self._serve_waiters)

    def acknowledged(self, target: int) -> int:
        """Return how many replicas acknowledged the stream up to ``target``."""
        return sum(1 for link in self.replicas.values() if link.state == "online" and link.ack_offset >= target)

    def wait(self, session: Session, wanted: int, millis: int) -> Any:
        """Answer ``WAIT numreplicas timeout``: the count now, or an action that parks the client."""
        if self.server.replica_link.active:
            raise ReplyError("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
                             "if a replica is configured to be writable (which is not the default) writes to "
                             "replicas are just local and are not propagated.")
        target = self.write_offsets.get(session, 0)
        count = self.acknowledged(target)
        connection = self.server.connections.get(session.id)
        if count >= wanted or not session.may_block or connection is None:
            return count
        self.waiters[session.id] = _Waiter(connection, wanted, target)
        return Action("wait", argument=str(millis))

    def park(self, connection: ClientConnection, millis: int) -> None:
        """Block a WAIT client until enough replicas acknowledge, or ``millis`` pass (``0``: forever)."""
        waiter = self.waiters.get(connection.session.id)
        if waiter is None:
            return
        if millis:
            waiter.timer = self.server.loop.call_later(millis / 1000, self._wait_over, waiter)
        if self.replicas and not self._getack_scheduled:
            self._getack_scheduled = True
            self._schedule(self._ask_acks)

    def _ask_acks(self) -> None:
        """Ask every replica for its offset now (``REPLCONF GETACK *`` in the stream)."""
        with self.engine.lock:
            self._getack_scheduled = False
            if self.replicas:
                self.feed(_GETACK)

    def _serve_waiters(self) -> None:
        with self.engine.lock:
            for waiter in list(self.waiters.values()):
                count = self.acknowledged(waiter.target)
                if count >= waiter.wanted:
                    self._wait_over(waiter)

    def _wait_over(self, waiter: _Waiter) -> None:
        """Answer a WAIT client with the count of replicas that acknowledged its target."""
        with self.engine.lock:
            session_id = waiter.connection.session.id
            if self.waiters.get(session_id) is not waiter:
                return
            del self.waiters[session_id]
            if waiter.timer is not None:
                waiter.timer.cancel()
            waiter.connection.resume_waiting(self.acknowledged(waiter.target))

    # -- periodic work ------------------------------------------------------------------------
    def cron(self) -> None:
        """Ping the replicas through the stream every ``repl-ping-replica-period`` seconds."""
        if not self.replicas:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.engine.config.get_int("repl-ping-replica-period"):
            self._last_ping = now
            with self.engine.lock:
                self.feed(_PING)

    # -- what INFO and ROLE show ---------------------------------------------------------------
    def sync_counts(self) -> list[str]:
        """Return the ``sync_*`` lines of ``INFO stats``."""
        return [f"sync_full:{self.sync_full}", f"sync_partial_ok:{self.sync_partial_ok}",
                f"sync_partial_err:{self.sync_partial_err}"]

    def promote(self, master_replid: str, offset: int) -> None:
        """Become a master after replicating ``master_replid`` up to ``offset`` (Redis's shiftReplicationId)."""
        with self.engine.lock:
            self.replid2 = master_replid if master_replid != "?" else "0" * 40
            self.second_offset = offset + 1
            self.replid = os.urandom(20).hex()
            self.offset = offset
            self.backlog.clear()  # (the replica kept no backlog of its master's stream)
            self.selected_db = -1

    def info_lines(self) -> list[str]:
        """Return the ``INFO replication`` section's lines, as Redis 7.0 prints them for a master."""
        link = self.server.replica_link
        if link.active:
            return link.info_lines()  # type: ignore[no-any-return]
        now = time.time()
        lines = ["role:master", f"connected_slaves:{len(self.replicas)}"]
        for number, link in enumerate(self.replicas.values()):
            lines.append(f"slave{number}:ip={link.ip},port={link.port},state={link.state},"
                         f"offset={link.ack_offset},lag={int(now - link.ack_time)}")
        active = self.backlog_active
        lines += [
            "master_failover_state:no-failover",
            f"master_replid:{self.replid}",
            f"master_replid2:{self.replid2}",
            f"master_repl_offset:{self.offset}",
            f"second_repl_offset:{self.second_offset}",
            f"repl_backlog_active:{int(active)}",
            f"repl_backlog_size:{self.engine.config.get('repl-backlog-size')}",
            f"repl_backlog_first_byte_offset:{self.backlog_first if active else 0}",
            f"repl_backlog_histlen:{self.histlen if active else 0}",
        ]
        return lines

    def role(self) -> list[Any]:
        """Return ``ROLE``'s reply for a master: offset and each replica's address and acknowledged offset."""
        link = self.server.replica_link
        if link.active:
            return link.role()  # type: ignore[no-any-return]
        replicas = [[link.ip.encode(), link.port.encode(), b"%d" % link.ack_offset]
                    for link in self.replicas.values() if link.state != "wait_bgsave"]
        return [b"master", self.offset, replicas]


def _rdb_bytes(captured: rdb_file.Capture, checksum: bool) -> bytes:
    """Write a captured dataset as an RDB file in memory (a worker thread's job)."""
    handle = io.BytesIO()
    rdb_file.write_capture(handle, captured, checksum)
    return handle.getvalue()


# -- the commands a replica sends ------------------------------------------------------------------


def _replication(session: Session) -> Replication:
    replication: Replication = session.engine.extensions["replication"]
    return replication


def replconf(session: Session, argv: list[bytes]) -> Any:
    """REPLCONF option value [option value ...]"""
    if len(argv) % 2 == 0:
        raise ReplyError("ERR syntax error")
    replication = _replication(session)
    for index in range(1, len(argv), 2):
        option = argv[index].lower()
        value = argv[index + 1]
        if option == b"ack":
            try:
                offset = int(value)
            except ValueError:
                return NO_REPLY
            replication.acknowledge(session, offset)
            return NO_REPLY
        if option == b"getack":
            return NO_REPLY  # (a master has nothing to acknowledge)
        if option == b"listening-port":
            try:
                port = int(value)
            except ValueError:
                raise ReplyError("ERR value is not an integer or out of range") from None
            replication.announce(session, "listening-port", str(port))
        elif option == b"ip-address":
            replication.announce(session, "ip-address", value.decode("utf-8", "replace"))
        elif option in (b"capa", b"rdb-only", b"rdb-filter-only"):
            replication.announce(session, option.decode(), value.decode("utf-8", "replace"))
        else:
            name = argv[index].decode("utf-8", "replace")
            raise ReplyError(f"ERR Unrecognized REPLCONF option: {name}")
    return OK


def psync(session: Session, argv: list[bytes]) -> Any:
    """PSYNC replicationid offset"""
    if session.multi is not None or session.in_exec:
        raise ReplyError("ERR Replica can't interact with the keyspace")  # (Redis refuses it inside MULTI too)
    try:
        offset = int(argv[2])
    except ValueError:
        raise ReplyError("ERR value is not an integer or out of range") from None
    return Action("psync", argument=f"{argv[1].decode('utf-8', 'replace')} {offset}")


def sync(session: Session, argv: list[bytes]) -> Any:
    """SYNC"""
    return Action("psync", argument="? -1")


def _spec(name: str, handler: Any, arity: int, flags: str, since: str) -> CommandSpec:
    return CommandSpec(name=name, handler=handler, arity=arity, flags=frozenset(flags.split()), group="server",
                       summary=(handler.__doc__ or "").strip(), since=since)


def install(server: Any) -> Replication:
    """Give ``server``'s engine the replication commands (PSYNC, SYNC, REPLCONF) and its replication state."""
    engine = server.engine
    existing = engine.extensions.get("replication")
    if isinstance(existing, Replication):
        existing.server = server
        return existing
    replication = Replication(server)
    engine.extensions["replication"] = replication
    commands = engine.commands
    commands[b"replconf"] = _spec("replconf", replconf, -1, "admin noscript loading stale allow-busy", "3.0.0")
    commands[b"psync"] = _spec("psync", psync, -3, "admin noscript no-multi no-async-loading", "2.8.0")
    commands[b"sync"] = _spec("sync", sync, 1, "admin noscript no-multi no-async-loading", "1.0.0")
    flags = "admin noscript stale no-async-loading"
    commands[b"replicaof"] = _spec("replicaof", replica.replicaof, 3, flags, "5.0.0")
    commands[b"slaveof"] = _spec("slaveof", replica.replicaof, 3, flags, "1.0.0")
    commands[b"failover"] = _spec("failover", replica.failover, -1, flags, "6.2.0")
    return replication
