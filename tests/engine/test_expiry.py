"""Key expiry: lazy expiry on every read path, the active cycle, millisecond precision."""

from __future__ import annotations

import time

import redis

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine


def expire_soon(r: redis.Redis, *keys: str) -> None:
    """Give ``keys`` a 5 ms TTL and wait until it has passed."""
    for key in keys:
        assert r.pexpire(key, 5) is True
    time.sleep(0.05)


def test_expired_key_is_invisible_to_reads(r: redis.Redis) -> None:
    r.set("gone", "v")
    r.rpush("gone_list", "a")
    r.set("kept", "v")
    expire_soon(r, "gone", "gone_list")
    assert r.get("gone") is None
    assert r.exists("gone", "gone_list") == 0
    assert r.type("gone") == b"none"
    assert r.ttl("gone") == -2 and r.pttl("gone_list") == -2
    assert r.expiretime("gone") == -2
    assert r.lrange("gone_list", 0, -1) == []
    assert r.keys("*") == [b"kept"]
    assert r.scan(0, count=100) == (0, [b"kept"])
    assert r.randomkey() == b"kept"
    assert r.dbsize() == 1
    assert r.touch("gone", "kept") == 1
    assert r.persist("gone") is False
    assert r.expire("gone", 100) is False


def test_expired_key_is_replaced_by_writes(r: redis.Redis) -> None:
    r.set("k", "old")
    r.set("dst", "d")
    expire_soon(r, "k")
    assert r.rpush("k", "new") == 1
    assert r.ttl("k") == -1
    r.set("src", "v")
    expire_soon(r, "src")
    assert r.copy("src", "dst", replace=True) is False
    assert r.renamenx("k", "dst") is False
    r.set("moved", "m")
    expire_soon(r, "dst")
    assert r.renamenx("moved", "dst") is True


def test_keys_scan_randomkey_skip_many_expired(r: redis.Redis) -> None:
    r.mset({f"short:{i}": i for i in range(50)})
    r.set("long", "v")
    for i in range(50):
        r.pexpire(f"short:{i}", 5)
    time.sleep(0.05)
    assert r.keys("*") == [b"long"]
    assert r.keys("short:*") == []
    found: list[bytes] = []
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor, count=3)
        found.extend(batch)
        if cursor == 0:
            break
    assert found == [b"long"]
    assert {r.randomkey() for _ in range(20)} == {b"long"}


def test_pttl_has_millisecond_precision(r: redis.Redis) -> None:
    r.set("k", "v")
    r.pexpire("k", 1234)
    pttl = r.pttl("k")
    assert 1150 <= pttl <= 1234
    assert r.ttl("k") == 1
    r.pexpire("k", 2600)
    assert r.ttl("k") == 3  # rounded to the nearest second, as Redis does
    when = r.pexpiretime("k")
    assert abs(when - int(time.time() * 1000) - 2600) < 100
    r.pexpireat("k", when + 7)
    assert r.pexpiretime("k") == when + 7


def test_expiry_survives_pexpire_boundaries(r: redis.Redis) -> None:
    r.set("k", "v")
    r.pexpire("k", 60)
    assert r.get("k") == b"v"
    time.sleep(0.12)
    assert r.get("k") is None


def quiet_engine() -> Engine:
    """An engine whose active expiry runs at most once a second (hz 1), so lazy paths can be observed."""
    return Engine(config={"hz": "1"})


def test_dbsize_counts_expired_keys_not_yet_reclaimed() -> None:
    engine = quiet_engine()
    client = EmbeddedRedis(engine)
    client.ping()  # runs the first cron now; the next is a second away
    client.set("k", "v")
    client.set("other", "v")
    db = engine.databases[0]
    db.expires[b"k"] = int(time.time() * 1000) - 10
    # Redis 7.0's DBSIZE is the size of the key table: logically expired keys count until reclaimed.
    assert client.dbsize() == 2
    assert client.keys("*") == [b"other"]
    assert b"k" in db.data  # KEYS hides the key without deleting it, as Redis does
    assert client.exists("k") == 0
    assert client.dbsize() == 1


def test_active_expiry_reclaims_keys_nobody_reads() -> None:
    engine = quiet_engine()
    client = EmbeddedRedis(engine)
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"key:{i}", i, px=1)
    pipe.set("forever", "v")
    pipe.execute()
    db = engine.databases[0]
    assert len(db.data) >= 900
    time.sleep(0.01)
    for _ in range(2000):
        engine.cron(time.monotonic())
        if len(db.data) == 1:
            break
    assert list(db.data) == [b"forever"]
    assert db.expires == {}
    assert engine.expired_keys >= 1000 - 100


def test_active_expiry_keeps_live_keys() -> None:
    engine = quiet_engine()
    client = EmbeddedRedis(engine)
    for i in range(100):
        client.set(f"live:{i}", i, ex=1000)
        client.set(f"dead:{i}", i, px=1)
    time.sleep(0.01)
    db = engine.databases[0]
    for _ in range(500):
        engine.cron(time.monotonic())
    assert sorted(db.data) == sorted(f"live:{i}".encode() for i in range(100))
    assert len(db.expires) == 100

