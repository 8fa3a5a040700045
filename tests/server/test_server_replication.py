"""Replication with redis-server 7.0.15 both ways: a redis-server replica of a redpocket master and a redpocket
replica of a redis-server (or redpocket) master: full sync, command stream, partial resync, WAIT, INFO, ROLE,
read-only replicas, REPLICAOF NO ONE, FAILOVER's errors."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.conftest import RedisServer, start_redis_server
from tests.helpers import free_port, run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.server import Server

DATABASES = (0, 1)
WRITES = 10_000


def stop(server: RedisServer) -> None:
    """Stop a redis-server process started by a test."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def redis_replica(tmp_path: Path) -> Iterator[Callable[[int], RedisServer]]:
    """Start redis-server replicas of a master port (``redis_replica(port)``); stop them after the test."""
    started: list[RedisServer] = []

    def start(master_port: int) -> RedisServer:
        directory = tmp_path / f"replica{len(started)}"
        directory.mkdir()
        replica = start_redis_server(directory, "--replicaof", "127.0.0.1", str(master_port))
        started.append(replica)
        return replica

    yield start
    for replica in started:
        stop(replica)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it is true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def link_up(replica: redis.Redis) -> bool:
    """Tell whether a replica's link to its master is up."""
    return replica.info("replication").get("master_link_status") == "up"


def fill(client: redis.Redis, rng: random.Random, count: int = 300) -> None:
    """Give the dataset keys of every type an RDB holds, some with expiries (before the first sync)."""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"s:{i}", rng.randbytes(rng.randrange(0, 40)))
        pipe.hset(f"h:{i % 50}", f"f{i}", rng.randrange(1000))
        pipe.rpush(f"l:{i % 40}", *[rng.randrange(100) for _ in range(3)])
        pipe.sadd(f"t:{i % 30}", rng.randrange(60), f"m{rng.randrange(60)}")
        pipe.zadd(f"z:{i % 30}", {f"m{rng.randrange(80)}": rng.uniform(-100, 100)})
        if i % 7 == 0:
            pipe.pexpire(f"s:{i}", rng.randrange(200_000, 900_000))
    pipe.execute()


