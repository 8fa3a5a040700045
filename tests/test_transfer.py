"""redpocket export / import (:mod:`redpocket.transfer`): every type, ORM models to a cluster, resume, patterns, bad input."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.conftest import RedisClusterProcesses, RedisServer, every_key, flush_cluster, start_redis_server
from tests.helpers import free_port

import redpocket
from redpocket import ActiveRecord, attributes
from redpocket.client import EmbeddedRedis
from redpocket.errors import ConfigurationError, TransferError
from redpocket.transfer import transfer

ROOT = Path(__file__).resolve().parent.parent
DB = 11  # (the session's redis-server is shared: this file's keys live in a database of their own)


@pytest.fixture
def server_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of an emptied database of the session's redis-server."""
    client = redis_server.client(db=DB)
    client.flushdb()
    yield f"redis://127.0.0.1:{redis_server.port}/{DB}"
    client.flushdb()
    client.close()


def fill_every_type(client: redis.Redis) -> None:
    """Write keys of every type and encoding, with and without deadlines, binary and big ones."""
    client.set("str:raw", "hello")
    client.set("str:int", 12345)
    client.set("str:big", b"\x00\xff" * 40_000)
    client.set(b"bin:\x00\xff\r\n", b"\x01\x02")
    client.set("str:ttl", "v", px=3_600_000)
    client.rpush("list:small", *range(5))
    client.rpush("list:big", *(f"item-{i}" * 3 for i in range(3000)))
    client.sadd("set:ints", *range(20))
    client.sadd("set:strings", *(f"m{i}" for i in range(300)))
    client.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    client.zadd("zset:big", {f"m{i}": i / 7 for i in range(500)})
    client.hset("hash:small", mapping={"f": "v", "n": 1})
    client.hset("hash:big", mapping={f"f{i}": "x" * (i % 90) for i in range(700)})
    client.pexpire("hash:big", 7_200_000)
    client.pfadd("hll", *(f"e{i}" for i in range(100)))


