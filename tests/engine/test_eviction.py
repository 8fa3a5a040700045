"""maxmemory and eviction on both backends (the scenarios of Redis's unit/maxmemory, ported).

Each test measures what a key costs on its own backend (``used_memory``
before and after writing some) and sets ``maxmemory`` to room for a given
number of keys above the current use, so the embedded engine and
redis-server are held to the same limits relative to their own costs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.helpers import error_of, run

from redpocket.engine import Engine
from redpocket.engine.memory import STARTUP_MEMORY

# redis-py raises OutOfMemoryError for "-OOM ...", with the text after the code.
OOM = "command not allowed when used memory > 'maxmemory'."
VALUE = b"x" * 500
POLICIES = ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
            "volatile-ttl"]


def used(client: redis.Redis) -> int:
    """Return the backend's used_memory."""
    return int(client.info("memory")["used_memory"])


def cost_per_key(client: redis.Redis, prefix: str = "probe", count: int = 200, ttl: bool = False) -> float:
    """Measure the bytes one key of VALUE costs on this backend (the probe keys are deleted again)."""
    before = used(client)
    for i in range(count):
        if ttl:
            client.set(f"{prefix}:{i}", VALUE, ex=10_000)
        else:
            client.set(f"{prefix}:{i}", VALUE)
    per_key = (used(client) - before) / count
    client.delete(*[f"{prefix}:{i}" for i in range(count)])
    return per_key


def limit_to(client: redis.Redis, keys: int, policy: str, per_key: float) -> int:
    """Set maxmemory to room for ``keys`` more keys of VALUE under ``policy``; return the limit."""
    limit = used(client) + int(per_key * keys)
    client.config_set("maxmemory-policy", policy)
    client.config_set("maxmemory", limit)
    return limit


@pytest.fixture
def c(r: redis.Redis) -> Iterator[redis.Redis]:
    """A client whose backend's memory settings are put back afterwards."""
    try:
        yield r
    finally:
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory-samples", 5)
        r.config_set("lfu-log-factor", 10)
        r.config_set("notify-keyspace-events", "")
        r.flushall()


# -- accounting -----------------------------------------------------------------------------

def test_used_memory_grows_with_data_and_falls_after_del_and_flushall(c: redis.Redis) -> None:
    empty = used(c)
    for i in range(2000):
        c.set(f"k:{i}", VALUE)
    full = used(c)
    assert full - empty > 2000 * 500  # the values alone take 1 MB
    c.delete(*[f"k:{i}" for i in range(1000)])
    half = used(c)
    assert half < full - 1000 * 500
    c.flushall()
    assert used(c) < empty + 100_000
    info = c.info("memory")
    assert info["used_memory_peak"] >= full
    assert info["used_memory_dataset"] < info["used_memory"]


def test_used_memory_follows_containers_changed_in_place(c: redis.Redis) -> None:
    empty = used(c)
    for i in range(2000):
        c.hset("h", f"field:{i}", VALUE)
    grown = used(c) - empty
    assert grown > 2000 * 500
    for i in range(1000):
        c.hdel("h", f"field:{i}")
    assert used(c) - empty < grown - 1000 * 500 * 0.8


def test_memory_usage_counts_the_value(c: redis.Redis) -> None:
    c.set("small", "x")
    c.set("big", b"x" * 100_000)
    for _ in range(100):
        c.rpush("list", VALUE)
    assert c.memory_usage("big") > 100_000 > c.memory_usage("small")
    assert c.memory_usage("list", samples=0) > 100 * 500
    assert c.memory_usage("missing") is None


def test_memory_doctor_and_stats(c: redis.Redis) -> None:
    c.flushall()
    assert c.execute_command("MEMORY", "DOCTOR").startswith(b"Hi Sam, this instance is empty")
    stats = c.memory_stats()
    assert stats["keys.count"] == 0 and stats["total.allocated"] >= stats["startup.allocated"]


# -- noeviction -----------------------------------------------------------------------------

def test_noeviction_refuses_writes_and_keeps_reads(c: redis.Redis) -> None:
    per_key = cost_per_key(c)
    limit_to(c, 300, "noeviction", per_key)
    written = 0
    for i in range(2000):
        try:
            c.set(f"k:{i}", VALUE)
            written += 1
        except redis.exceptions.OutOfMemoryError as error:
            assert str(error) == OOM
            break
    assert 200 <= written <= 500
    assert c.get("k:0") == VALUE  # reads keep working
    assert c.dbsize() == written
    assert error_of(c, "SET", "another", "v") == OOM
    assert error_of(c, "LPUSH", "list", "v") == OOM
    assert c.info("stats")["evicted_keys"] == 0
    for i in range(100):  # DEL is not denyoom: it frees room
        c.delete(f"k:{i}")
    c.set("another", "v")