def random_writes(clients: list[redis.Redis], rng: random.Random, count: int) -> None:
    """Send ``count`` random writes (strings, hashes, lists, sets, zsets, streams, expiries, transactions, scripts)."""
    def key(kind: str) -> str:
        return f"{kind}:{rng.randrange(60)}"

    def member() -> str:
        return f"m{rng.randrange(80)}"

    commands: list[Callable[[], tuple[Any, ...]]] = [
        lambda: ("SET", key("s"), rng.randbytes(rng.randrange(0, 30))),
        lambda: ("SET", key("s"), rng.randrange(-1000, 1000), "EX", rng.randrange(300, 900)),
        lambda: ("APPEND", key("s"), "xy"),
        lambda: ("INCRBY", key("n"), rng.randrange(-50, 50)),
        lambda: ("INCRBYFLOAT", key("f"), "%.3f" % rng.uniform(-5, 5)),
        lambda: ("SETRANGE", key("s"), rng.randrange(20), "abc"),
        lambda: ("DEL", key(rng.choice("shlztnf"))),
        lambda: ("EXPIRE", key(rng.choice("shlztx")), rng.randrange(300, 900)),
        lambda: ("PEXPIREAT", key(rng.choice("shlz")), int(time.time() * 1000) + rng.randrange(300_000, 900_000)),
        lambda: ("PERSIST", key(rng.choice("shlz"))),
        lambda: ("HSET", key("h"), f"f{rng.randrange(40)}", rng.randbytes(rng.randrange(0, 12))),
        lambda: ("HDEL", key("h"), f"f{rng.randrange(40)}"),
        lambda: ("HINCRBY", key("h"), f"c{rng.randrange(5)}", rng.randrange(-9, 9)),
        lambda: ("HINCRBYFLOAT", key("h"), f"g{rng.randrange(5)}", "1.5"),
        lambda: ("LPUSH", key("l"), *[rng.randrange(100) for _ in range(rng.randrange(1, 4))]),
        lambda: ("RPUSH", key("l"), rng.randbytes(8)),
        lambda: ("LPOP", key("l")),
        lambda: ("RPOP", key("l"), 2),
        lambda: ("LTRIM", key("l"), 0, rng.randrange(1, 20)),
        lambda: ("LMOVE", key("l"), key("l"), "LEFT", "RIGHT"),
        lambda: ("SADD", key("t"), member(), rng.randrange(100)),
        lambda: ("SREM", key("t"), member()),
        lambda: ("SPOP", key("t")),
        lambda: ("SMOVE", key("t"), key("t"), member()),
        lambda: ("ZADD", key("z"), "%.4f" % rng.uniform(-100, 100), member()),
        lambda: ("ZINCRBY", key("z"), "2.5", member()),
        lambda: ("ZREM", key("z"), member()),
        lambda: ("ZPOPMIN", key("z")),
        lambda: ("ZUNIONSTORE", key("z"), 2, key("z"), key("z")),
        lambda: ("XADD", key("x"), "MAXLEN", "~", 50, "*", "f", rng.randrange(1000)),
        lambda: ("XADD", key("x"), "*", "a", rng.randbytes(6), "b", "2"),
        lambda: ("XDEL", key("x"), "0-1"),
        lambda: ("XTRIM", key("x"), "MAXLEN", rng.randrange(5, 40)),
        lambda: ("XGROUP", "CREATE", key("x"), f"g{rng.randrange(3)}", "0", "MKSTREAM"),
        lambda: ("XREADGROUP", "GROUP", f"g{rng.randrange(3)}", f"c{rng.randrange(3)}", "COUNT", 3,
                 "STREAMS", key("x"), ">"),
        lambda: ("RENAME", key("s"), key("s")),
        lambda: ("EVAL", "redis.call('INCR', KEYS[1]); return redis.call('SET', KEYS[2], ARGV[1])", 2,
                 key("n"), key("s"), rng.randrange(100)),
        lambda: ("SPOP", key("t"), 2),
        lambda: ("ZADD", key("z"), "GT", "CH", "%.2f" % rng.uniform(0, 50), member()),
        lambda: ("GETEX", key("s"), "PX", rng.randrange(300_000, 900_000)),
        lambda: ("GETDEL", key("s")),
    ]
    sent = 0
    while sent < count:
        client = rng.choice(clients)
        batch = min(count - sent, rng.randrange(20, 120))
        pipe = client.pipeline(transaction=rng.random() < 0.1)
        for _ in range(batch):
            pipe.execute_command(*rng.choice(commands)())
        pipe.execute(raise_on_error=False)
        sent += batch


def dataset(client: redis.Redis) -> dict[int, dict[bytes, Any]]:
    """Read every key of every database (type, value, absolute expiry) through plain commands."""
    result: dict[int, dict[bytes, Any]] = {}
    for index in DATABASES:
        db = redis.Redis(port=client.connection_pool.connection_kwargs["port"], db=index)
        keys: dict[bytes, Any] = {}
        for key in db.scan_iter(count=1000):
            kind = db.type(key)
            if kind == b"string":
                value: Any = db.get(key)
            elif kind == b"hash":
                value = db.hgetall(key)
            elif kind == b"list":
                value = db.lrange(key, 0, -1)
            elif kind == b"set":
                value = sorted(db.smembers(key))
            elif kind == b"zset":
                value = db.zrange(key, 0, -1, withscores=True)
            elif kind == b"stream":
                groups = [(g["name"], g["last-delivered-id"], g["pending"]) for g in db.xinfo_groups(key)]
                value = (db.xrange(key), sorted(groups), db.xinfo_stream(key)["last-generated-id"])
            else:
                value = None
            keys[key] = (kind, value, db.execute_command("PEXPIRETIME", key))
        db.close()
        result[index] = keys
    return result


@pytest.fixture
def master(make_server: Callable[..., Server]) -> Server:
    """A redpocket server to replicate from."""
    return make_server()


def test_redis_replica_of_redpocket_gets_full_sync_then_every_write(
    master: Server, redis_replica: Callable[[int], RedisServer],
) -> None:
    rng = random.Random(1307)
    client = redis.Redis(port=master.port, socket_timeout=20)
    fill(client, rng)
    replica = redis_replica(master.port).client(socket_timeout=20)
    wait_until(lambda: link_up(replica))
    assert replica.dbsize() == client.dbsize()
    assert dataset(replica) == dataset(client)
    clients = [client, redis.Redis(port=master.port, db=1, socket_timeout=20)]
    random_writes(clients, rng, WRITES)
    assert client.wait(1, 10_000) == 1
    assert dataset(replica) == dataset(client)
    stats = client.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 0)


