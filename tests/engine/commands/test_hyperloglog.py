"""HyperLogLog commands on both backends, byte for byte against Redis 7.0."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine.types import hyperloglog as hll_type
from redpocket.engine.types.hyperloglog import (
    EMPTY_SPARSE,
    REGISTERS,
    HyperLogLog,
    histogram,
    murmurhash64a,
    pack_dense,
    pattern,
    sparse_registers,
    unpack_dense,
)

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
WRONGTYPE = "Operation against a key holding the wrong kind of value"
CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"
STALE = b"HYLL\x01" + bytes(10) + b"\x80"  # a sparse header whose cached cardinality is invalid


def raw_get(client: redis.Redis, key: str | bytes) -> Any:
    """GET a key's raw bytes (straight from the engine while it has no GET command yet)."""
    if isinstance(client, EmbeddedRedis) and b"get" not in client.engine.commands:
        name = key.encode() if isinstance(key, str) else key
        database = client.engine.databases[0]
        database.expire_if_needed(name)
        return database.data.get(name)
    return client.get(key)


def raw_set(client: redis.Redis, key: str | bytes, value: bytes) -> None:
    """SET a key to raw bytes (straight into the engine while it has no SET command yet)."""
    if isinstance(client, EmbeddedRedis) and b"set" not in client.engine.commands:
        name = key.encode() if isinstance(key, str) else key
        client.engine.databases[0].data[name] = value
        client.engine.databases[0].expires.pop(name, None)
        return
    client.set(key, value)


def dense_value(registers: bytes, card: bytes = bytes(7) + b"\x80") -> bytes:
    """Build a dense HLL string with the given one-byte-per-register values."""
    return b"HYLL\x00\x00\x00\x00" + card + bytes(pack_dense(registers))


# -- PFADD ---------------------------------------------------------------------------


def test_pfadd_creates_an_empty_sparse_hll(r: redis.Redis) -> None:
    assert r.execute_command("PFADD", "h") == 1
    assert raw_get(r, "h") == b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80\x7f\xff"
    assert r.execute_command("PFADD", "h") == 0
    assert r.execute_command("PFCOUNT", "h") == 0
    assert raw_get(r, "h") == EMPTY_SPARSE


def test_pfadd_reports_register_changes(r: redis.Redis) -> None:
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "b", "c") == 0
    assert r.pfadd("h", "c", "d") == 1
    assert r.pfcount("h") == 4
    assert r.execute_command("PFDEBUG", "DECODE", "h").startswith(b"Z:")


