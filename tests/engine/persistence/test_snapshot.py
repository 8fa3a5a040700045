"""Snapshots (SAVE, BGSAVE) and the rewrite's snapshot preamble: every type and TTL round-trips."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from persistence_helpers import Opener, aof_file, close, dataset, has_command

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import CorruptFileError, persistence_of
from redpocket.engine.persistence.snapshot import capture, write_snapshot


def fill(engine: Engine, r: redis.Redis) -> None:
    """Write one key of every type, some with TTLs, in two databases, with awkward bytes."""
    r.set("string", b"\x00binary\r\n*1\r\n")
    r.set("int", 12345)
    r.set("ttl-string", "v", ex=1000)
    r.hset("hash", mapping={f"f{i}": f"v{i}" for i in range(150)})  # more than one HSET chunk
    r.rpush("list", *[f"item{i}" for i in range(200)])
    r.sadd("set", *[f"m{i}" for i in range(100)])
    r.pexpire("set", 500_000)
    r.pfadd("hll", "a", "b", "c")
    if has_command(engine, "zadd"):
        r.zadd("zset", {"a": 1.5, "b": -2, "c": float("inf"), "d": 0.1, "e": 1e300, "f": -0.0})
        r.zadd("bigzset", {f"m{i}": i / 7 for i in range(150)})
        r.expire("zset", 900)
    EmbeddedRedis(engine, db=5).set("other-db", "5", px=600_000)
    r.set("gone", "x", px=1)
    time.sleep(0.01)  # "gone" has expired: left out of snapshots


@pytest.mark.parametrize("command", ["SAVE", "BGSAVE"])
def test_a_snapshot_round_trips_every_type_and_ttl(open_engine: Opener, tmp_path: Path, command: str) -> None:
    engine, r = open_engine(appendonly=False)
    fill(engine, r)
    expected = dataset(engine)
    before = r.lastsave()
    time.sleep(1.05)
    r.execute_command(command)
    persistence = persistence_of(engine)
    assert persistence is not None
    if persistence.bgsave_thread is not None:
        persistence.bgsave_thread.join()
    assert r.lastsave() > before
    assert (tmp_path / "dump.rdb").read_bytes().startswith(b"REDIS0010")
    r.set("not-saved", "1")
    close(engine)
    engine, r = open_engine(appendonly=False)
    assert dataset(engine) == expected
    assert (1, b"gone") not in expected and (0, b"gone") not in expected


def test_rewrite_plus_tail_round_trips_every_type_and_ttl(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    fill(engine, r)
    assert r.bgrewriteaof()
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    aof.rewrite_thread.join()  # type: ignore[union-attr]
    # The tail, after the snapshot preamble.
    r.rpush("list", "tail")
    r.hdel("hash", "f0")
    r.persist("ttl-string")
    r.set("new", "1", ex=100)
    r.execute_command("SAVE")
    expected = dataset(engine)
    close(engine)
    engine, r = open_engine()
    assert dataset(engine) == expected
    assert r.lindex("list", -1) == b"tail"
    assert r.ttl("ttl-string") == -1
    assert 0 < r.ttl("new") <= 100


def test_the_snapshot_is_loaded_when_there_is_no_append_only_file(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    fill(engine, r)
    r.execute_command("SAVE")
    expected = dataset(engine)
    close(engine)
    # Opening with the append-only file on creates it from the snapshot's data.
    engine, r = open_engine(appendfsync="always")
    assert dataset(engine) == expected
    r.set("more", "1")
    close(engine)
    (tmp_path / "dump.rdb").unlink()
    engine, r = open_engine()
    assert dataset(engine) == {**expected, (0, b"more"): ("string", b"1", None)}


def test_keys_expiring_before_the_load_are_gone(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.set("short", "1", px=150)
    r.set("long", "1", ex=100)
    r.execute_command("SAVE")
    close(engine)
    time.sleep(0.2)
    engine, r = open_engine(appendonly=False)
    assert r.get("short") is None
    assert r.get("long") == b"1"


def test_a_damaged_snapshot_is_refused(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.set("key", "value")
    r.execute_command("SAVE")
    close(engine)
    path = tmp_path / "dump.rdb"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"value", b"valuf"))
    with pytest.raises(CorruptFileError, match=f"offset {len(data) - 8}: RDB CRC error"):
        open_engine(appendonly=False)
    path.write_bytes(data[:-3])
    with pytest.raises(CorruptFileError, match="unexpected end of data"):
        open_engine(appendonly=False)
    path.write_bytes(data[:-12])  # cut inside the value: the offset says where
    with pytest.raises(CorruptFileError, match=r"offset \d+: unexpected end of data"):
        open_engine(appendonly=False)
    path.write_bytes(data.replace(b"REDIS0010", b"REDIS0011"))
    with pytest.raises(CorruptFileError, match="version 11"):
        open_engine(appendonly=False)
    path.write_bytes(data + b"junk")
    with pytest.raises(CorruptFileError, match=f"offset {len(data)}"):
        open_engine(appendonly=False)
    path.write_bytes(data)
    _engine, again = open_engine(appendonly=False)
    assert again.get("key") == b"value"


def test_a_snapshot_of_the_older_format_still_loads(open_engine: Opener, tmp_path: Path) -> None:
    source = Engine()
    client = EmbeddedRedis(source)
    client.set("key", "value")
    client.rpush("list", "a", "b")
    write_snapshot(tmp_path / "dump.rdb", capture(source))
    assert (tmp_path / "dump.rdb").read_bytes().startswith(b"REDPOCKET-SNAPSHOT 1 ")
    _engine, r = open_engine(appendonly=False)
    assert r.get("key") == b"value"
    assert r.lrange("list", 0, -1) == [b"a", b"b"]


def test_a_damaged_rewrite_preamble_is_refused(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine()
    r.set("key", "value")
    r.bgrewriteaof()
    persistence_of(engine).aof.rewrite_thread.join()  # type: ignore[union-attr]
    close(engine)
    path = aof_file(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"value", b"valuf"))
    with pytest.raises(CorruptFileError, match="checksum"):
        open_engine()


def test_save_points_trigger_a_background_save(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.config_set("save", "1 2")
    r.set("a", "1")
    r.set("b", "2")
    deadline = time.monotonic() + 4
    while not (tmp_path / "dump.rdb").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "dump.rdb").exists()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.bgsave_thread is not None
    persistence.bgsave_thread.join()
    assert r.info("persistence")["rdb_changes_since_last_save"] == 0


def test_an_in_memory_engine_refuses_to_save() -> None:
    r = EmbeddedRedis(Engine())
    for command in ("SAVE", "BGSAVE", "BGREWRITEAOF"):
        with pytest.raises(redis.ResponseError, match="held in memory only"):
            r.execute_command(command)


def test_close_with_save_writes_a_snapshot(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.set("k", "v")
    persistence = persistence_of(engine)
    assert persistence is not None
    persistence.close(save=True)
    engine, r = open_engine(appendonly=False)
    assert r.get("k") == b"v"