def test_info_role_and_wait_on_a_master_with_a_replica(
    master: Server, redis_replica: Callable[[int], RedisServer],
) -> None:
    client = redis.Redis(port=master.port, socket_timeout=20)
    before = client.info("replication")
    assert (before["role"], before["connected_slaves"], before["repl_backlog_active"]) == ("master", 0, 0)
    server = redis_replica(master.port)
    replica = server.client()
    wait_until(lambda: link_up(replica))
    client.set("k", "v")
    assert client.wait(1, 5000) == 1
    assert client.wait(2, 200) == 1  # the timeout passes with the one replica there is
    assert client.wait(0, 0) == 1
    def caught_up() -> bool:  # (the replica acknowledges every second, the GETACK WAIT sent included)
        info = client.info("replication")
        return bool(info["slave0"]["offset"] == info["master_repl_offset"])

    wait_until(caught_up)
    info = client.info("replication")
    offset = info["master_repl_offset"]
    assert info["role"] == "master" and info["connected_slaves"] == 1
    assert info["slave0"]["ip"] == "127.0.0.1" and info["slave0"]["port"] == server.port
    assert info["slave0"]["state"] == "online" and info["slave0"]["offset"] == offset
    assert info["repl_backlog_active"] == 1 and info["repl_backlog_first_byte_offset"] == 1
    assert info["repl_backlog_histlen"] == offset
    assert replica.info("replication")["master_replid"] == info["master_replid"]
    assert replica.info("replication")["slave_repl_offset"] == offset
    role = client.execute_command("ROLE")
    assert role == [b"master", offset, [[b"127.0.0.1", str(server.port).encode(), str(offset).encode()]]]
    # Inside MULTI, WAIT answers at once with the replicas that have acknowledged.
    pipe = client.pipeline(transaction=True)
    pipe.set("k", "w").wait(1, 0)
    assert pipe.execute()[1] in (0, 1)


def test_a_reconnected_replica_continues_with_a_partial_resync(
    master: Server, redis_replica: Callable[[int], RedisServer],
) -> None:
    rng = random.Random(99)
    client = redis.Redis(port=master.port, socket_timeout=20)
    fill(client, rng, 100)
    replica = redis_replica(master.port).client(socket_timeout=20)
    wait_until(lambda: link_up(replica))
    random_writes([client], rng, 500)
    assert client.wait(1, 5000) == 1
    replica.execute_command("CLIENT", "KILL", "TYPE", "master")
    random_writes([client], rng, 500)  # (written while the link is down, or as it comes back)
    wait_until(lambda: client.info("stats")["sync_partial_ok"] == 1)
    assert client.wait(1, 5000) == 1
    stats = client.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"]) == (1, 1, 0)
    assert dataset(replica) == dataset(client)


def test_a_replica_beyond_the_backlog_gets_a_full_resync(
    master: Server, redis_replica: Callable[[int], RedisServer],
) -> None:
    client = redis.Redis(port=master.port, socket_timeout=20)
    client.config_set("repl-backlog-size", 16384)
    replica = redis_replica(master.port).client(socket_timeout=20)
    wait_until(lambda: link_up(replica))
    # Cut the replica off while more than the backlog is written, then let it come back.
    replica.execute_command("REPLICAOF", "NO", "ONE")
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"big:{i}", "x" * 100)
    pipe.execute()
    assert client.info("replication")["repl_backlog_histlen"] == 16384
    replica.execute_command("REPLICAOF", "127.0.0.1", master.port)
    wait_until(lambda: link_up(replica))
    assert client.wait(1, 5000) == 1
    stats = client.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"]) == (2, 0, 1)
    assert dataset(replica) == dataset(client)


def test_replconf_and_psync_errors(master: Server) -> None:
    client = redis.Redis(port=master.port)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        client.execute_command("REPLCONF", "listening-port")
    with pytest.raises(redis.ResponseError, match="Unrecognized REPLCONF option: bogus"):
        client.execute_command("REPLCONF", "bogus", "1")
    assert client.execute_command("REPLCONF", "listening-port", "7000", "capa", "eof") == b"OK"