def test_pfadd_sparse_bytes(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b", "c")
    assert raw_get(r, "h") == bytes.fromhex("48594c4c0100000000000000000000806" "0f38050b1844bfb80425a")
    assert r.execute_command("PFDEBUG", "DECODE", "h") == b"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"


def test_pfadd_binary_members(r: redis.Redis) -> None:
    members = [b"", b"\x00", b"\xff\xfe", bytes(range(256)), "é".encode(), b"x" * 1000]
    assert r.pfadd(b"\xff\x00key", *members) == 1
    assert r.pfcount(b"\xff\x00key") == 6
    assert r.pfadd(b"\xff\x00key", *members) == 0


def test_pfadd_promotes_to_dense(r: redis.Redis) -> None:
    r.pfadd("h", *[f"e{i}" for i in range(3000)])
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    assert len(raw_get(r, "h")) == 12304
    assert r.pfcount("h") == 2979


def test_pfadd_keeps_ttl(r: redis.Redis) -> None:
    r.pfadd("h", "a")
    r.expire("h", 100)
    r.pfadd("h", "b", "c")
    assert 0 < r.ttl("h") <= 100
    r.pfcount("h")
    assert 0 < r.ttl("h") <= 100


def test_pfadd_on_an_expired_key_starts_over(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b")
    r.pexpire("h", 1)
    time.sleep(0.01)
    assert r.pfcount("h") == 0
    assert r.pfadd("h", "c") == 1
    assert r.pfcount("h") == 1
    assert r.ttl("h") == -1


def test_pfadd_errors(r: redis.Redis) -> None:
    r.sadd("set", "a")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.pfadd("set", "a")
    raw_set(r, "s", b"hello world, not an hll")
    with pytest.raises(redis.ResponseError) as info:
        r.pfadd("s", "a")
    assert str(info.value) == NOT_HLL
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'pfadd' command"):
        r.execute_command("PFADD")


# -- PFCOUNT -------------------------------------------------------------------------


def test_pfcount_missing_key(r: redis.Redis) -> None:
    assert r.pfcount("nope") == 0
    assert r.pfcount("nope", "nada") == 0
    assert r.exists("nope") == 0


def test_pfcount_writes_the_cached_cardinality(r: redis.Redis) -> None:
    r.pfadd("h", *[f"m{i}" for i in range(100)])
    before = raw_get(r, "h")
    assert before[15] & 0x80
    card = r.pfcount("h")
    after = raw_get(r, "h")
    assert after[8:16] == card.to_bytes(8, "little")
    assert after[16:] == before[16:]
    r.pfadd("h", "m1")  # no change: the cache stays valid
    assert raw_get(r, "h") == after
    r.pfadd("h", "new member")
    assert raw_get(r, "h")[15] & 0x80


def test_pfcount_returns_a_cached_value_as_is(r: redis.Redis) -> None:
    r.pfadd("h", "a")
    forged = bytearray(raw_get(r, "h"))
    forged[8:16] = (12345).to_bytes(8, "little")
    raw_set(r, "h", bytes(forged))
    assert r.pfcount("h") == 12345


def test_pfcount_several_keys_does_not_cache(r: redis.Redis) -> None:
    r.pfadd("a", *[f"x{i}" for i in range(50)])
    r.pfadd("b", *[f"x{i}" for i in range(25, 80)])
    a, b = raw_get(r, "a"), raw_get(r, "b")
    assert r.pfcount("a", "b", "missing") == 80
    assert raw_get(r, "a") == a and raw_get(r, "b") == b


def test_pfcount_errors(r: redis.Redis) -> None:
    r.sadd("set", "a")
    r.pfadd("h", "a")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.pfcount("set")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.pfcount("h", "set")
    raw_set(r, "short", b"HYLL")
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfcount("short")
    raw_set(r, "enc", b"HYLL\x02" + bytes(20))
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfcount("h", "enc")
    raw_set(r, "dense", b"HYLL\x00" + bytes(100))
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfcount("dense")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'pfcount' command"):
        r.execute_command("PFCOUNT")


@pytest.mark.parametrize(
    "value",
    [
        STALE + b"",  # no opcodes at all
        STALE + b"\x7f\xfe",  # covers 16383 registers
        STALE + b"\x7f\xff\x00",  # covers 16385 registers
        STALE + b"\xff" * 10,
    ],
)
def test_corrupted_sparse_hll(r: redis.Redis, value: bytes) -> None:
    raw_set(r, "bad", value)
    for command in (("PFCOUNT", "bad"), ("PFCOUNT", "bad", "other"), ("PFMERGE", "dest", "bad")):
        with pytest.raises(redis.ResponseError) as info:
            r.execute_command(*command)
        assert str(info.value) == CORRUPTED
    assert r.exists("dest") == 0


def test_pfadd_on_corrupted_sparse(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client()
    raw_set(r, "bad", STALE)
    with pytest.raises(redis.ResponseError, match=CORRUPTED):
        r.pfadd("bad", "a")
    assert raw_get(r, "bad") == STALE


# -- PFMERGE -------------------------------------------------------------------------


def test_pfmerge(r: redis.Redis) -> None:
    r.pfadd("a", "1", "2", "3")
    r.pfadd("b", "3", "4")
    assert r.pfmerge("dest", "a", "b", "missing") is True
    assert r.pfcount("dest") == 4
    assert r.execute_command("PFDEBUG", "ENCODING", "dest") == b"sparse"
    assert r.execute_command("PFMERGE", "alone") is True
    assert raw_get(r, "alone") == b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80\x7f\xff"


def test_pfmerge_includes_the_destination(r: redis.Redis) -> None:
    r.pfadd("dest", "x", "y")
    r.pfadd("a", "z")
    r.pfmerge("dest", "a")
    assert r.pfcount("dest") == 3


def test_pfmerge_with_a_dense_source_makes_a_dense_result(r: redis.Redis) -> None:
    r.pfadd("big", *[f"e{i}" for i in range(5000)])
    r.pfadd("small", "x")
    r.pfmerge("small", "big")
    assert r.execute_command("PFDEBUG", "ENCODING", "small") == b"dense"
    assert r.pfcount("small") == r.pfcount("big", "small")


def test_pfmerge_errors(r: redis.Redis) -> None:
    r.sadd("set", "a")
    r.pfadd("h", "a")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.pfmerge("set", "h")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.pfmerge("dest", "h", "set")
    raw_set(r, "s", b"plain string value")
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfmerge("dest", "s")
    assert r.exists("dest") == 0
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'pfmerge' command"):
        r.execute_command("PFMERGE")


# -- PFDEBUG and PFSELFTEST ----------------------------------------------------------------


def test_pfdebug(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b")
    assert r.execute_command("PFDEBUG", "encoding", "h") == b"sparse"
    registers = r.execute_command("PFDEBUG", "GETREG", "h")
    assert len(registers) == REGISTERS and sorted(registers)[-2:] == [1, 2]
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"  # GETREG converted it
    with pytest.raises(redis.ResponseError, match="HLL encoding is not sparse"):
        r.execute_command("PFDEBUG", "DECODE", "h")
    assert r.execute_command("PFDEBUG", "TODENSE", "h") == 0
    r.pfadd("s", "a")
    assert r.execute_command("PFDEBUG", "TODENSE", "s") == 1
    assert raw_get(r, "s") == raw_get(r, "h")[:16] + raw_get(r, "s")[16:]
    with pytest.raises(redis.ResponseError, match="The specified key does not exist"):
        r.execute_command("PFDEBUG", "ENCODING", "missing")
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command("PFDEBUG", "nosuch", "h")
    assert str(info.value) == "Unknown PFDEBUG subcommand 'nosuch'"
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'pfdebug' command"):
        r.execute_command("PFDEBUG", "ENCODING")


def test_pfselftest(r: redis.Redis) -> None:
    assert r.execute_command("PFSELFTEST") == b"OK"


def test_string_commands_see_raw_bytes(r: redis.Redis) -> None:
    if isinstance(r, EmbeddedRedis) and b"strlen" not in r.engine.commands:
        pytest.skip("the strings family is not in the engine yet")
    r.pfadd("h", "a", "b", "c")
    assert r.type("h") == b"string"
    assert r.strlen("h") == 27
    assert r.getrange("h", 0, 3) == b"HYLL"
    r.append("h", b"\x00")
    with pytest.raises(redis.ResponseError, match=CORRUPTED):
        r.pfcount("h")


# -- differential tests -----------------------------------------------------------------


def _random_member(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return rng.randbytes(rng.randrange(0, 24))
    return b"%d" % rng.randrange(5000)


def _corrupt(rng: random.Random, value: Any) -> bytes | None:
    if not isinstance(value, bytes) or len(value) <= 17 or value[4] != 1:
        return None
    data = bytearray(value)
    kind = rng.randrange(5)
    if kind == 0:
        del data[-1]
    elif kind == 1:
        data.append(rng.randrange(256))
    elif kind == 2:
        data[rng.randrange(16, len(data))] = rng.randrange(256)
    elif kind == 3:
        data[15] &= 0x7F
    else:
        data[5] = rng.randrange(256)
    return bytes(data)


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_differential_random_sequences(pair: Callable[..., tuple[redis.Redis, redis.Redis]], seed: int, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    rng = random.Random(seed * 10 + protocol)
    keys = [b"k0", b"k1", b"k\xff2", b"k3", b"list"]
    real.sadd("list", "x")
    embedded.sadd("list", "x")
    for step in range(250):
        key = rng.choice(keys[:4])
        roll = rng.random()
        if roll < 0.5:
            members = [_random_member(rng) for _ in range(rng.choice([0, 1, 1, 2, 5, 20, 80]))]
            command: tuple[Any, ...] = ("PFADD", key, *members)
        elif roll < 0.6:
            command = ("PFCOUNT", key)
        elif roll < 0.68:
            command = ("PFCOUNT", *rng.sample(keys, rng.randrange(1, 4)))
        elif roll < 0.78:
            command = ("PFMERGE", key, *rng.sample(keys, rng.randrange(0, 3)))
        elif roll < 0.8:
            command = ("DEL", key)
        elif roll < 0.82:
            command = ("PEXPIRE", key, 100000)
        elif roll < 0.88:
            command = ("PFDEBUG", rng.choice(["DECODE", "ENCODING", "TODENSE", "GETREG", "BOGUS"]), key)
        else:
            forged = _corrupt(rng, raw_get(real, key))
            if forged is not None:
                raw_set(real, key, forged)
                raw_set(embedded, key, forged)
            continue
        expected = run(real, *command)
        assert run(embedded, *command) == expected, (step, command[:3])
        if command[0] != "PEXPIRE":
            assert raw_get(embedded, key) == raw_get(real, key), (step, command[:3])


def test_differential_large_sets_and_merges(pair: Callable[..., tuple[redis.Redis, redis.Redis]]) -> None:
    embedded, real = pair()
    rng = random.Random(7)
    total = 0
    for step in range(25):
        batch = [b"e%d" % (total + i) for i in range(rng.choice([10, 200, 2000, 6000]))]
        total += len(batch)
        for client in (embedded, real):
            client.pfadd("big", *batch)
        for name in ("s0", "s1", "s2"):
            members = [rng.randbytes(6) for _ in range(rng.randrange(1, 600))]
            assert embedded.pfadd(name, *members) == real.pfadd(name, *members)
        assert embedded.pfcount("big") == real.pfcount("big")
        assert embedded.pfcount("big", "s0", "s1") == real.pfcount("big", "s0", "s1")
        for command in (("PFMERGE", "m", "s0", "s1", "s2"), ("PFMERGE", f"n{step}", "s2", "big")):
            assert run(embedded, *command) == run(real, *command)
            assert raw_get(embedded, command[1]) == raw_get(real, command[1])
        assert embedded.pfcount("m") == real.pfcount("m")
        for name in ("big", "s0", "s1", "s2", "m"):
            assert raw_get(embedded, name) == raw_get(real, name), (step, name)


def test_differential_crafted_dense_registers(pair: Callable[..., tuple[redis.Redis, redis.Redis]]) -> None:
    embedded, real = pair()
    rng = random.Random(3)
    for _ in range(40):
        top = rng.choice([2, 8, 20, 40, 64])
        registers = bytes(rng.randrange(top) for _ in range(REGISTERS))
        value = dense_value(registers)
        for client in (embedded, real):
            raw_set(client, "d", value)
        assert embedded.pfcount("d", "missing") == real.pfcount("d", "missing")
        assert embedded.pfcount("d") == real.pfcount("d")
        assert raw_get(embedded, "d") == raw_get(real, "d")
        assert embedded.pfadd("d", "x", "y") == real.pfadd("d", "x", "y")
        assert raw_get(embedded, "d") == raw_get(real, "d")


# -- the data structure itself ------------------------------------------------------------


def test_murmurhash64a_known_values() -> None:
    # hllPatLen of "a", "b", "c" lands on registers 8436, 12711, 15780 (see PFDEBUG DECODE above).
    assert sorted(pattern(m)[0] for m in (b"a", b"b", b"c")) == [8436, 12711, 15780]
    assert murmurhash64a(b"") == murmurhash64a(b"", 0xADC83B19)


def test_dense_packing_round_trip() -> None:
    rng = random.Random(1)
    registers = bytes(rng.randrange(64) for _ in range(REGISTERS))
    packed = b"HYLL\x00" + bytes(11) + bytes(pack_dense(registers))
    assert bytes(unpack_dense(packed)) == registers
    assert histogram(registers) == [registers.count(v) for v in range(64)]


def test_fast_sparse_path_matches_the_literal_port() -> None:
    rng = random.Random(2)
    for _ in range(30):
        fast = HyperLogLog.empty()
        slow = HyperLogLog.empty()
        slow.firsts = slow.kinds = slow.histo = None
        limit = rng.choice([100, 400, 3000])
        fast.max_bytes = slow.max_bytes = limit
        for _ in range(rng.randrange(1, 900)):
            index = rng.randrange(REGISTERS) if rng.random() < 0.7 else rng.randrange(200)
            count = rng.choice([1, 1, 2, 3, 4, 5, 33]) if rng.random() < 0.99 else 40
            assert fast.set_register(index, count) == slow.set_register(index, count)
            assert fast.data == slow.data
        if fast.is_sparse:
            assert fast.histo == histogram(sparse_registers(fast.data) or b"")
            assert hll_type._decode_sparse(fast.data) == (fast.firsts, fast.kinds, fast.histo)


def test_merge_into_an_empty_hll_matches_setting_registers_one_by_one() -> None:
    rng = random.Random(4)
    for _ in range(60):
        raw = bytearray(REGISTERS)
        for index in rng.sample(range(REGISTERS), rng.choice([0, 1, 5, 300, 1500, 3000])):
            raw[index] = rng.choice([1, 1, 1, 2, 3])
        if rng.random() < 0.3:
            start = rng.randrange(REGISTERS - 40)
            raw[start : start + 40] = bytes([rng.choice([1, 2])]) * 40
        if rng.random() < 0.2:
            raw[-2:] = b"\x01\x01" if rng.random() < 0.5 else b"\x00\x02"
        limit = rng.choice([50, 300, 3000])
        merged = HyperLogLog.empty()
        merged.max_bytes = limit
        merged.merge_from(raw)
        one_by_one = HyperLogLog.empty()
        one_by_one.max_bytes = limit
        for index, value in enumerate(raw):
            if value and one_by_one.set_register(index, value) == 1 and not one_by_one.is_sparse:
                one_by_one.set_dense(raw)
                break
        merged.invalidate_cache()  # as PFMERGE does last
        one_by_one.invalidate_cache()
        assert merged.data == one_by_one.data
        assert merged.histo in (None, one_by_one.histo)
