"""Blocking commands over sockets: only the caller waits, FIFO wake-ups, timeouts, disconnects."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from server_helpers import Raw

from redpocket.engine import Engine


def needs(client: redis.Redis, command: str) -> None:
    """Skip while the engine has not landed ``command`` yet."""
    if command.encode() not in Engine().commands:
        pytest.skip(f"{command} is not in the engine yet")


def test_blpop_blocks_only_the_caller_and_wakes_on_push(server, client) -> None:
    needs(client, "blpop")
    waiter = Raw(server.port)
    waiter.send(b"BLPOP q 0\r\n")
    time.sleep(0.1)
    assert client.ping() is True  # the server still serves others
    assert waiter.read_for(0.1) == b""
    assert client.rpush("q", "x") == 1
    assert waiter.recv_exact(len(b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n")) == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    waiter.close()


def test_blocked_clients_are_served_in_arrival_order(server, client) -> None:
    needs(client, "blpop")
    waiters = []
    for _ in range(3):
        conn = Raw(server.port)
        conn.send(b"BLPOP q 0\r\n")
        waiters.append(conn)
        time.sleep(0.05)
    client.rpush("q", "a", "b", "c")
    got = [w.recv_exact(len(b"*2\r\n$1\r\nq\r\n$1\r\na\r\n")) for w in waiters]
    assert got == [b"*2\r\n$1\r\nq\r\n$1\r\n%s\r\n" % v for v in (b"a", b"b", b"c")]


def test_pipelined_commands_after_a_blocking_one_wait_for_it(server, client) -> None:
    needs(client, "blpop")
    waiter = Raw(server.port)
    waiter.send(b"BLPOP q 0\r\nPING\r\n")
    time.sleep(0.1)
    assert waiter.read_for(0.1) == b""
    client.lpush("q", "v")
    expected = b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n+PONG\r\n"
    assert waiter.recv_exact(len(expected)) == expected


def test_timeout_gives_the_null_reply(server, client) -> None:
    needs(client, "blpop")
    waiter = Raw(server.port)
    started = time.monotonic()
    waiter.send(b"BLPOP q 0.2\r\n")
    assert waiter.recv_exact(5) == b"*-1\r\n"
    assert 0.15 < time.monotonic() - started < 2


def test_disconnect_releases_the_blocked_client(server, client) -> None:
    needs(client, "blpop")
    waiter = Raw(server.port)
    waiter.send(b"BLPOP q 0\r\n")
    time.sleep(0.1)
    assert server.engine.blocked_clients == 1
    waiter.close()
    deadline = time.monotonic() + 2
    while server.engine.blocked_clients and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.engine.blocked_clients == 0
    client.rpush("q", "x")
    assert client.lrange("q", 0, -1) == [b"x"]


def test_redis_py_blpop_in_a_thread(server, client) -> None:
    needs(client, "blpop")
    result: list[object] = []
    other = redis.Redis(port=server.port)
    thread = threading.Thread(target=lambda: result.append(other.blpop(["a", "b"], timeout=5)))
    thread.start()
    time.sleep(0.1)
    client.rpush("b", "1")
    thread.join(5)
    assert result == [(b"b", b"1")]


def test_blmove_and_bzpopmin_wake(server, client) -> None:
    needs(client, "blmove")
    needs(client, "bzpopmin")
    a = Raw(server.port)
    b = Raw(server.port)
    a.send(b"BLMOVE src dst LEFT RIGHT 0\r\n")
    b.send(b"BZPOPMIN z 0\r\n")
    time.sleep(0.1)
    client.rpush("src", "m")
    client.zadd("z", {"x": 1.5})
    assert a.recv_exact(7) == b"$1\r\nm\r\n"
    assert b.recv_exact(len(b"*3\r\n$1\r\nz\r\n$1\r\nx\r\n$3\r\n1.5\r\n")) == b"*3\r\n$1\r\nz\r\n$1\r\nx\r\n$3\r\n1.5\r\n"
    assert client.lrange("dst", 0, -1) == [b"m"]


def _blocking_stats(client: redis.Redis, pusher: redis.Redis) -> dict[str, int]:
    """Run a BLPOP that times out and one that a push from another client serves; return the calls counted."""
    client.config_resetstat()
    assert client.blpop(["nokey"], 0.05) is None

    def push() -> None:
        time.sleep(0.1)
        pusher.rpush("q", "x")

    thread = threading.Thread(target=push)
    thread.start()
    assert client.brpop(["q"], 5) == (b"q", b"x")
    thread.join()
    stats = client.info("commandstats")
    return {name: stats[f"cmdstat_{name}"]["calls"] for name in ("blpop", "brpop", "rpush")}


def test_blocking_commands_are_counted_once_everywhere(server, redis_server) -> None:
    """INFO commandstats after blocking commands: embedded = TCP = redis-server (one call each)."""
    from redpocket.client import EmbeddedRedis

    engine = Engine()
    backends = {
        "embedded": (EmbeddedRedis(engine), EmbeddedRedis(engine)),
        "tcp": (redis.Redis(port=server.port), redis.Redis(port=server.port)),
        "redis": (redis_server.client(), redis_server.client()),
    }
    counted = {name: _blocking_stats(*clients) for name, clients in backends.items()}
    assert counted["redis"] == {"blpop": 1, "brpop": 1, "rpush": 1}
    assert counted["embedded"] == counted["redis"]
    assert counted["tcp"] == counted["redis"]
    for clients in backends.values():
        for client in clients:
            client.close()
