"""CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and REPLY: the bytes a client receives, on both backends.

Invalidations are out-of-band frames, so these tests speak bytes through
a :class:`Wire`: a raw socket to the real ``redis-server``, or, for the
embedded backend, an engine session whose replies and pushes are encoded
as the TCP server encodes them.  Each :meth:`Wire.send` is one turn of a
front end: the engine's deferred work (a client's own invalidations, the
BCAST messages) runs at its end, as the server's event loop runs it.
Expected bytes are Redis 7.0.15's, checked on both backends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.server.server_helpers import NULL_PUSH, Command, SocketWire, Wire, invalidate, message, to_argv

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.commands.pubsub import hub
from redpocket.engine.tracking import tracking
from redpocket.server.protocol import encode

OK = b"+OK\r\n"


class EngineWire(Wire):
    """A session of an in-process engine, its replies and pushes encoded as the TCP server does."""

    def __init__(self, engine: Engine, deferred: list[Callable[[], None]]) -> None:
        self.engine = engine
        self.session = engine.session()
        self.buffer = bytearray()
        self.deferred = deferred
        hub(engine).set_deliverer(self.session, self._deliver)
        tracking(engine).defer = deferred.append

    def _deliver(self, frame: Any) -> None:
        self.buffer += encode(frame, self.session.protocol)

    def send(self, *commands: Command) -> None:
        for command in commands:
            reply = self.session.execute_blocking(to_argv(command))
            self.buffer += encode(reply, self.session.protocol)
        while self.deferred:  # the end of the turn
            self.deferred.pop(0)()

    def receive(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def line(self) -> bytes:
        end = self.buffer.index(b"\r\n") + 2
        return self.receive(end)

    def idle(self, seconds: float = 0.05) -> bytes:
        return self.receive(len(self.buffer))

    def close(self) -> None:
        hub(self.engine).forget(self.session)
        self.session.close()


@pytest.fixture
def connect(backend: str, make_client: Callable[..., redis.Redis]) -> Iterator[Callable[[], Wire]]:
    """Open wires to the current backend (the engine of ``make_client``, or its redis-server)."""
    client = make_client()
    wires: list[Wire] = []
    if isinstance(client, EmbeddedRedis):
        deferred: list[Callable[[], None]] = []

        def make() -> Wire:
            wires.append(EngineWire(client.engine, deferred))
            return wires[-1]
    else:
        port = client.connection_pool.connection_kwargs["port"]

        def make() -> Wire:
            wires.append(SocketWire(port))
            return wires[-1]

    yield make
    for wire in wires:
        wire.close()


def test_reads_are_invalidated_once(connect) -> None:
    reader, writer = connect(), connect()
    reader.hello3()
    reader.expect("CLIENT TRACKING on", reply=OK)
    reader.expect("GET foo", "MGET foo bar", reply=b"_\r\n*2\r\n_\r\n_\r\n")
    writer.expect("SET foo 1", "SET bar 2", "SET foo 3", reply=OK * 3)
    assert reader.receive(len(invalidate(b"foo") + invalidate(b"bar"))) == invalidate(b"foo") + invalidate(b"bar")
    assert reader.idle() == b""  # forgotten once invalidated
    reader.expect("GET foo", reply=b"$1\r\n3\r\n")
    writer.expect("SELECT 1", "SET foo x", reply=OK * 2)  # key names are tracked across databases
    assert reader.receive(len(invalidate(b"foo"))) == invalidate(b"foo")


def test_own_writes_are_invalidated_after_their_reply(connect) -> None:
    client = connect()
    client.hello3()
    client.expect("CLIENT TRACKING on", reply=OK)
    client.expect("GET p1", "GET p2", "SET p1 1", "SET p2 2", "GET p1", "PING",
                  reply=b"_\r\n_\r\n+OK\r\n" + invalidate(b"p1") + b"+OK\r\n" + invalidate(b"p2") + b"$1\r\n1\r\n+PONG\r\n")
    client.expect("MULTI", "SET p1 2", "GET p1", "EXEC",
                  reply=b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n2\r\n" + invalidate(b"p1"))
    client.expect("SET p1 3", reply=b"+OK\r\n" + invalidate(b"p1"))  # (the GET inside EXEC tracked it again)
    client.expect("GET p1", "SET p1 4", "NOSUCH", reply=b"$1\r\n3\r\n+OK\r\n" + invalidate(b"p1")
                  + b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n")
    client.expect("SET w 1", "GET w", ("EVAL", "return redis.call('set', KEYS[1], 2)", "1", "w"), "PING",
                  reply=b"+OK\r\n$1\r\n1\r\n+OK\r\n" + invalidate(b"w") + b"+PONG\r\n")


def test_noloop_leaves_out_own_writes(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on NOLOOP", reply=OK)
    client.expect("GET n", "SET n 1", "GET n", ("EVAL", "return redis.call('set', KEYS[1], 2)", "1", "n"), "PING",
                  reply=b"_\r\n+OK\r\n$1\r\n1\r\n+OK\r\n+PONG\r\n")
    client.expect("GET n", reply=b"$1\r\n2\r\n")
    other.expect("DEL n", reply=b":1\r\n")
    assert client.receive(len(invalidate(b"n"))) == invalidate(b"n")


def test_flushes_invalidate_everything_with_a_null(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on", reply=OK)
    client.expect("GET x", reply=b"_\r\n")
    other.expect("SELECT 3", "FLUSHDB", reply=OK * 2)  # any database, even an empty one
    assert client.receive(len(NULL_PUSH)) == NULL_PUSH
    other.expect("FLUSHDB", reply=OK)
    assert client.receive(len(NULL_PUSH)) == NULL_PUSH
    client.expect("GET x", "FLUSHALL", "PING", reply=b"_\r\n+OK\r\n" + NULL_PUSH + b"+PONG\r\n")
    other.expect("SET x 1", reply=OK)  # the flush emptied the table
    client.expect("MULTI", "SET y 1", "FLUSHALL", "EXEC", reply=b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n" + NULL_PUSH)
    assert client.idle() == b""


def test_resp2_needs_a_subscribed_redirection(connect) -> None:
    tracker, subscriber, other = connect(), connect(), connect()
    target = subscriber.client_id()
    subscriber.expect("SUBSCRIBE __redis__:invalidate", reply=b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n")
    tracker.expect(("CLIENT", "TRACKING", "on", "REDIRECT", target), reply=OK)
    tracker.expect("GET foo", reply=b"$-1\r\n")
    other.expect("SET foo 1", reply=OK)
    assert subscriber.receive(len(message(b"foo"))) == message(b"foo")
    tracker.expect("GET foo", reply=b"$1\r\n1\r\n")
    other.expect("FLUSHALL", reply=OK)
    flushed = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    assert subscriber.receive(len(flushed)) == flushed
    assert tracker.idle() == b""
    # Without a redirection, or to a client that is not subscribed, RESP2 gets nothing.
    alone, unsubscribed = connect(), connect()
    alone.expect("CLIENT TRACKING on", "GET k", reply=b"+OK\r\n$-1\r\n")
    tracker.expect(("CLIENT", "TRACKING", "on", "REDIRECT", unsubscribed.client_id()), "GET k",
                   reply=b"+OK\r\n$-1\r\n")
    other.expect("SET k 1", reply=OK)
    assert alone.idle() == b"" and unsubscribed.idle() == b"" and subscriber.idle() == b""


def test_redirection_to_a_resp3_client(connect) -> None:
    tracker, target, other = connect(), connect(), connect()
    target.hello3()
    tracker.expect(("CLIENT", "TRACKING", "on", "REDIRECT", target.client_id()), "GET q", reply=b"+OK\r\n$-1\r\n")
    target.expect("SET q 1", "PING", reply=invalidate(b"q") + b"+OK\r\n+PONG\r\n")  # not its own key: no waiting
    tracker.expect("GET q", reply=b"$1\r\n1\r\n")
    other.expect("FLUSHALL", reply=OK)
    # The null is the tracking client's own protocol's.
    assert target.receive(len(b">2\r\n$10\r\ninvalidate\r\n$-1\r\n")) == b">2\r\n$10\r\ninvalidate\r\n$-1\r\n"


def test_broken_redirection(connect) -> None:
    tracker, target, other = connect(), connect(), connect()
    tracker.hello3()
    gone = target.client_id()
    tracker.expect(("CLIENT", "TRACKING", "on", "REDIRECT", gone), "GET k", reply=b"+OK\r\n_\r\n")
    target.close()
    time.sleep(0.05)  # (redis-server notices the hang-up)
    other.expect("SET k 1", reply=OK)
    broken = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % gone
    assert tracker.receive(len(broken)) == broken
    info = (b"%%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:%d\r\n"
            b"$8\r\nprefixes\r\n*0\r\n" % gone)
    tracker.expect("CLIENT TRACKINGINFO", "CLIENT GETREDIR", reply=info + b":%d\r\n" % gone)
    tracker.send("CLIENT INFO")
    line = tracker.line() + tracker.line()
    assert b" flags=tR " in line and b" redir=%d " % gone in line


def test_bcast_prefixes(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on BCAST PREFIX user: PREFIX obj:", reply=OK)
    client.expect("CLIENT TRACKINGINFO", reply=b"%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n"
                  b"$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$4\r\nobj:\r\n$5\r\nuser:\r\n")
    # One message per prefix for the turn, prefixes and keys in order.
    other.expect("SET user:1 a", "SET obj:2 b", "SET other c", "MSET user:4 x user:3 y", "DEL user:1",
                 reply=b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n:1\r\n")
    expected = invalidate(b"obj:2") + invalidate(b"user:1", b"user:3", b"user:4")
    assert client.receive(len(expected)) == expected
    client.expect("SET user:10 z", "SET user:11 z", "GET user:10",
                  reply=b"+OK\r\n+OK\r\n$1\r\nz\r\n" + invalidate(b"user:10", b"user:11"))
    client.expect("CLIENT TRACKING on BCAST PREFIX foo", "CLIENT TRACKING on BCAST PREFIX fo", reply=OK + (
        b"-ERR Prefix 'fo' overlaps with an existing prefix 'foo'. Prefixes for a single client must not overlap.\r\n"))
    client.expect("CLIENT TRACKING on", reply=b"-ERR You can't switch BCAST mode on/off before disabling tracking "
                  b"for this client, and then re-enabling it with a different mode.\r\n")
    client.expect("CLIENT TRACKING off", "CLIENT TRACKING on BCAST NOLOOP", "CLIENT TRACKINGINFO", reply=OK * 2 + (
        b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n"
        b"$8\r\nprefixes\r\n*1\r\n$0\r\n\r\n"))
    client.expect("SET k 1", reply=OK)
    other.expect("SET k 2", "SET j 2", reply=OK * 2)  # NOLOOP: only the keys another client wrote last
    assert client.receive(len(invalidate(b"j", b"k"))) == invalidate(b"j", b"k")
    client.expect("SET mine 1", reply=OK)
    assert client.idle() == b""


def test_bcast_prefix_overlaps(connect) -> None:
    client = connect()
    client.expect("CLIENT TRACKING on BCAST PREFIX zz PREFIX zzz", "CLIENT TRACKINGINFO", reply=(
        b"-ERR Prefix 'zz' overlaps with another provided prefix 'zzz'. Prefixes for a single client must not "
        b"overlap.\r\n*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"))
    # Past the first prefix Redis 7.0 answers the error *and* OK, and tracks all of them.
    client.expect("CLIENT TRACKING on BCAST PREFIX a PREFIX b PREFIX bc", "CLIENT TRACKINGINFO", reply=(
        b"-ERR Prefix 'b' overlaps with another provided prefix 'bc'. Prefixes for a single client must not "
        b"overlap.\r\n+OK\r\n*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n"
        b"$8\r\nprefixes\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$2\r\nbc\r\n"))


def test_optin_and_optout(connect) -> None:
    client, other = connect(), connect()
    client.hello3()

    def written(*keys: str) -> bytes:
        other.expect(*(f"SET {key} x" for key in keys), reply=OK * len(keys))
        return client.idle()

    client.expect("CLIENT TRACKING on OPTIN", "CLIENT CACHING no", reply=OK + (
        b"-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"))
    client.expect("GET o1", reply=b"_\r\n")
    assert written("o1") == b""
    client.expect("CLIENT CACHING yes", "CLIENT TRACKINGINFO", "GET o2", "GET o3", reply=OK + (
        b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$8\r\nredirect\r\n:0\r\n"
        b"$8\r\nprefixes\r\n*0\r\n_\r\n_\r\n"))
    assert written("o2", "o3") == invalidate(b"o2")  # (a CLIENT command leaves CACHING for the next command)
    client.send("CLIENT CACHING yes", "CLIENT ID", "GET o4", "GET o5")
    assert client.line() == OK and client.line().startswith(b":") and client.receive(6) == b"_\r\n_\r\n"
    assert written("o4", "o5") == invalidate(b"o4")
    client.expect("CLIENT CACHING yes", "PING", "GET o6", reply=OK + b"+PONG\r\n_\r\n")
    assert written("o6") == b""
    client.expect("CLIENT CACHING yes", "MULTI", "GET o7", "GET o8", "EXEC", "GET o9",
                  reply=OK * 2 + b"+QUEUED\r\n+QUEUED\r\n*2\r\n_\r\n_\r\n_\r\n")
    assert written("o7", "o8", "o9") == invalidate(b"o7") + invalidate(b"o8")
    client.expect("CLIENT CACHING yes", "NOSUCH", "GET q1", reply=OK + (
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n_\r\n"))
    assert written("q1") == b""  # a refused command uses it up too
    client.expect("CLIENT TRACKING on OPTOUT", reply=b"-ERR You can't switch OPTIN/OPTOUT mode before disabling "
                  b"tracking for this client, and then re-enabling it with a different mode.\r\n")
    client.expect("CLIENT TRACKING off", "CLIENT TRACKING on OPTOUT", "CLIENT CACHING no", "CLIENT TRACKINGINFO",
                  "GET r1", "GET r2", reply=OK * 3 + (
                      b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$6\r\noptout\r\n$10\r\ncaching-no\r\n$8\r\nredirect\r\n"
                      b":0\r\n$8\r\nprefixes\r\n*0\r\n_\r\n_\r\n"))
    assert written("r1", "r2") == invalidate(b"r2")


def test_errors(connect) -> None:
    client = connect()
    target = client.client_id()
    not_integer = b"-ERR value is not an integer or out of range\r\n"
    missing = b"-ERR The client ID you want redirect to does not exist\r\n"
    syntax = b"-ERR syntax error\r\n"
    client.expect(
        "CLIENT CACHING yes", "CLIENT CACHING maybe", "CLIENT CACHING", "CLIENT CACHING yes no",
        ("CLIENT", "TRACKING", "on", "REDIRECT", "abc"), ("CLIENT", "TRACKING", "on", "REDIRECT", "0"),
        ("CLIENT", "TRACKING", "off", "REDIRECT", "99999"), "CLIENT TRACKING maybe", "CLIENT TRACKING on BOGUS",
        "CLIENT TRACKING on REDIRECT", "CLIENT TRACKING", "CLIENT TRACKING off PREFIX x",
        "CLIENT TRACKING on PREFIX a", "CLIENT TRACKING on OPTIN OPTOUT", "CLIENT TRACKING on BCAST OPTIN",
        ("CLIENT", "TRACKING", "on", "REDIRECT", target, "REDIRECT", target),
        "CLIENT GETREDIR extra", "CLIENT TRACKINGINFO extra", "CLIENT GETREDIR",
        reply=b"-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT "
        b"mode enabled\r\n" * 2 + b"-ERR wrong number of arguments for 'client|caching' command\r\n" * 2
        + not_integer + missing + missing + syntax * 3 + b"-ERR wrong number of arguments for 'client|tracking' "
        b"command\r\n" + OK + b"-ERR PREFIX option requires BCAST mode to be enabled\r\n"
        b"-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n"
        b"-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n"
        b"-ERR A client can only redirect to a single other client\r\n"
        b"-ERR wrong number of arguments for 'client|getredir' command\r\n"
        b"-ERR wrong number of arguments for 'client|trackinginfo' command\r\n:-1\r\n")


def test_trackinginfo_and_getredir(connect) -> None:
    client, target = connect(), connect()
    redirect = target.client_id()
    client.expect("CLIENT TRACKINGINFO", reply=b"*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n"
                  b"$8\r\nprefixes\r\n*0\r\n")
    client.expect(("CLIENT", "TRACKING", "on", "REDIRECT", redirect, "OPTIN", "NOLOOP"), "CLIENT CACHING yes",
                  "CLIENT TRACKINGINFO", "CLIENT GETREDIR", reply=OK * 2 + (
                      b"*6\r\n$5\r\nflags\r\n*4\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$6\r\nnoloop\r\n"
                      b"$8\r\nredirect\r\n:%d\r\n$8\r\nprefixes\r\n*0\r\n:%d\r\n" % (redirect, redirect)))
    # ON again resets the options (and the redirection) but not CACHING.
    client.expect("CLIENT TRACKING on", "CLIENT TRACKINGINFO", reply=OK + (
        b"*6\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"))
    client.expect("RESET", "CLIENT GETREDIR", "CLIENT TRACKINGINFO", reply=b"+RESET\r\n:-1\r\n"
                  b"*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n")


def test_client_list_flags(connect) -> None:
    plain, tracking_client, bcast = connect(), connect(), connect()
    tracking_client.expect("CLIENT TRACKING on", reply=OK)
    bcast.expect("CLIENT TRACKING on BCAST", reply=OK)
    plain.send(("CLIENT", "LIST", "ID", plain.client_id(), tracking_client.client_id(), bcast.client_id()))
    size = int(plain.line()[1:-2])
    listing = plain.receive(size + 2).decode()
    flags = {int(m[0]): (m[1], m[2]) for m in re.findall(r"id=(\d+) .* flags=(\w+) .* redir=(-?\d+)", listing)}
    assert sorted(flags.values()) == [("N", "-1"), ("t", "0"), ("tB", "0")]


def test_expiry_invalidates(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    other.expect("DEBUG SET-ACTIVE-EXPIRE 0", reply=OK)
    try:
        client.expect("CLIENT TRACKING on", reply=OK)
        other.expect("SET e1 1 PX 100", "SET e2 1 PX 100", reply=OK * 2)
        client.expect("GET e1", "GET e2", reply=b"$1\r\n1\r\n" * 2)
        time.sleep(0.15)
        other.expect("GET e1", reply=b"$-1\r\n")  # expired by another client's read
        assert client.receive(len(invalidate(b"e1"))) == invalidate(b"e1")
        client.expect("GET e2", "PING", reply=b"_\r\n" + invalidate(b"e2") + b"+PONG\r\n")  # by its own: after
        client.expect("CLIENT TRACKING on NOLOOP", reply=OK)
        other.expect("SET e3 1 PX 100", reply=OK)
        client.expect("GET e3", reply=b"$1\r\n1\r\n")
        time.sleep(0.15)
        client.expect("GET e3", "PING", reply=b"_\r\n+PONG\r\n")  # NOLOOP: its own read expired it
    finally:
        other.expect("DEBUG SET-ACTIVE-EXPIRE 1", reply=OK)


def test_script_reads_track_the_script_keys(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on", reply=OK)
    client.expect(("EVAL", "return redis.call('get', KEYS[1])", "1", "s1"),
                  ("EVAL", "return redis.call('get', 's2')", "0"),
                  ("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "s3"),
                  ("EVAL", "return 1", "1", "s4"), reply=b"_\r\n_\r\n_\r\n:1\r\n")
    other.expect("SET s1 1", "SET s2 1", "SET s3 1", "SET s4 1", reply=OK * 4)
    # Redis 7.0 remembers the keys of the command that ran the script, once the script reads.
    assert client.receive(len(invalidate(b"s1") + invalidate(b"s3"))) == invalidate(b"s1") + invalidate(b"s3")
    assert client.idle() == b""


def test_tracking_table_limit(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    other.expect("CONFIG SET tracking-table-max-keys 2", reply=OK)
    try:
        client.expect("CLIENT TRACKING on", "GET a", "GET b", "GET c", reply=OK + b"_\r\n" * 3)
        other.expect("PING", reply=b"+PONG\r\n")  # the next command brings the table back under the limit
        evicted = client.receive(len(invalidate(b"a")))
        assert evicted in (invalidate(b"a"), invalidate(b"b"), invalidate(b"c"))
        other.send("INFO stats")
        assert b"tracking_total_keys:2\r\n" in other.receive(int(other.line()[1:-2]) + 2)
    finally:
        other.expect("CONFIG SET tracking-table-max-keys 1000000", reply=OK)


def test_info_counts(connect, make_client) -> None:
    admin = make_client(protocol=2)
    first, second = connect(), connect()
    first.expect("CLIENT TRACKING on", "GET t1", "GET t2", "MGET t3 t4", reply=OK + b"$-1\r\n" * 2 + b"*2\r\n$-1\r\n$-1\r\n")
    second.expect("CLIENT TRACKING on BCAST PREFIX a PREFIX b", "GET t1", reply=OK + b"$-1\r\n")

    def counts() -> tuple[int, int, int, int]:
        clients, stats = admin.info("clients"), admin.info("stats")
        return (clients["tracking_clients"], stats["tracking_total_keys"], stats["tracking_total_items"],
                stats["tracking_total_prefixes"])

    assert counts() == (2, 4, 4, 2)
    first.expect("CLIENT TRACKING off", reply=OK)
    assert counts() == (1, 4, 4, 2)  # the table forgets lazily
    admin.set("t1", 1)
    assert counts() == (1, 3, 3, 2)
    second.close()
    time.sleep(0.05)  # (redis-server notices the hang-up)
    assert counts() == (0, 3, 3, 0)
    admin.flushall()
    assert counts() == (0, 0, 0, 0)


def test_client_help_lists_tracking(r: redis.Redis) -> None:
    lines = [line.decode() if isinstance(line, bytes) else line for line in r.execute_command("CLIENT HELP")]
    wanted = ["CACHING (YES|NO)", "GETREDIR", "REPLY (ON|OFF|SKIP)",
              "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]", "TRACKINGINFO"]
    positions = [lines.index(line) for line in wanted]
    assert positions == sorted(positions)


def test_client_reply_errors(connect) -> None:
    client = connect()
    client.expect("CLIENT REPLY maybe", "CLIENT REPLY", "CLIENT REPLY on extra",
                  reply=b"-ERR syntax error\r\n" + b"-ERR wrong number of arguments for 'client|reply' command\r\n" * 2)


def test_client_reply_in_process_always_answers() -> None:
    # In process every command keeps its reply: redis-py waits for each one, and nothing times out.
    client = EmbeddedRedis(Engine())
    assert client.client_reply("OFF") == b"OK"
    assert client.set("k", 1) is True
    assert client.client_reply("SKIP") == b"OK"
    assert client.get("k") == b"1"
    assert client.client_reply("ON") == b"OK"


def test_embedded_engine_when_nobody_tracks(engine: Engine) -> None:
    # The hooks are off until a client tracks, and off again once nothing is left to do.
    session = engine.session()
    assert engine.tracking is None and not engine.watched_keys
    session.execute([b"CLIENT", b"TRACKING", b"on"])
    session.execute([b"GET", b"k"])
    assert engine.tracking is not None and engine.watched_keys
    session.execute([b"CLIENT", b"TRACKING", b"off"])
    assert engine.tracking is not None  # its key is still in the table
    engine.session().execute([b"SET", b"k", b"1"])
    assert engine.tracking is None and not engine.watched_keys
