"""Replay determinism: relative times, random and reply-dependent commands are logged as their effects."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis
from persistence_helpers import Opener, aof_bytes, close, dataset, has_command

from redpocket.engine import Engine
from redpocket.engine.persistence.records import parse_records


def logged(directory: Path) -> list[list[bytes]]:
    """Return the logged commands, without SELECT."""
    return [argv for _o, _e, argv in parse_records(aof_bytes(directory)) if argv[0] != b"SELECT"]


def reopen_and_compare(open_engine: Opener, engine: Engine) -> Engine:
    """Close ``engine``, wait, reopen its directory; the dataset, absolute TTLs included, must be the same."""
    expected = dataset(engine)
    close(engine)
    time.sleep(0.02)  # a relative time replayed now would land later
    reopened, _r = open_engine()
    assert dataset(reopened) == expected
    return reopened


def pxat(engine: Engine, key: bytes) -> bytes:
    return b"%d" % engine.databases[0].expires[key]


def test_relative_expiries_become_absolute(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("a", "1")
    r.expire("a", 100)
    r.set("b", "1")
    r.pexpire("b", 100_000, nx=True)
    r.set("c", "1")
    r.expireat("c", int(time.time()) + 100)
    r.set("d", "1")
    r.expire("d", 100)
    r.expire("d", 200, gt=True)
    assert logged(tmp_path) == [
        [b"SET", b"a", b"1"], [b"PEXPIREAT", b"a", pxat(engine, b"a")],
        [b"SET", b"b", b"1"], [b"PEXPIREAT", b"b", pxat(engine, b"b")],
        [b"SET", b"c", b"1"], [b"PEXPIREAT", b"c", pxat(engine, b"c")],
        [b"SET", b"d", b"1"], [b"PEXPIREAT", b"d", logged(tmp_path)[-2][2]], [b"PEXPIREAT", b"d", pxat(engine, b"d")],
    ]
    reopen_and_compare(open_engine, engine)


def test_an_expire_in_the_past_is_logged_as_del(open_engine: Opener, tmp_path: Path) -> None:
    _engine, r = open_engine(appendfsync="always")
    r.set("a", "1")
    r.expire("a", -1)
    assert logged(tmp_path) == [[b"SET", b"a", b"1"], [b"DEL", b"a"]]


def test_set_options_become_pxat(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("ex", "1", ex=100)
    r.set("px", "1", px=100_000, nx=True)
    r.set("exat", "1", exat=int(time.time()) + 100)
    r.set("px", "2", keepttl=True, get=True)
    r.set("plain", "1")
    r.execute_command("SETEX", "setex", 100, "1")
    r.execute_command("PSETEX", "psetex", 100_000, "1")
    assert logged(tmp_path) == [
        [b"SET", b"ex", b"1", b"PXAT", pxat(engine, b"ex")],
        [b"SET", b"px", b"1", b"PXAT", pxat(engine, b"px")],
        [b"SET", b"exat", b"1", b"PXAT", pxat(engine, b"exat")],
        [b"SET", b"px", b"2", b"PXAT", pxat(engine, b"px")],
        [b"SET", b"plain", b"1"],
        [b"SET", b"setex", b"1", b"PXAT", pxat(engine, b"setex")],
        [b"SET", b"psetex", b"1", b"PXAT", pxat(engine, b"psetex")],
    ]
    reopen_and_compare(open_engine, engine)


def test_getex_and_getdel(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("a", "1")
    r.set("b", "1", ex=100)
    r.set("c", "1")
    r.getex("a", px=100_000)
    r.getex("b", persist=True)
    r.getdel("c")
    assert logged(tmp_path)[3:] == [
        [b"PEXPIREAT", b"a", pxat(engine, b"a")], [b"PERSIST", b"b"], [b"DEL", b"c"],
    ]
    reopen_and_compare(open_engine, engine)


def test_float_increments_become_their_result(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("f", "10.5", ex=100)
    r.incrbyfloat("f", 0.1)
    r.hincrbyfloat("h", "field", 3.0e-1)
    assert logged(tmp_path)[1:] == [
        [b"SET", b"f", b"10.6", b"KEEPTTL"],
        [b"HSET", b"h", b"field", b"0.3"],
    ]
    reopen_and_compare(open_engine, engine)


def test_spop_becomes_srem_of_the_popped_members(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.sadd("s", *range(100))
    one = r.spop("s")
    some = r.spop("s", 10)
    assert logged(tmp_path)[1:] == [[b"SREM", b"s", one], [b"SREM", b"s", *some]]
    r.spop("s", 1000)  # all of them: the set is deleted
    engine = reopen_and_compare(open_engine, engine)
    assert not engine.databases[0].data


def test_blocking_pops_become_plain_pops(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.rpush("l1", "a", "b", "c", "d", "e", "f")
    r.rpush("l2", "x")
    assert r.blpop(["empty", "l1"], 1) == (b"l1", b"a")
    assert r.brpop(["l1"], 1) == (b"l1", b"f")
    assert r.blmove("l1", "l2", 1, "LEFT", "RIGHT") == b"b"
    assert r.brpoplpush("l1", "l2", 1) == b"e"
    assert r.blmpop(1, 2, "empty", "l2", direction="RIGHT", count=2) == [b"l2", [b"b", b"x"]]
    assert r.lmpop(1, "l1", direction="LEFT") == [b"l1", [b"c"]]
    assert logged(tmp_path)[2:] == [
        [b"LPOP", b"l1"], [b"RPOP", b"l1"], [b"LMOVE", b"l1", b"l2", b"LEFT", b"RIGHT"],
        [b"RPOPLPUSH", b"l1", b"l2"], [b"RPOP", b"l2", b"2"], [b"LPOP", b"l1", b"1"],
    ]
    reopen_and_compare(open_engine, engine)


def test_a_pop_served_after_blocking_is_logged_as_a_pop(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(r.blpop(["queue"], 5)))
    thread.start()
    time.sleep(0.1)
    r.rpush("queue", "job")
    thread.join()
    assert result == [(b"queue", b"job")]
    assert logged(tmp_path) == [[b"RPUSH", b"queue", b"job"], [b"LPOP", b"queue"]]
    reopen_and_compare(open_engine, engine)


def test_sorted_set_pops(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    if not has_command(engine, "zadd", "bzpopmin", "zmpop", "bzmpop"):
        pytest.skip("sorted sets not landed")
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    r.bzpopmin(["z"], 1)
    r.bzpopmax(["z"], 1)
    r.zmpop(1, ["z"], min=True)
    r.bzmpop(1, 1, ["z"], max=True, count=5)
    assert logged(tmp_path)[1:] == [
        [b"ZREM", b"z", b"a"], [b"ZREM", b"z", b"e"], [b"ZREM", b"z", b"b"], [b"ZREM", b"z", b"d", b"c"],
    ]
    reopen_and_compare(open_engine, engine)


def test_sort_store_logs_the_stored_list(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.sadd("s", *[f"m{i}" for i in range(20)])
    r.sort("s", by="nosort", store="out")  # the order is the set's iteration order
    stored = r.lrange("out", 0, -1)
    assert logged(tmp_path)[1:] == [[b"DEL", b"out"], [b"RPUSH", b"out", *stored]]
    reopen_and_compare(open_engine, engine)


def test_a_script_is_logged_as_its_writes(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    if not has_command(engine, "eval"):
        pytest.skip("scripting not landed")
    script = """
        local now = redis.call('TIME')
        redis.call('SET', KEYS[1], now[1] .. now[2])
        redis.call('EXPIRE', KEYS[1], 100)
        return redis.call('SPOP', KEYS[2])
    """
    r.sadd("s", "a", "b", "c")
    popped = r.eval(script, 2, "stamp", "s")
    commands = logged(tmp_path)
    assert commands[1] == [b"MULTI"]
    assert commands[2] == [b"SET", b"stamp", r.get("stamp")]
    assert commands[3] == [b"PEXPIREAT", b"stamp", pxat(engine, b"stamp")]
    assert commands[4] == [b"SREM", b"s", popped]
    assert commands[5] == [b"EXEC"]
    reopen_and_compare(open_engine, engine)


def test_many_random_commands_replay_to_the_same_dataset(open_engine: Opener, tmp_path: Path) -> None:
    import random

    engine, r = open_engine(appendfsync="no")
    rng = random.Random(7)
    zsets = has_command(engine, "zadd")
    for i in range(2000):
        key = f"k{rng.randrange(30)}"
        choice = rng.randrange(12)
        try:
            if choice == 0:
                r.set(key, i, ex=rng.randrange(1, 1000))
            elif choice == 1:
                r.sadd(key, *[rng.randrange(50) for _ in range(5)])
            elif choice == 2:
                r.spop(key, rng.randrange(1, 4))
            elif choice == 3:
                r.rpush(key, i)
            elif choice == 4:
                r.incrbyfloat(key, rng.random())
            elif choice == 5:
                r.expire(key, rng.randrange(-5, 1000))
            elif choice == 6:
                r.hincrbyfloat(key, f"f{rng.randrange(3)}", rng.random())
            elif choice == 7 and zsets:
                r.zadd(key, {f"m{rng.randrange(10)}": rng.random()})
            elif choice == 8:
                r.delete(key)
            elif choice == 9:
                r.rename(key, f"k{rng.randrange(30)}")
            elif choice == 10:
                r.getex(key, px=rng.randrange(1, 100_000))
            else:
                r.lpop(key)
        except redis.ResponseError:
            pass  # WRONGTYPE, no such key ...
    reopen_and_compare(open_engine, engine)


def test_restore_is_logged_with_its_absolute_ttl(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("src", "v")
    payload = r.dump("src")
    r.execute_command("RESTORE", "k", 100_000, payload)
    r.execute_command("RESTORE", "plain", 0, payload)
    r.execute_command("RESTORE", "src", 1, payload, "ABSTTL", "REPLACE")  # already expired: the old key is deleted
    assert logged(tmp_path)[1:] == [
        [b"RESTORE", b"k", pxat(engine, b"k"), payload, b"ABSTTL"],
        [b"RESTORE", b"plain", b"0", payload],
        [b"DEL", b"src"],
    ]
    reopen_and_compare(open_engine, engine)


def test_migrate_is_logged_as_the_deletion_of_the_moved_keys(open_engine: Opener, tmp_path: Path, redis_server) -> None:
    engine, r = open_engine(appendfsync="always")
    target = redis_server.client()
    target.flushall()
    r.mset({"a": "1", "b": "2", "c": "3"})
    port = redis_server.port
    r.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", "a", "b")
    r.execute_command("MIGRATE", "127.0.0.1", port, "c", 0, 5000, "COPY")
    assert logged(tmp_path)[1:] == [[b"DEL", b"a", b"b"]]
    assert target.mget("a", "b", "c") == [b"1", b"2", b"3"]
    target.close()
    reopen_and_compare(open_engine, engine)