def dumps(client: redis.Redis) -> dict[bytes, tuple[Any, int]]:
    """Return each key's DUMP payload and deadline (PEXPIRETIME)."""
    keys = sorted(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.execute_command("DUMP", key)
        pipe.execute_command("PEXPIRETIME", key)
    replies = pipe.execute()
    return {key: (replies[2 * i], replies[2 * i + 1]) for i, key in enumerate(keys)}


def values(client: redis.Redis, key: bytes) -> Any:
    """Return a key's type and contents, read by type (to compare stores whose encodings may differ)."""
    kind = client.type(key)
    read = {b"string": client.get, b"list": lambda k: client.lrange(k, 0, -1), b"set": client.smembers,
            b"zset": lambda k: client.zrange(k, 0, -1, withscores=True), b"hash": client.hgetall}
    return kind, read[kind](key)


def test_every_type_file_to_redis_to_memory_round_trip(tmp_path: Path, server_url: str) -> None:
    source = EmbeddedRedis.from_url(f"file://{tmp_path}/store")
    fill_every_type(source)
    original = dumps(source)
    first = transfer(f"file://{tmp_path}/store", server_url)
    assert (first.selected, first.copied, first.skipped, first.verified) == (len(original), len(original), 0, len(original))
    name = f"memory://transfer-{uuid.uuid4().hex}"
    second = transfer(server_url, name)
    assert second.copied == len(original)
    server, back = redis.Redis.from_url(server_url), EmbeddedRedis.from_url(name)
    on_server, came_back = dumps(server), dumps(back)
    assert set(on_server) == set(came_back) == set(original)
    for key, (payload, deadline) in original.items():
        assert on_server[key][1] == came_back[key][1] == deadline, key  # the exact deadline (ABSTTL)
        assert came_back[key][0] == payload or values(back, key) == values(source, key), key
        assert values(server, key) == values(source, key), key
    # A DUMP taken on one side RESTOREs on the other to the same value (the payloads are Redis's).
    assert {key: dump for key, (dump, _) in came_back.items()} == {key: dump for key, (dump, _) in dumps(back).items()}
    server.close()


def test_pattern_export_copies_only_matching_keys(server_url: str) -> None:
    source = EmbeddedRedis.from_url(f"memory://transfer-{uuid.uuid4().hex}")
    for i in range(50):
        source.set(f"user:{i}", i)
        source.set(f"session:{i}", i)
    source.set("user[x]", "glob characters in a name")
    report = transfer(source, server_url, pattern="user:*", batch=7)
    assert report.copied == report.verified == 50
    server = redis.Redis.from_url(server_url)
    assert sorted(server.keys("*")) == sorted(f"user:{i}".encode() for i in range(50))
    assert server.get("user:42") == b"42"


def test_interrupted_export_resumes_from_its_state_file(tmp_path: Path, server_url: str) -> None:
    url = f"file://{tmp_path}/store"
    source = EmbeddedRedis.from_url(url)
    pipe = source.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"k:{i}", i)
    pipe.execute()
    state = tmp_path / "export.json"
    batches: list[int] = []

    def interrupt(done: int, total: int) -> None:
        batches.append(done)
        if done >= 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transfer(url, server_url, batch=100, state_file=state, progress=interrupt)
    assert state.exists() and Path(f"{state}.keys").exists()
    server = redis.Redis.from_url(server_url)
    assert server.dbsize() == 300
    source.set("k:late", "written after the listing: not part of this transfer")
    seen: list[tuple[int, int]] = []
    report = transfer(url, server_url, batch=100, state_file=state, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (300, 1000) and seen[-1] == (1000, 1000)
    assert (report.resumed_from, report.copied, report.verified) == (300, 1000, 1000)
    assert server.dbsize() == 1000 and server.get("k:999") == b"999"
    assert not state.exists() and not Path(f"{state}.keys").exists()  # verified: the state is gone
    with pytest.raises(TransferError, match="another transfer"):
        state.write_text('{"identity": {"source": "elsewhere"}, "done": 0, "skipped": [], "failed": {}, "deadlines": {}}')
        transfer(url, server_url, state_file=state)


def test_keys_refused_or_lost_are_listed(tmp_path: Path, redis_server: RedisServer, server_url: str) -> None:
    source = EmbeddedRedis.from_url(f"memory://transfer-{uuid.uuid4().hex}")
    for i in range(30):
        source.set(f"pub:{i}", i)
    source.set("secret:1", "x")
    admin = redis_server.client()
    admin.acl_setuser("exporter", enabled=True, passwords=["+pw"], keys=["pub:*"], commands=["+@all"], reset=True)
    try:
        limited = f"redis://exporter:pw@127.0.0.1:{redis_server.port}/{DB}"
        state = tmp_path / "refused.json"
        with pytest.raises(TransferError) as refused:
            transfer(source, limited, state_file=state)
        assert list(refused.value.failed) == [b"secret:1"]
        assert "1 of 31 keys were not copied" in str(refused.value) and "no permissions" in str(refused.value)
        assert state.exists()  # (not verified: kept, so the same call retries the refused keys)
        admin.acl_setuser("exporter", enabled=True, keys=["secret:*"])
        retried = transfer(source, limited, state_file=state)
        assert (retried.resumed_from, retried.copied, retried.verified) == (31, 31, 31) and not state.exists()
        assert redis.Redis.from_url(server_url).get("secret:1") == b"x"
    finally:
        admin.acl_deluser("exporter")
    server = redis.Redis.from_url(server_url)

    def lose_one(done: int, total: int) -> None:
        if done == total:  # (after the copy, before the verification)
            server.delete("pub:7")

    with pytest.raises(TransferError, match="missing on the destination") as lost:
        transfer(source, server_url, pattern="pub:*", progress=lose_one)
    assert list(lost.value.failed) == [b"pub:7"]


def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unsupported connection URL"):
        transfer("gopher://example", "memory://")
    with pytest.raises(TransferError, match=r"cannot reach the destination redis://me:\*\*\*@127\.0\.0\.1:\d+/0"):
        transfer("memory://", f"redis://me:secret@127.0.0.1:{free_port()}/0")  # (the password is masked)
    with pytest.raises(TransferError, match="no such RDB file"):
        transfer(tmp_path / "missing.rdb", "memory://")
    (tmp_path / "bad.rdb").write_bytes(b"REDIS0010garbage")
    with pytest.raises(TransferError, match=r"not a readable RDB file: .* \(at offset \d+\)"):
        transfer(tmp_path / "bad.rdb", "memory://")
    with pytest.raises(ConfigurationError, match="a destination is a URL"):
        transfer("memory://", tmp_path / "out.rdb")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cannot import"):
        transfer("memory://", "memory://", models=["no_such_module:Model"])
    with pytest.raises(ConfigurationError, match="not both"):
        transfer("memory://", "memory://", pattern="a*", models=[Customer])


def test_an_rdb_file_is_a_source(tmp_path: Path) -> None:
    own = start_redis_server(tmp_path)  # (its dump.rdb is written in tmp_path)
    try:
        server = own.client()
        fill_every_type(server)
        expected = dumps(server)
        server.save()
        name = f"memory://transfer-{uuid.uuid4().hex}"
        report = transfer(tmp_path / "dump.rdb", name)
        assert report.copied == len(expected)
        loaded = EmbeddedRedis.from_url(name)
        assert {key: values(loaded, key) for key in expected} == {key: values(server, key) for key in expected}
        assert {key: dumps(loaded)[key][1] for key in expected} == {key: deadline for key, (_, deadline) in expected.items()}
        server.close()
    finally:
        own.process.terminate()
        own.process.wait(timeout=10)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "redpocket", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", **(env or {})})


def test_cli_exit_codes_and_messages(tmp_path: Path, server_url: str) -> None:
    redis.Redis.from_url(server_url).mset({f"k{i}": i for i in range(25)})
    store = tmp_path / "store"
    done = cli("import", "--from", server_url, "--state", str(tmp_path / "s.json"), env={"REDPOCKET_URL": f"file://{store}"})
    assert done.returncode == 0, done.stderr
    assert "25 of 25 keys copied" in done.stdout and "25/25 keys" in done.stderr  # (not a terminal: plain counts)
    assert EmbeddedRedis.from_url(f"file://{store}").get("k24") == b"24"
    drawn = cli("import", "--from", server_url, "--to", "memory://", "--progress", "--state", str(tmp_path / "p.json"))
    assert drawn.returncode == 0 and "[" + "#" * 40 + "] 25/25 keys" in drawn.stderr, drawn.stderr
    held = cli("export", "--from", f"file://{store}", "--to", "memory://")  # (this process holds the directory)
    assert held.returncode == 2 and "in use by another engine" in held.stderr and "Traceback" not in held.stderr
    for args, message in [
        (["export", "--from", "memory://", "--to", "gopher://x"], "unsupported connection URL"),
        (["export", "--from", "memory://", "--to", f"redis://127.0.0.1:{free_port()}/0"], "cannot reach the destination"),
        (["import", "--from", str(tmp_path / "missing.rdb"), "--to", "memory://"], "no such RDB file"),
        (["import", "--to", "memory://"], "give --from"),
        (["export", "--from", "memory://", "--to", "memory://", "--model", "nowhere:Model"], "cannot import nowhere:Model"),
    ]:
        failed = cli(*args)
        assert failed.returncode == 2, (args, failed.stderr)
        assert message in failed.stderr and "Traceback" not in failed.stderr, failed.stderr


# -- an ORM model of 10,000 records, from file:// to a Redis Cluster --------------------------------

class Customer(ActiveRecord):
    name = attributes.Unicode(index="prefix")
    email = attributes.Unicode(unique=True)
    city = attributes.Unicode(index=True)
    age = attributes.Integer(index=True)

    class Meta:
        namespace = "transfer"
        connection = "transfer-test"


class Bystander(ActiveRecord):  # (another model in the same store: not exported)
    name = attributes.Unicode(index=True)

    class Meta:
        namespace = "transfer"
        connection = "transfer-test"


def test_orm_model_moves_from_file_to_a_cluster_and_checks_clean(tmp_path: Path, redis_cluster: RedisClusterProcesses) -> None:
    records = 10_000
    redpocket.connect(f"file://{tmp_path}/app", name="transfer-test")
    try:
        with redpocket.pipeline(name="transfer-test"):
            for i in range(records):
                Customer(name=f"Customer {i}", email=f"c{i}@example.com", city=f"city-{i % 37}", age=i % 90).save()
        Bystander.create(name="not me")
        assert Customer.objects.check() == []
    finally:
        redpocket.disconnect("transfer-test")
    cluster = redis_cluster.client()
    flush_cluster(cluster)
    try:
        report = transfer(f"file://{tmp_path}/app", redis_cluster.url, models=[f"{Customer.__module__}:Customer"])
        assert report.verified == report.copied == report.selected
        assert not every_key(cluster, "{transfer:Bystander}*")
        redpocket.connect(cluster, name="transfer-test")
        assert Customer.objects.count() == records
        assert Customer.objects.check() == []
        assert Customer.objects.get(email="c4242@example.com").age == 4242 % 90
        assert Customer.objects.filter(city="city-3").count() == len([i for i in range(records) if i % 37 == 3])
        back = transfer(cluster, f"memory://transfer-{uuid.uuid4().hex}", models=[Customer])  # (SCAN on every master)
        assert back.verified == report.selected
    finally:
        redpocket.disconnect("transfer-test")
        flush_cluster(cluster)
        cluster.close()
