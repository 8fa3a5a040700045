"""Client-side caching and CLIENT REPLY over TCP: the same bytes from redpocket's server and from redis-server 7.0.

Every test runs against both (``port`` is parametrized): requests go
pipelined or one read at a time, through the server's hot path and its
checked path, and the bytes each socket receives are compared with what
Redis 7.0.15 sends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection
from server_helpers import SocketWire, invalidate

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"


@pytest.fixture(params=["redpocket", "redis"])
def port(request: pytest.FixtureRequest) -> int:
    """The port of redpocket's server, or of a flushed redis-server."""
    if request.param == "redpocket":
        return int(request.getfixturevalue("server").port)
    real = request.getfixturevalue("redis_server")
    admin = real.client()
    admin.flushall()
    admin.close()
    return int(real.port)


@pytest.fixture
def connect(port: int) -> Iterator[Any]:
    """Open raw clients to the server under test."""
    clients: list[SocketWire] = []

    def make() -> SocketWire:
        clients.append(SocketWire(port))
        return clients[-1]

    yield make
    for client in clients:
        client.sock.close()


def test_tracking_reads_and_invalidations(connect) -> None:
    reader, writer = connect(), connect()
    reader.hello3()
    reader.expect("CLIENT TRACKING on", "GET foo", "MGET foo bar", reply=OK + b"_\r\n*2\r\n_\r\n_\r\n")
    writer.expect("SET foo 1", "SET bar 2", "SET foo 3", reply=OK * 3)  # (the writer's hot path)
    assert reader.receive(len(invalidate(b"foo") + invalidate(b"bar"))) == invalidate(b"foo") + invalidate(b"bar")
    # The reader's own writes: each invalidation right after its command's reply.
    reader.expect("GET p1", "GET p2", "SET p1 1", "SET p2 2", "GET p1", "PING",
                  reply=b"_\r\n_\r\n+OK\r\n" + invalidate(b"p1") + b"+OK\r\n" + invalidate(b"p2") + b"$1\r\n1\r\n" + PONG)
    reader.expect("MULTI", "SET p1 2", "GET p1", "EXEC",
                  reply=b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n2\r\n" + invalidate(b"p1"))
    reader.expect("SET solo 1", reply=OK)  # one read at a time
    reader.expect("GET solo", reply=b"$1\r\n1\r\n")
    reader.expect("SET solo 2", reply=OK + invalidate(b"solo"))
    writer.expect("FLUSHALL", reply=OK)
    assert reader.receive(len(b">2\r\n$10\r\ninvalidate\r\n_\r\n")) == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    assert reader.idle() == b""


def test_bcast_messages_gather_a_turn(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on BCAST PREFIX user: PREFIX obj:", reply=OK)
    other.expect("SET user:1 a", "SET obj:2 b", "SET other c", "MSET user:4 x user:3 y", "DEL user:1",
                 reply=b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n:1\r\n")
    expected = invalidate(b"obj:2") + invalidate(b"user:1", b"user:3", b"user:4")
    assert client.receive(len(expected)) == expected
    client.expect("SET user:10 z", "SET user:11 z", "GET user:10",
                  reply=b"+OK\r\n+OK\r\n$1\r\nz\r\n" + invalidate(b"user:10", b"user:11"))
    client.expect("CLIENT TRACKING off", "CLIENT TRACKING on BCAST NOLOOP", "SET k 1", reply=OK * 3)
    other.expect("SET k 2", "SET j 2", reply=OK * 2)
    assert client.receive(len(invalidate(b"j", b"k"))) == invalidate(b"j", b"k")
    assert client.idle() == b""


def test_resp2_redirection_over_tcp(connect) -> None:
    tracker, subscriber, other = connect(), connect(), connect()
    target = subscriber.client_id()
    subscriber.expect("SUBSCRIBE __redis__:invalidate",
                      reply=b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n")
    tracker.expect(("CLIENT", "TRACKING", "on", "REDIRECT", target), "GET foo", "CLIENT GETREDIR",
                   reply=b"+OK\r\n$-1\r\n:%d\r\n" % target)
    other.expect("SET foo 1", reply=OK)
    expected = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$3\r\nfoo\r\n"
    assert subscriber.receive(len(expected)) == expected
    assert tracker.idle() == b""


def test_client_reply_off_skip_on(connect) -> None:
    client = connect()
    client.expect("CLIENT REPLY OFF", "SET x 1", "GET x", "CLIENT REPLY bad", "NOSUCH", "CLIENT REPLY SKIP", "PING",
                  "CLIENT REPLY ON", "PING", reply=OK + PONG)
    client.expect("CLIENT REPLY SKIP", "PING", "PING", reply=PONG)
    client.expect("CLIENT REPLY SKIP", "CLIENT REPLY SKIP", "PING", "PING", reply=PONG)
    client.expect("CLIENT REPLY SKIP", "CLIENT REPLY ON", "PING", reply=OK + PONG)
    # One read at a time: the connection stays quiet across reads.
    client.send("CLIENT REPLY OFF")
    client.send("SET y 2")
    client.send("GET y")
    client.expect("CLIENT REPLY ON", reply=OK)
    client.send("CLIENT REPLY SKIP")
    client.send("GET y")
    client.expect("ECHO back", reply=b"$4\r\nback\r\n")
    client.expect("GET y", reply=b"$1\r\n2\r\n")  # back on the hot path
    assert client.idle() == b""


def test_client_reply_keeps_pushes(connect) -> None:
    client, other = connect(), connect()
    client.hello3()
    client.expect("CLIENT TRACKING on", "GET k", reply=OK + b"_\r\n")
    client.send("CLIENT REPLY OFF")
    other.expect("SET k 1", reply=OK)
    assert client.receive(len(invalidate(b"k"))) == invalidate(b"k")
    client.expect("GET k", "SET k 2", "GET x", "CLIENT REPLY ON", reply=invalidate(b"k") + OK)
    client.expect("GET k", "CLIENT REPLY SKIP", "SET k 3", "PING", reply=b"$1\r\n2\r\n" + invalidate(b"k") + PONG)
    client.expect("CLIENT REPLY OFF", "SUBSCRIBE ch", "PING", "CLIENT REPLY ON",
                  reply=b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n" + OK)
    resp2 = connect()
    resp2.expect("CLIENT REPLY OFF", "SUBSCRIBE ch", "PING", "RESET", "PING",
                 reply=b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n+RESET\r\n" + PONG)


def test_client_reply_reset_and_hello(connect) -> None:
    client = connect()
    client.expect("CLIENT REPLY OFF", "RESET", "PING", reply=b"+RESET\r\n" + PONG)
    client.expect("CLIENT REPLY SKIP", "RESET", "PING", reply=PONG)
    client.expect("CLIENT REPLY OFF", "HELLO 3", "CLIENT REPLY ON", "PING", reply=OK + PONG)


def test_client_reply_of_a_blocked_command(connect) -> None:
    client, other = connect(), connect()
    client.expect("CLIENT REPLY OFF", "BLPOP l 0.05", reply=b"")
    time.sleep(0.15)
    client.expect("CLIENT REPLY ON", reply=OK)
    client.send("CLIENT REPLY SKIP", "BLPOP l 0")
    time.sleep(0.05)
    other.expect("RPUSH l a", reply=b":1\r\n")
    client.expect("PING", reply=PONG)  # the BLPOP's reply was the one skipped
    assert client.idle() == b""


@pytest.fixture
def caching_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # redis-py 8.1 enables client-side caching only for servers that say they are Redis 7.4 or later;
    # both servers here are 7.0 (and RESP3 CLIENT TRACKING is 6.0's).
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")


@pytest.mark.usefixtures("caching_allowed")
def test_redis_py_client_side_cache(port: int) -> None:
    cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig())
    other = redis.Redis(port=port)
    try:
        other.set("foo", "1")
        assert cached.get("foo") == b"1"
        cache = cached.get_cache()
        assert cache is not None and cache.size == 1
        other.set("foo", "2")
        deadline = time.monotonic() + 2
        while cached.get("foo") != b"2" and time.monotonic() < deadline:  # (the push may still be on its way)
            time.sleep(0.01)
        assert cached.get("foo") == b"2"
        other.flushall()
        time.sleep(0.05)
        assert cached.get("foo") is None
        assert cache.size == 0
        cached.set("bar", "x")
        assert cached.get("bar") == b"x"
        cached.set("bar", "y")  # its own write invalidates its own cache
        assert cached.get("bar") == b"y"
    finally:
        cached.close()
        other.close()
