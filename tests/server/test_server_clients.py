"""Real clients against the server: redis-py (sync and asyncio, RESP2 and RESP3) and redis-cli."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
import redis
import redis.asyncio
from server_helpers import Raw

needs_cli = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")


def test_redis_py_sync(client: redis.Redis) -> None:
    assert client.ping() is True
    assert client.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert client.sadd("s", "x", "y") == 2
    with client.pipeline() as pipe:
        pipe.scard("s").hlen("h").exists("h", "s", "nope")
        assert pipe.execute() == [2, 2, 2]
    assert client.client_setname("me") is True
    assert client.client_getname() in ("me", b"me")
    assert client.client_id() > 0
    assert "me" in [c["name"] for c in client.client_list()]


def test_redis_py_transaction_and_watch(server) -> None:
    a = redis.Redis(port=server.port)
    b = redis.Redis(port=server.port)
    with a.pipeline() as pipe:
        pipe.watch("h")
        b.hset("h", "f", "changed")
        pipe.multi()
        pipe.hset("h", "f", "mine")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert b.hget("h", "f") == b"changed"


def test_redis_py_resp3(server) -> None:
    r = redis.Redis(port=server.port, protocol=3)
    r.hset("h", "a", "1")
    assert r.hgetall("h") == {b"a": b"1"}
    assert r.smembers("nope") == set()


def test_redis_py_asyncio(server) -> None:
    async def main() -> list[object]:
        r = redis.asyncio.Redis(port=server.port, max_connections=500)
        try:
            results = await asyncio.gather(*(r.sadd("s", str(i)) for i in range(200)))
            return [sum(results), await r.scard("s"), await r.ping()]
        finally:
            await r.aclose()

    assert asyncio.run(main()) == [200, 200, True]


def test_many_concurrent_connections(server) -> None:
    async def main() -> int:
        clients = [redis.asyncio.Redis(port=server.port, single_connection_client=True) for _ in range(1000)]
        try:
            await asyncio.gather(*(c.sadd("s", str(i)) for i, c in enumerate(clients)))
            return int(await clients[0].scard("s"))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    assert asyncio.run(main()) == 1000


@needs_cli
def test_redis_cli_ping_and_commands(server) -> None:
    def cli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, text=True,
                              timeout=30, check=True).stdout

    assert cli("ping") == "PONG\n"
    assert cli("hset", "h", "f", "v") == "1\n"
    assert cli("hget", "h", "f") == "v\n"
    assert cli("set", "k", "v") in ("OK\n",) or "unknown command" in cli("set", "k", "v")


@needs_cli
def test_redis_cli_pipe_mass_insertion_and_scan(server) -> None:
    count = 100_000
    payload = b"".join(b"*4\r\n$4\r\nHSET\r\n$%d\r\nkey:%d\r\n$1\r\nf\r\n$1\r\nv\r\n" % (len(b"key:%d" % i), i)
                       for i in range(count))
    done = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=payload, capture_output=True,
                          timeout=120, check=True)
    assert b"errors: 0, replies: 100000" in done.stdout
    r = redis.Redis(port=server.port)
    assert r.dbsize() == count
    scanned = subprocess.run(["redis-cli", "-p", str(server.port), "--scan", "--pattern", "key:9999*"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert sorted(scanned) == sorted(f"key:{i}" for i in range(count) if str(i).startswith("9999"))


def test_commandstats_and_slowlog_over_tcp(client: redis.Redis) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"k{i}", i)
        pipe.get(f"k{i}")
    pipe.execute()
    stats = client.info("commandstats")
    assert stats["cmdstat_get"]["calls"] == 200 and stats["cmdstat_get"]["usec"] > 0
    pipe = client.pipeline(transaction=False)
    for i in range(500):  # one run of GETs: timed with a few clock readings
        pipe.get(f"k{i}")
    pipe.execute()
    after = client.info("commandstats")["cmdstat_get"]
    assert after["calls"] == 700 and after["usec"] > stats["cmdstat_get"]["usec"]
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    pipe = client.pipeline(transaction=False)
    pipe.get("k1")
    pipe.incr("k2")
    pipe.execute()
    assert [entry["command"] for entry in client.slowlog_get(2)] == [b"INCRBY k2 1", b"GET k1"]


def test_info_counts_the_commands_pipelined_before_it(client: redis.Redis) -> None:
    client.config_resetstat()
    pipe = client.pipeline(transaction=False)
    for i in range(10):
        pipe.get(f"k{i}")
    pipe.info("commandstats")
    pipe.info("stats")
    pipe.info("commandstats")
    first, stats, second = pipe.execute()[10:]
    assert first["cmdstat_get"]["calls"] == 10 and "cmdstat_info" not in first  # CONFIG RESETSTAT counts too
    assert second["cmdstat_info"]["calls"] == 2
    assert stats["total_commands_processed"] == 12  # CONFIG RESETSTAT, 10 GETs, the INFO before


def _client_fields(port: int) -> list[dict[str, str]]:
    """Subscribe one client, run GET on another, then describe them with CLIENT LIST from a third."""
    subscriber = redis.Redis(port=port, protocol=2).pubsub()
    subscriber.subscribe("news")
    subscriber.get_message(timeout=1)
    other = redis.Redis(port=port)
    other.get("no-such-key")
    lister = redis.Redis(port=port)
    lister.response_callbacks.clear()
    try:
        text = lister.execute_command("CLIENT", "LIST").decode()
        kept = ("laddr", "flags", "sub", "psub", "ssub", "qbuf", "qbuf-free", "cmd")
        lines = [dict(item.split("=", 1) for item in line.split()) for line in text.splitlines()]
        # Only this test's three connections: the newest ids, whatever other tests left open on a shared server.
        lines = sorted(lines, key=lambda line: int(line["id"]))[-3:]
        return [{name: line[name] for name in kept} for line in lines]
    finally:
        subscriber.close()
        other.close()
        lister.close()


def test_client_list_fields_match_redis(server, redis_server) -> None:
    ours = _client_fields(server.port)
    real = _client_fields(redis_server.port)
    for line in ours:
        line["laddr"] = line["laddr"].rsplit(":", 1)[0]
    for line in real:
        line["laddr"] = line["laddr"].rsplit(":", 1)[0]
    assert ours == real
    assert ours[0]["cmd"] == "subscribe" and ours[0]["flags"] == "P" and ours[0]["sub"] == "1"
    assert ours[-1]["cmd"] == "client|list" and ours[-1]["qbuf"] == "26"


def test_client_kill_laddr_and_id(server) -> None:
    victim = Raw(server.port)
    assert victim.roundtrip(b"PING\r\n", b"+PONG\r\n") == b"+PONG\r\n"
    killer = redis.Redis(port=server.port)
    with pytest.raises(redis.ResponseError, match="client-id should be greater than 0"):
        killer.execute_command("CLIENT", "KILL", "ID", "-1")
    assert killer.execute_command("CLIENT", "KILL", "LADDR", "10.9.9.9:1") == 0
    # SKIPME defaults to yes: the victim goes, the caller stays.
    assert killer.execute_command("CLIENT", "KILL", "LADDR", f"127.0.0.1:{server.port}") == 1
    assert killer.ping() is True
    assert victim.read_for(0.3) == b"<EOF>"