# -- redpocket as a replica -------------------------------------------------------------------------------------


@pytest.fixture
def redis_master(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of its own to replicate from (no diskless-sync delay, so a sync starts at once)."""
    directory = tmp_path / "master"
    directory.mkdir()
    server = start_redis_server(directory, "--repl-diskless-sync-delay", "0")
    yield server
    stop(server)


def test_redpocket_replica_of_redis_gets_full_sync_then_every_write(
    redis_master: RedisServer, make_server: Callable[..., Server],
) -> None:
    rng = random.Random(4242)
    client = redis_master.client(socket_timeout=20)
    fill(client, rng)
    replica_server = make_server(config={"replicaof": f"127.0.0.1 {redis_master.port}"})
    replica = redis.Redis(port=replica_server.port, socket_timeout=20)
    wait_until(lambda: link_up(replica))
    assert dataset(replica) == dataset(client)
    random_writes([client, redis_master.client(db=1, socket_timeout=20)], rng, WRITES)
    assert client.wait(1, 10_000) == 1  # (the replica's REPLCONF ACK reached the master's offset)
    assert dataset(replica) == dataset(client)
    info = replica.info("replication")
    master_info = client.info("replication")
    assert info["role"] == "slave" and info["master_port"] == redis_master.port
    assert info["master_replid"] == master_info["master_replid"]
    assert info["slave_repl_offset"] == master_info["master_repl_offset"]
    assert replica.execute_command("ROLE") == [
        b"slave", b"127.0.0.1", redis_master.port, b"connected", master_info["master_repl_offset"]]


def test_redpocket_replica_continues_with_a_partial_resync_and_is_read_only(
    redis_master: RedisServer, make_server: Callable[..., Server],
) -> None:
    rng = random.Random(5)
    client = redis_master.client(socket_timeout=20)
    fill(client, rng, 100)
    replica_server = make_server()
    replica = redis.Redis(port=replica_server.port, socket_timeout=20)
    assert replica.execute_command("REPLICAOF", "127.0.0.1", redis_master.port) == b"OK"
    assert replica.execute_command("REPLICAOF", "127.0.0.1", redis_master.port) == b"OK Already connected to specified master"
    wait_until(lambda: link_up(replica))
    with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica"):
        replica.set("k", "v")
    pipe = replica.pipeline(transaction=True)
    pipe.get("k").set("k", "v")
    with pytest.raises(redis.exceptions.ResponseError):
        pipe.execute()
    assert replica.get("s:1") == client.get("s:1")  # reads are served
    random_writes([client], rng, 300)
    assert client.wait(1, 5000) == 1
    client.execute_command("CLIENT", "KILL", "TYPE", "replica")
    random_writes([client], rng, 300)
    wait_until(lambda: client.info("stats")["sync_partial_ok"] == 1)
    assert client.wait(1, 5000) == 1
    stats = client.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
    assert dataset(replica) == dataset(client)
    master_replid = client.info("replication")["master_replid"]
    assert replica.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert replica.set("k", "v")
    info = replica.info("replication")
    assert (info["role"], info["master_replid2"]) == ("master", master_replid)
    assert info["second_repl_offset"] == client.info("replication")["master_repl_offset"] + 1


def test_redpocket_replica_of_a_redpocket_master(make_server: Callable[..., Server]) -> None:
    rng = random.Random(77)
    master = make_server()
    client = redis.Redis(port=master.port, socket_timeout=20)
    fill(client, rng, 100)
    replica_server = make_server()
    replica = redis.Redis(port=replica_server.port, socket_timeout=20)
    replica.execute_command("REPLICAOF", "127.0.0.1", master.port)
    wait_until(lambda: link_up(replica))
    random_writes([client], rng, 1000)
    assert client.wait(1, 5000) == 1
    assert dataset(replica) == dataset(client)
    master.replication.replicas[next(iter(master.replication.replicas))].connection.close()  # cut the link
    random_writes([client], rng, 200)
    wait_until(lambda: client.info("stats")["sync_partial_ok"] == 1)
    assert client.wait(1, 5000) == 1
    assert dataset(replica) == dataset(client)
    # A replica does not serve replicas of its own.
    with pytest.raises(redis.ResponseError, match="no chained replication"):
        redis.Redis(port=replica_server.port).execute_command("PSYNC", "?", "-1")


def test_failover_answers_redis_errors(redis_server: RedisServer, master: Server) -> None:
    ours = redis.Redis(port=master.port)
    theirs = redis_server.client()
    for command in (("FAILOVER",), ("FAILOVER", "ABORT"), ("FAILOVER", "BOGUS"), ("FAILOVER", "TIMEOUT", "10")):
        assert run(ours, *command) == run(theirs, *command)


def test_serve_replicaof_option(redis_master: RedisServer) -> None:
    port = free_port()
    redis_master.client().set("from-master", "yes")
    process = subprocess.Popen([sys.executable, "-m", "redpocket", "serve", "--port", str(port),
                                "--replicaof", "127.0.0.1", str(redis_master.port)], stderr=subprocess.DEVNULL)
    try:
        replica = redis.Redis(port=port, socket_timeout=5)
        wait_until(lambda: _answers(replica) and link_up(replica))
        assert replica.get("from-master") == b"yes"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_embedded_engine_is_the_master_of_a_served_replica(redis_replica: Callable[[int], RedisServer]) -> None:
    rng = random.Random(8)
    embedded = EmbeddedRedis(Engine())
    fill(embedded, rng, 50)
    with Server(engine=embedded.engine, port=0).run_in_thread() as server:
        replica = redis_replica(server.port).client(socket_timeout=20)
        wait_until(lambda: link_up(replica))
        random_writes([embedded], rng, 1000)  # (from this thread: the server's loop sends them on)
        tcp = redis.Redis(port=server.port, socket_timeout=20)
        tcp.set("last", "write")
        assert tcp.wait(1, 5000) == 1
        assert dataset(replica) == dataset(tcp)


def test_scripts_wait_and_failover_on_a_replica(
    redis_master: RedisServer, make_server: Callable[..., Server],
) -> None:
    redis_master.client().set("k", "1")
    replica_server = make_server(config={"replicaof": f"127.0.0.1 {redis_master.port}"})
    replica = redis.Redis(port=replica_server.port, socket_timeout=20)
    wait_until(lambda: link_up(replica))
    assert replica.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"1"
    theirs = redis_master.client()
    theirs.execute_command("REPLICAOF", "127.0.0.1", free_port())  # (a redis-server replica, for its reply)
    try:
        script = ("EVAL", "return redis.call('SET', KEYS[1], 'x')", 1, "k")
        assert run(replica, *script) == run(theirs, *script)
        assert run(replica, *script)[1].startswith("You can't write against a read only replica")
        assert run(replica, "WAIT", 0, 0) == run(theirs, "WAIT", 0, 0)
        assert run(replica, "FAILOVER") == run(theirs, "FAILOVER")
    finally:
        theirs.execute_command("REPLICAOF", "NO", "ONE")


def test_replicaof_is_a_startup_setting(redis_server: RedisServer, master: Server) -> None:
    ours = redis.Redis(port=master.port)
    theirs = redis_server.client()
    for name in ("replicaof", "slaveof"):
        command = ("CONFIG", "SET", name, "127.0.0.1 1")
        assert run(ours, *command) == run(theirs, *command)
    with pytest.raises(ValueError, match="Invalid master port"):
        Server(port=0, config={"replicaof": "127.0.0.1 99999"})


def test_function_libraries_come_with_every_full_sync(
    redis_master: RedisServer, make_server: Callable[..., Server],
) -> None:
    client = redis_master.client()
    client.function_load("#!lua name=lib\nredis.register_function('answer', function() return 42 end)")
    replica_server = make_server()
    replica = redis.Redis(port=replica_server.port, socket_timeout=20)
    for _ in range(2):  # (the second REPLICAOF offers the replica's own new history: a second full sync)
        replica.execute_command("REPLICAOF", "127.0.0.1", redis_master.port)
        wait_until(lambda: link_up(replica))
        assert replica.fcall("answer", 0) == 42
        replica.execute_command("REPLICAOF", "NO", "ONE")
    assert client.info("stats")["sync_full"] == 2
