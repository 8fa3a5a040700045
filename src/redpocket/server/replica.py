"""Replication, the replica side: ``REPLICAOF host port`` makes this server a replica of a Redis or redpocket master.

:class:`MasterLink` runs in the server's event loop, as Redis 7.0's
replica does (``replication.c``): connect, ``PING``, ``AUTH`` when
``masterauth`` is set, ``REPLCONF listening-port``, ``REPLCONF capa eof
capa psync2``, then ``PSYNC <replid> <offset+1>`` (``PSYNC ? -1`` the
first time).  On ``+FULLRESYNC`` it reads the RDB (a ``$<length>`` bulk, or
the diskless ``$EOF:<mark>`` form), empties the dataset and loads it; on
``+CONTINUE`` it keeps its dataset.  Then it applies the command stream in
a session of its own (``session.from_master``: the only one whose writes
pass ``replica-read-only``), counts the stream's bytes as its offset,
answers ``REPLCONF GETACK`` and sends ``REPLCONF ACK <offset>`` every
second.  A broken link is retried every second with the replication ID and
offset it had, so a short disconnect ends in a partial resynchronisation.
``REPLICAOF NO ONE`` stops the link and makes the server a master again,
keeping the master's replication ID as its second one (Redis's
``shiftReplicationId``).

The engine is told only that it is a replica (``engine.replica``: writes
from clients are refused with ``-READONLY`` while ``replica-read-only`` is
``yes``).  Not supported: a replica serving replicas of its own (chained
replication; such a PSYNC is refused), and keys expiring on a replica wait
for the master's ``DEL`` only approximately (the engine's own expiry runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import hiredis

from ..engine.persistence import rdb_file
from ..engine.persistence.rdb_primitives import RdbFormatError
from ..engine.persistence.records import encode
from ..engine.replies import OK, ReplyError, SimpleString
from .commands import Action

if TYPE_CHECKING:
    from ..engine import Engine
    from ..engine.session import Session

log = logging.getLogger("redpocket.server")

_ALREADY = SimpleString(b"OK Already connected to specified master")


class ReplicationError(Exception):
    """The master answered the handshake with something a replica cannot go on with."""


def _command_size(argv: list[bytes]) -> int:
    """Return the bytes of ``argv`` as a RESP array of bulk strings (what the master's stream holds)."""
    size = 3 + len(str(len(argv)))
    for arg in argv:
        length = len(arg)
        size += 5 + len(str(length)) + length
    return size


class MasterLink:
    """This server's link to its master while it is a replica (``host`` is None while it is a master)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.engine: Engine = server.engine
        self.host: str | None = None
        self.port = 0
        self.state = "none"  # connect, connecting, sync, connected (ROLE's words)
        self.master_replid = "?"
        self.offset = -1  # the stream bytes applied (slave_repl_offset); -1: nothing to continue from
        self.last_io = time.monotonic()
        self.down_since = time.time()
        self.session: Session | None = None
        self.full_syncs = 0
        self.partial_syncs = 0
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def active(self) -> bool:
        """Tell whether this server is a replica (of ``host``:``port``)."""
        return self.host is not None

    # -- REPLICAOF ---------------------------------------------------------------------------------
    def replicaof(self, argument: str) -> None:
        """Carry out ``REPLICAOF host port`` or ``REPLICAOF NO ONE`` (``argument``), in the server's loop."""
        if argument.upper() == "NO ONE":
            self.stop()
            return
        host, port = argument.rsplit(" ", 1)
        self.start(host, int(port))

    def start(self, host: str, port: int) -> None:
        """Become a replica of ``host``:``port`` (a full sync from it unless it continues our history)."""
        if self.host == host and self.port == port:
            return
        self._cancel()
        was_master = self.host is None
        self.host, self.port = host, port
        self.engine.replica = True
        replication = self.server.replication
        if was_master:  # our own history may go on at that master (a demoted master): offer it
            self.master_replid = replication.replid
            self.offset = replication.offset
        for link in list(replication.replicas.values()):  # (they must resync with the new history)
            link.connection.close()
        self.state = "connect"
        self.down_since = time.time()
        log.info("Connecting to MASTER %s:%d", host, port)
        self._task = self.server.loop.create_task(self._run())

    def stop(self) -> None:
        """Stop replicating: ``REPLICAOF NO ONE`` (the dataset stays; writes are accepted again)."""
        if self.host is None:
            return
        self._cancel()
        self.server.replication.promote(self.master_replid, max(self.offset, 0))
        self.host, self.port = None, 0
        self.state = "none"
        self.engine.replica = False
        log.info("MASTER MODE enabled (user request from REPLICAOF NO ONE)")

    async def close(self) -> None:
        """Drop the link and wait for its task to end (the server shuts down)."""
        task = self._task
        self._cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- the link ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Connect, sync and apply the stream; after any failure, try again a second later."""
        while self.host is not None:
            try:
                await self._replicate(self.host, self.port)
            except asyncio.CancelledError:
                raise
            except (OSError, EOFError, asyncio.IncompleteReadError, ReplicationError, RdbFormatError) as error:
                if self.state == "connected":
                    log.warning("Connection with master lost (%s).", error)
                else:
                    log.warning("Replication with %s:%d failed: %s", self.host, self.port, error)
            finally:
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
                if self.state == "connected":
                    self.down_since = time.time()
                self.state = "connect"
            await asyncio.sleep(1)

    async def _replicate(self, host: str, port: int) -> None:
        self.state = "connecting"
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        config = self.engine.config.values

        async def ask(*argv: bytes) -> bytes:
            writer.write(encode(list(argv)))
            line = await reader.readline()
            if not line:
                raise EOFError("the master closed the connection")
            self.last_io = time.monotonic()
            return line.rstrip(b"\r\n")

        pong = await ask(b"PING")
        if pong.startswith(b"-") and not pong.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
            raise ReplicationError(f"Error reply to PING from master: {pong.decode('utf-8', 'replace')}")
        if config.get("masterauth"):
            credentials = [config["masteruser"].encode()] if config.get("masteruser") else []
            answer = await ask(b"AUTH", *credentials, config["masterauth"].encode())
            if answer.startswith(b"-"):
                raise ReplicationError(f"Unable to AUTH to MASTER: {answer.decode('utf-8', 'replace')}")
        await ask(b"REPLCONF", b"listening-port", b"%d" % self.server.port)
        await ask(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
        self.state = "sync"
        if self.offset >= 0 and self.master_replid != "?":
            reply = await ask(b"PSYNC", self.master_replid.encode(), b"%d" % (self.offset + 1))
        else:
            reply = await ask(b"PSYNC", b"?", b"-1")
        while not reply:  # (newlines keep the link alive until the master answers: its diskless-sync delay)
            reply = (await reader.readline()).rstrip(b"\r\n")
            if reader.at_eof():
                raise EOFError("the master closed the connection")
        words = reply.decode("utf-8", "replace").split()
        if words and words[0] == "+FULLRESYNC" and len(words) == 3:
            payload = await self._read_rdb(reader)
            self._load(payload, words[1], int(words[2]))
        elif words and words[0] == "+CONTINUE":
            if len(words) > 1 and words[1] != self.master_replid:
                log.info("Master replication ID changed to %s", words[1])
                self.master_replid = words[1]
            self.partial_syncs += 1
            log.info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
        else:
            raise ReplicationError(f"Unexpected reply to PSYNC from master: {reply.decode('utf-8', 'replace')}")
        if self.session is None:
            self.session = self.engine.session(f"{host}:{port}")
            self.session.from_master = True
        self.state = "connected"
        acks = asyncio.get_running_loop().create_task(self._ack_every_second(writer))
        try:
            await self._apply_stream(reader, writer)
        finally:
            acks.cancel()

    async def _read_rdb(self, reader: asyncio.StreamReader) -> bytes:
        """Read the RDB the master sends after ``+FULLRESYNC`` (``$<length>`` or ``$EOF:<mark>``)."""
        while True:
            line = await reader.readline()
            if not line:
                raise EOFError("the master closed the connection during the sync")
            self.last_io = time.monotonic()
            line = line.rstrip(b"\r\n")
            if not line:
                continue  # (the master's keep-alive newlines while it prepares the RDB)
            if line.startswith(b"-"):
                raise ReplicationError(f"MASTER aborted replication with an error: {line.decode('utf-8', 'replace')}")
            if not line.startswith(b"$"):
                raise ReplicationError(f"Bad protocol from MASTER, the first byte is not '$': {line[:64]!r}")
            break
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            chunks = bytearray()
            while not chunks.endswith(mark):
                chunk = await reader.read(1 << 16)
                if not chunk:
                    raise EOFError("the master closed the connection during the sync")
                chunks += chunk
            self.last_io = time.monotonic()
            return bytes(chunks[: -len(mark)])
        payload = await reader.readexactly(int(line[1:]))
        self.last_io = time.monotonic()
        return payload

    def _load(self, payload: bytes, replid: str, offset: int) -> None:
        """Replace the dataset by the master's RDB (Redis's emptyData + rdbLoad), under the engine lock."""
        engine = self.engine
        with engine.lock:
            for db in engine.databases:
                db.flush()
            libraries = engine.extensions.get("functions")
            if libraries is not None:  # (the master's libraries come with its RDB)
                libraries.flush()
            rdb_file.load_rdb(engine, payload)
            if self.session is not None:
                self.session.select(0)
            persistence = engine.extensions.get("persistence")
            aof = getattr(persistence, "aof", None)
            if aof is not None:  # the file must hold the new dataset, not the commands before it
                aof.start_rewrite()
        self.master_replid = replid
        self.offset = offset
        self.full_syncs += 1
        log.info("MASTER <-> REPLICA sync: Finished with success (%d bytes of RDB)", len(payload))

    async def _apply_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Execute the master's commands as they come, counting their bytes into the offset."""
        parser = hiredis.Reader()
        engine = self.engine
        session = self.session
        assert session is not None
        while True:
            try:  # (a master pings every repl-ping-replica-period: silence past repl-timeout is a dead link)
                data = await asyncio.wait_for(reader.read(1 << 16), engine.config.get_int("repl-timeout"))
            except asyncio.TimeoutError:
                raise ReplicationError("MASTER timeout: no data nor PING received") from None
            if not data:
                raise EOFError("the master closed the connection")
            self.last_io = time.monotonic()
            parser.feed(data)
            with engine.lock:
                while True:
                    argv = parser.gets()
                    if argv is False:
                        break
                    if not isinstance(argv, list) or not argv:
                        raise ReplicationError("protocol error in the master's stream")
                    size = _command_size(argv)
                    name = argv[0].lower()
                    if name == b"replconf":
                        if len(argv) > 1 and argv[1].lower() == b"getack":
                            writer.write(encode([b"REPLCONF", b"ACK", b"%d" % self.offset]))
                    elif name != b"ping":
                        engine.execute(session, argv)
                    self.offset += size

    async def _ack_every_second(self, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(encode([b"REPLCONF", b"ACK", b"%d" % self.offset]))
            await asyncio.sleep(1)

    # -- what INFO and ROLE show ---------------------------------------------------------------------
    def info_lines(self) -> list[str]:
        """Return the replica part of ``INFO replication``, as Redis 7.0 prints it."""
        config = self.engine.config.values
        up = self.state == "connected"
        lines = [
            "role:slave",
            f"master_host:{self.host}",
            f"master_port:{self.port}",
            f"master_link_status:{'up' if up else 'down'}",
            f"master_last_io_seconds_ago:{int(time.monotonic() - self.last_io) if up else -1}",
            f"master_sync_in_progress:{int(self.state == 'sync')}",
            f"slave_read_repl_offset:{max(self.offset, 0)}",
            f"slave_repl_offset:{max(self.offset, 0)}",
        ]
        if not up:
            lines.append(f"master_link_down_since_seconds:{int(time.time() - self.down_since)}")
        lines += [
            f"slave_priority:{config.get('replica-priority', '100')}",
            f"slave_read_only:{int(config['replica-read-only'] == 'yes')}",
            f"replica_announced:{int(config.get('replica-announced', 'yes') == 'yes')}",
            "connected_slaves:0",
            "master_failover_state:no-failover",
            f"master_replid:{self.master_replid if self.master_replid != '?' else '0' * 40}",
            "master_replid2:0000000000000000000000000000000000000000",
            f"master_repl_offset:{max(self.offset, 0)}",
            "second_repl_offset:-1",
            "repl_backlog_active:0",
            f"repl_backlog_size:{config['repl-backlog-size']}",
            "repl_backlog_first_byte_offset:0",
            "repl_backlog_histlen:0",
        ]
        return lines

    def role(self) -> list[Any]:
        """Return ``ROLE``'s reply for a replica."""
        return [b"slave", (self.host or "").encode(), self.port, self.state.encode(), max(self.offset, -1)]


# -- REPLICAOF and FAILOVER ------------------------------------------------------------------------------


def replicaof(session: Session, argv: list[bytes]) -> Any:
    """REPLICAOF host port | NO ONE"""
    link: MasterLink = session.engine.extensions["master_link"]
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        return Action("replicaof", OK, "NO ONE")
    try:
        port = int(argv[2])
    except ValueError:
        raise ReplyError("ERR value is not an integer or out of range") from None
    if not 0 <= port <= 65535:
        raise ReplyError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if link.host == host and link.port == port:
        return _ALREADY
    return Action("replicaof", OK, f"{host} {port}")


def failover(session: Session, argv: list[bytes]) -> Any:
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]"""
    engine = session.engine
    if engine.extensions["master_link"].active:
        raise ReplyError("ERR FAILOVER is not valid when server is a replica.")
    index = 1
    while index < len(argv):
        option = argv[index].lower()
        if option == b"abort" and len(argv) == 2:
            raise ReplyError("ERR No failover in progress.")
        if option == b"to" and index + 2 < len(argv):
            index += 3
        elif option == b"timeout" and index + 1 < len(argv):
            index += 2
        elif option == b"force":
            index += 1
        else:
            raise ReplyError("ERR syntax error")
    if not engine.extensions["replication"].replicas:
        raise ReplyError("ERR FAILOVER requires connected replicas.")
    raise ReplyError("ERR FAILOVER is not supported by redpocket: promote the replica with REPLICAOF NO ONE, "
                     "then make this server its replica with REPLICAOF host port")
