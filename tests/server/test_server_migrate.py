"""MIGRATE between redpocket and redis-server, both ways, with Redis's options and replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.engine.rdb_values import VALUES, build, read_back
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.server import Server


@pytest.fixture
def target(redis_server) -> redis.Redis:
    """The real redis-server, emptied."""
    client = redis_server.client()
    client.flushall()
    client.config_set("requirepass", "")
    return client


@pytest.fixture(params=["embedded", "served"])
def source(request, make_server: Callable[..., Server]) -> redis.Redis:
    """The engine MIGRATE runs in: through the embedded client, or through a redpocket TCP server."""
    if request.param == "embedded":
        return EmbeddedRedis(Engine())
    server = make_server()
    return redis.Redis(port=server.port, socket_timeout=10)


def port_of(client: redis.Redis) -> int:
    """Return the TCP port of a redis-py client."""
    return int(client.connection_pool.connection_kwargs["port"])


@pytest.mark.parametrize("name", sorted(VALUES))
def test_migrate_moves_every_type_to_redis(source: redis.Redis, target: redis.Redis, name: str) -> None:
    build(source, name)
    expected = read_back(source, "k")
    source.pexpire("k", 500_000)
    assert run(source, "MIGRATE", "127.0.0.1", port_of(target), "k", 0, 5000) == b"OK"
    assert source.exists("k") == 0
    assert read_back(target, "k") == expected
    assert 400_000 < target.pttl("k") <= 500_000


def test_migrate_options(source: redis.Redis, target: redis.Redis) -> None:
    port = port_of(target)
    source.mset({"a": "1", "b": "2", "c": "3"})
    assert run(source, "MIGRATE", "127.0.0.1", port, "a", 3, 5000, "COPY") == b"OK"
    assert source.get("a") == b"1"
    target_db3 = redis.Redis(port=port, db=3)
    assert target_db3.get("a") == b"1"
    reply = run(source, "MIGRATE", "127.0.0.1", port, "a", 3, 5000)
    assert reply == ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
    assert source.get("a") == b"1"  # not moved: still here
    assert run(source, "MIGRATE", "127.0.0.1", port, "a", 3, 5000, "REPLACE") == b"OK"
    assert source.exists("a") == 0
    assert run(source, "MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", "b", "c", "missing") == b"OK"
    assert target.mget("b", "c") == [b"2", b"3"]
    assert source.exists("b", "c") == 0
    assert run(source, "MIGRATE", "127.0.0.1", port, "missing", 0, 5000) == b"NOKEY"
    target_db3.close()


def test_migrate_with_auth(source: redis.Redis, target: redis.Redis) -> None:
    port = port_of(target)
    target.config_set("requirepass", "secret")
    admin = redis.Redis(port=port, password="secret")
    try:
        source.set("k", "v")
        reply = run(source, "MIGRATE", "127.0.0.1", port, "k", 0, 5000)
        assert reply == ("error", "Target instance replied with error: NOAUTH Authentication required.")
        assert run(source, "MIGRATE", "127.0.0.1", port, "k", 0, 5000, "AUTH", "secret") == b"OK"
        assert admin.get("k") == b"v"
        source.set("k2", "v2")
        assert run(source, "MIGRATE", "127.0.0.1", port, "k2", 0, 5000, "AUTH2", "default", "secret") == b"OK"
        assert admin.get("k2") == b"v2"
    finally:
        admin.config_set("requirepass", "")
        admin.close()


@pytest.mark.parametrize(("args", "error"), [
    (["k", 0, 5000, "KEYS", "a"], "When using MIGRATE KEYS option, the key argument must be set to the empty string"),
    (["k", 0, 5000, "AUTH"], "syntax error"),
    (["k", 0, 5000, "AUTH2", "user"], "syntax error"),
    (["k", 0, 5000, "NOPE"], "syntax error"),
    (["k", "x", 5000], "value is not an integer or out of range"),
    (["k", 0, "x"], "value is not an integer or out of range"),
])
def test_migrate_argument_errors_match_redis(source: redis.Redis, target: redis.Redis, args: list[Any], error: str) -> None:
    source.set("k", "v")
    target.set("k", "v")
    port = port_of(target)
    assert run(source, "MIGRATE", "127.0.0.1", port, *args) == ("error", error)
    assert run(target, "MIGRATE", "127.0.0.1", port, *args) == ("error", error)


def test_migrate_to_a_closed_port_is_an_ioerror(source: redis.Redis) -> None:
    from tests.conftest import free_port

    source.set("k", "v")
    reply = run(source, "MIGRATE", "127.0.0.1", free_port(), "k", 0, 1000)
    assert reply[0] == "error" and "IOERR error or timeout connecting to the client" in reply[1]
    assert source.get("k") == b"v"


def test_redis_server_migrates_into_redpocket(make_server: Callable[..., Server], target: redis.Redis) -> None:
    server = make_server()
    ours = redis.Redis(port=server.port, socket_timeout=10)
    for name in sorted(VALUES):
        build(target, name, name)
    expected = {name: read_back(target, name) for name in VALUES}
    assert run(target, "MIGRATE", "127.0.0.1", server.port, "", 0, 5000, "KEYS", *sorted(VALUES)) == b"OK"
    assert target.dbsize() == 0
    assert {name: read_back(ours, name) for name in VALUES} == expected
    ours.close()