def test_noeviction_multi_and_scripts(c: redis.Redis) -> None:
    per_key = cost_per_key(c)
    c.set("kept", "v")
    limit_to(c, 0, "noeviction", per_key)
    for i in range(50):
        try:
            c.set(f"fill:{i}", VALUE)
        except redis.ResponseError:
            break
    assert error_of(c, "SET", "x", "y") == OOM
    # MULTI: every queued command but EXEC / DISCARD is refused, and EXEC aborts.
    with c.pipeline(transaction=True) as pipe:
        pipe.get("kept")
        with pytest.raises(redis.ResponseError) as info:
            pipe.execute()
    assert "EXECABORT" in str(info.value) or OOM in str(info.value)
    # Scripts: reads run, the first write of a script started over the limit fails.
    assert c.eval("return redis.call('get', KEYS[1])", 1, "kept") == b"v"
    assert OOM in error_of(c, "EVAL", "return redis.call('set', KEYS[1], 'x')", 1, "x")
    assert c.eval("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "kept") == b"v"
    assert OOM in error_of(c, "EVAL", "#!lua\nreturn 1", 0)
    assert c.eval("#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'x')", 1, "x") == b"OK"


# -- the policies --------------------------------------------------------------------------

@pytest.mark.parametrize("policy", POLICIES)
def test_policy_honours_the_limit(c: redis.Redis, policy: str) -> None:
    per_key = cost_per_key(c, ttl=True)
    limit = limit_to(c, 300, policy, per_key)
    for i in range(1500):
        c.set(f"k:{i}", VALUE, ex=10_000)  # every key may go, even under volatile-*
    assert used(c) <= limit + 4 * per_key
    assert 150 <= c.dbsize() <= 500
    assert c.info("stats")["evicted_keys"] >= 1000


@pytest.mark.parametrize("policy", [p for p in POLICIES if p.startswith("volatile")])
def test_volatile_policies_never_evict_keys_without_ttl(c: redis.Redis, policy: str) -> None:
    per_key = cost_per_key(c)
    limit_to(c, 400, policy, per_key)
    for i in range(150):
        c.set(f"persistent:{i}", VALUE)
    refused = 0
    for i in range(1500):
        try:
            c.set(f"volatile:{i}", VALUE, ex=10_000)
        except redis.ResponseError as error:
            assert str(error) == OOM
            refused += 1
    assert all(c.exists(f"persistent:{i}") for i in range(150))
    assert c.info("stats")["evicted_keys"] > 0
    # Once only keys without a TTL are left, nothing may go: writes are refused.
    volatile = len(c.keys("volatile:*"))
    c.config_set("maxmemory", used(c) - int(per_key * (volatile + 50)))
    for _ in range(50):  # (each command's eviction run is time-limited: a few writes may still get in)
        try:
            c.set("one-more", VALUE)
        except redis.exceptions.OutOfMemoryError:
            break
    assert c.keys("volatile:*") == []
    assert error_of(c, "SET", "one-more", VALUE) == OOM
    assert all(c.exists(f"persistent:{i}") for i in range(150))


def test_volatile_ttl_evicts_the_nearest_expiry_first(c: redis.Redis) -> None:
    per_key = cost_per_key(c, ttl=True)
    c.config_set("maxmemory-samples", 10)
    for i in range(300):
        c.set(f"k:{i}", VALUE, ex=1000 + i)
    limit_to(c, 0, "volatile-ttl", per_key)
    for i in range(100):
        c.set(f"late:{i}", VALUE, ex=100_000)
    survivors = [i for i in range(300) if c.exists(f"k:{i}")]
    evicted = [i for i in range(300) if i not in survivors]
    assert len(evicted) >= 80
    # The pool picks the nearest expiries among samples: the evicted keys are mostly the early ones.
    assert sum(evicted) / len(evicted) < sum(survivors) / len(survivors)
    assert sum(1 for i in evicted if i < 150) > 0.7 * len(evicted)


def test_allkeys_lru_keeps_the_keys_in_use(c: redis.Redis) -> None:
    per_key = cost_per_key(c)
    c.config_set("maxmemory-samples", 10)
    for i in range(300):
        c.set(f"old:{i}", VALUE)
    time.sleep(2.1)  # (Redis's LRU clock ticks in seconds)
    for i in range(100):
        c.get(f"old:{i}")  # the first 100 are in use again
    limit_to(c, 0, "allkeys-lru", per_key)
    for i in range(150):
        c.set(f"new:{i}", VALUE)
    assert c.info("stats")["evicted_keys"] >= 100
    # Redis's LRU clock ticks once a second: the keys read again and the new keys written in the same
    # second tie, so its sampled eviction takes a few of the keys in use too (87 of 100 kept, seen).
    assert sum(1 for i in range(100) if c.exists(f"old:{i}")) >= 80
    assert sum(1 for i in range(150) if c.exists(f"new:{i}")) >= 120


def test_allkeys_lfu_keeps_the_frequent_keys(c: redis.Redis) -> None:
    per_key = cost_per_key(c)
    c.config_set("maxmemory-samples", 10)
    limit_to(c, 400, "allkeys-lfu", per_key)
    for i in range(100):
        c.set(f"hot:{i}", VALUE)
        for _ in range(20):
            c.get(f"hot:{i}")
    for i in range(1200):
        c.set(f"cold:{i}", VALUE)
    kept = sum(1 for i in range(100) if c.exists(f"hot:{i}"))
    assert kept >= 90


def test_object_freq_counts_accesses(c: redis.Redis) -> None:
    c.config_set("maxmemory-policy", "allkeys-lfu")
    c.config_set("lfu-log-factor", 0)  # every access counts
    c.set("k", "v")
    assert c.object("freq", "k") == 5  # LFU_INIT_VAL
    for _ in range(10):
        c.get("k")
    assert c.object("freq", "k") == 15
    c.config_set("maxmemory-policy", "allkeys-lru")
    assert "LFU maxmemory policy is not selected" in error_of(c, "OBJECT", "FREQ", "k")


def test_evictions_are_keyspace_events(c: redis.Redis, make_client: Any) -> None:
    c.config_set("notify-keyspace-events", "Ee")
    listener = make_client()
    pubsub = listener.pubsub()
    pubsub.subscribe("__keyevent@0__:evicted")
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    per_key = cost_per_key(c)
    limit_to(c, 50, "allkeys-random", per_key)
    for i in range(300):
        c.set(f"k:{i}", VALUE)
    evicted = c.info("stats")["evicted_keys"]
    assert evicted > 0
    keys = []
    while True:
        message = pubsub.get_message(timeout=0.5)
        if message is None:
            break
        keys.append(message["data"])
    pubsub.close()
    assert len(keys) == evicted
    assert all(not c.exists(key) for key in keys)


# -- the engine's own guarantees ------------------------------------------------------------

def test_eviction_propagates_del_and_is_bounded_per_command() -> None:
    engine = Engine()
    session = engine.session()
    seen: list[list[bytes]] = []
    engine.propagators.append(lambda session, db, argv, reply: seen.append(argv))
    for i in range(20_000):
        engine.execute(session, [b"SET", b"k:%d" % i, VALUE])
    seen.clear()
    engine.execute(session, [b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"])
    engine.execute(session, [b"CONFIG", b"SET", b"maxmemory", b"2mb"])
    # One run stops at its time limit (500 us by default): it evicted a few, not all, at once.
    assert 0 < len(engine.databases[0]) < 20_000 and len(seen) < 19_000
    for i in range(2000):
        engine.execute(session, [b"SET", b"new:%d" % i, VALUE])
        engine.tick()
    assert engine.used_memory() <= 2 * 1024 * 1024 + 2000
    deleted = [argv for argv in seen if argv[0] == b"DEL"]
    assert len(deleted) == engine.evictor.evicted_keys
    assert all(not engine.databases[0].exists(argv[1]) for argv in deleted)


def test_used_memory_is_consistent_with_memory_usage() -> None:
    engine = Engine()
    session = engine.session()
    for i in range(3000):
        engine.execute(session, [b"HSET", b"h:%d" % (i % 30), b"f:%d" % i, VALUE])
        engine.execute(session, [b"SET", b"s:%d" % i, VALUE])
    total = sum(run_usage(engine, session, key) for key in list(engine.databases[0].data))
    dataset = engine.used_memory() - STARTUP_MEMORY
    assert 0.8 < total / dataset < 1.25, (total, dataset)


def run_usage(engine: Engine, session: Any, key: bytes) -> int:
    """Return MEMORY USAGE key SAMPLES 0 on an engine."""
    return int(engine.execute(session, [b"MEMORY", b"USAGE", key, b"SAMPLES", b"0"]))


def test_oom_reply_is_the_same_on_both_backends(pair: Any) -> None:
    embedded, real = pair()
    try:
        for client in (embedded, real):
            client.set("k", "v")
            client.config_set("maxmemory", 1)
        assert run(embedded, "SET", "x", "y") == run(real, "SET", "x", "y") == ("error", OOM)
        assert run(embedded, "GET", "k") == run(real, "GET", "k") == b"v"
        assert run(embedded, "DEL", "k") == run(real, "DEL", "k") == 1
    finally:
        for client in (embedded, real):
            client.config_set("maxmemory", 0)
