"""Set commands on both backends, plus a differential run against real Redis."""

from __future__ import annotations

import random
import time

import pytest
import redis
from tests.helpers import error_of, raw_client, run

from redpocket.engine.args import is_int
from redpocket.engine.types.scan import glob_matcher as compile_glob
from redpocket.engine.types.scan import parse_cursor
from redpocket.engine.types.set import set_encoding

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture
def raw(make_client) -> redis.Redis:
    """A RESP2 client without response callbacks."""
    return raw_client(make_client)


def test_sadd_srem_scard(r: redis.Redis) -> None:
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.sadd("s", "b", "c") == 1
    assert r.sadd("s", "c") == 0
    assert r.scard("s") == 3
    assert r.scard("missing") == 0
    assert r.srem("s", "a", "zz", "a") == 1
    assert r.srem("missing", "a") == 0
    assert r.srem("s", "b", "c") == 2
    assert r.exists("s") == 0


def test_smembers_intset_order(raw: redis.Redis) -> None:
    raw.sadd("s", "10", "-5", "3", "1", "2", "9223372036854775807", "-9223372036854775808")
    expected = [b"-9223372036854775808", b"-5", b"1", b"2", b"3", b"10", b"9223372036854775807"]
    assert raw.smembers("s") == expected
    assert raw.execute_command("SSCAN", "s", "0") == [b"0", expected]
    assert raw.execute_command("SRANDMEMBER", "s", "100") == expected
    assert raw.execute_command("SUNION", "s", "missing") == expected
    assert raw.execute_command("SINTER", "s", "s") == expected
    assert raw.execute_command("SDIFF", "s") == expected
    assert raw.smembers("missing") == []


def test_smembers_hashtable_compared_sorted(r: redis.Redis) -> None:
    r.sadd("s", "b", "a", "1", "01")
    assert sorted(r.smembers("s")) == [b"01", b"1", b"a", b"b"]


def test_set_replies_are_sets_under_resp3(make_client) -> None:
    r = raw_client(make_client, protocol=3)
    r.sadd("s", "1", "2")
    for command in (("SMEMBERS", "s"), ("SINTER", "s"), ("SUNION", "s"), ("SDIFF", "s"), ("SPOP", "s", "0")):
        reply = r.execute_command(*command)
        assert isinstance(reply, (set, list)), command
    assert sorted(r.execute_command("SMEMBERS", "s")) == [b"1", b"2"]
    assert r.execute_command("SRANDMEMBER", "s", "5") == [b"1", b"2"]
    assert r.execute_command("SMISMEMBER", "s", "1", "x") == [1, 0]


def test_sismember_smismember(r: redis.Redis) -> None:
    r.sadd("s", "a", "b")
    assert r.sismember("s", "a") == 1
    assert r.sismember("s", "x") == 0
    assert r.sismember("missing", "a") == 0
    assert r.smismember("s", ["a", "x", "b"]) == [True, False, True]
    assert r.smismember("missing", ["a", "b"]) == [False, False]


def test_wrong_type(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    r.sadd("s", "a")
    for args in (
        ("SADD", "h", "a"), ("SREM", "h", "a"), ("SMEMBERS", "h"), ("SISMEMBER", "h", "a"),
        ("SMISMEMBER", "h", "a"), ("SCARD", "h"), ("SPOP", "h"), ("SPOP", "h", "2"), ("SRANDMEMBER", "h"),
        ("SRANDMEMBER", "h", "2"), ("SMOVE", "h", "s", "a"), ("SMOVE", "s", "h", "a"), ("SINTER", "missing", "h"),
        ("SUNION", "s", "h"), ("SDIFF", "missing", "h"), ("SINTERSTORE", "d", "missing", "h"),
        ("SUNIONSTORE", "d", "h"), ("SDIFFSTORE", "d", "s", "h"), ("SINTERCARD", "2", "missing", "h"),
        ("SSCAN", "h", "0"),
    ):
        assert error_of(r, *args) == WRONGTYPE, args
    # A missing source wins over a wrong-typed destination.
    assert r.smove("missing", "h", "a") is False
    assert r.exists("d") == 0


def test_spop(r: redis.Redis) -> None:
    members = {b"a", b"b", b"c", b"d", b"e"}
    r.sadd("s", *members)
    first = r.spop("s")
    assert first in members
    popped = r.spop("s", 2)
    assert len(popped) == 2 and len(set(popped)) == 2 and set(popped) <= members - {first}
    assert r.scard("s") == 2
    assert r.spop("s", 0) == []
    rest = r.spop("s", 10)
    assert sorted(rest + popped + [first]) == sorted(members)
    assert r.exists("s") == 0
    assert r.spop("missing") is None
    assert r.spop("missing", 3) == []


def test_spop_large_set_pops_distinct_members(r: redis.Redis) -> None:
    members = [b"m%d" % i for i in range(5000)]
    r.sadd("s", *members)
    popped = [r.spop("s") for _ in range(20)]
    assert len(set(popped)) == 20 and set(popped) <= set(members)
    assert r.scard("s") == 4980


def test_spop_errors(r: redis.Redis) -> None:
    r.sadd("s", "a")
    assert error_of(r, "SPOP", "s", "-1") == "value is out of range, must be positive"
    assert error_of(r, "SPOP", "s", "x") == "value is out of range, must be positive"
    assert error_of(r, "SPOP", "s", "1", "2") == "syntax error"
    assert error_of(r, "SPOP", "h", "-1") == "value is out of range, must be positive"


def test_srandmember(r: redis.Redis) -> None:
    members = {b"a", b"b", b"c", b"d", b"e"}
    r.sadd("s", *members)
    assert r.srandmember("s") in members
    assert r.srandmember("missing") is None
    picked = r.srandmember("s", 3)
    assert len(picked) == 3 and len(set(picked)) == 3 and set(picked) <= members
    assert sorted(r.srandmember("s", 10)) == sorted(members)
    repeated = r.srandmember("s", -20)
    assert len(repeated) == 20 and set(repeated) <= members
    assert r.srandmember("s", 0) == []
    assert r.srandmember("missing", 5) == []
    assert r.scard("s") == 5


def test_srandmember_errors(r: redis.Redis) -> None:
    r.sadd("s", "a")
    assert error_of(r, "SRANDMEMBER", "s", "x") == "value is not an integer or out of range"
    assert error_of(r, "SRANDMEMBER", "s", "1", "2") == "syntax error"
    assert error_of(r, "SRANDMEMBER", "s", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )


def test_smove(r: redis.Redis) -> None:
    r.sadd("a", "x", "y")
    r.sadd("b", "z")
    assert r.smove("a", "b", "x") is True
    assert r.smove("a", "b", "nope") is False
    assert r.smove("a", "a", "y") is True
    assert r.smove("a", "a", "nope") is False
    assert r.smove("a", "c", "y") is True
    assert r.exists("a") == 0
    assert sorted(r.smembers("b")) == [b"x", b"z"]
    assert r.smembers("c") == {b"y"}
    r.sadd("c", "z")
    assert r.smove("c", "b", "z") is True
    assert r.smembers("c") == {b"y"}


def test_algebra(r: redis.Redis) -> None:
    r.sadd("a", "1", "2", "3", "x")
    r.sadd("b", "2", "3", "4")
    r.sadd("c", "3", "x", "y")
    assert sorted(r.sinter("a", "b")) == [b"2", b"3"]
    assert sorted(r.sinter("a", "b", "c")) == [b"3"]
    assert r.sinter("a", "missing") == set()
    assert sorted(r.sunion("a", "b", "missing")) == [b"1", b"2", b"3", b"4", b"x"]
    assert sorted(r.sdiff("a", "b")) == [b"1", b"x"]
    assert sorted(r.sdiff("a", "b", "c")) == [b"1"]
    assert r.sdiff("missing", "a") == set()
    assert r.sdiff("a", "a") == set()


def test_store_variants(r: redis.Redis) -> None:
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    r.hset("d", "f", "v")
    assert r.sinterstore("d", ["a", "b"]) == 2
    assert sorted(r.smembers("d")) == [b"2", b"3"]
    r.expire("d", 100)
    assert r.sunionstore("d", ["a", "b"]) == 4
    assert r.ttl("d") == -1
    assert r.sdiffstore("d", ["a", "b"]) == 1
    assert r.smembers("d") == {b"1"}
    assert r.sdiffstore("a", ["a", "d"]) == 2
    assert sorted(r.smembers("a")) == [b"2", b"3"]
    assert r.sinterstore("d", ["a", "missing"]) == 0
    assert r.exists("d") == 0
    assert r.sunionstore("e", ["missing"]) == 0
    assert r.exists("e") == 0
    # The stored set is a copy, not the source itself.
    assert r.sunionstore("copy", ["a"]) == 2
    r.sadd("copy", "new")
    assert r.scard("a") == 2


def test_sintercard(r: redis.Redis) -> None:
    r.sadd("a", "1", "2", "3", "4")
    r.sadd("b", "2", "3", "4", "5")
    assert r.sintercard(2, ["a", "b"]) == 3
    assert r.sintercard(2, ["a", "b"], limit=2) == 2
    assert r.sintercard(2, ["a", "b"], limit=0) == 3
    assert r.sintercard(2, ["a", "b"], limit=10) == 3
    assert r.sintercard(1, ["a"]) == 4
    assert r.sintercard(2, ["a", "missing"]) == 0
    assert r.execute_command("SINTERCARD", "1", "a", "LIMIT", "1", "limit", "3") == 3


def test_sintercard_errors(r: redis.Redis) -> None:
    r.sadd("a", "1")
    assert error_of(r, "SINTERCARD", "0", "a") == "numkeys should be greater than 0"
    assert error_of(r, "SINTERCARD", "-1", "a") == "numkeys should be greater than 0"
    assert error_of(r, "SINTERCARD", "x", "a") == "numkeys should be greater than 0"
    assert error_of(r, "SINTERCARD", "2", "a") == "Number of keys can't be greater than number of args"
    assert error_of(r, "SINTERCARD", "1", "a", "LIMIT", "-1") == "LIMIT can't be negative"
    assert error_of(r, "SINTERCARD", "1", "a", "LIMIT", "x") == "LIMIT can't be negative"
    assert error_of(r, "SINTERCARD", "1", "a", "LIMIT") == "syntax error"
    assert error_of(r, "SINTERCARD", "1", "a", "FOO", "1") == "syntax error"


def test_sscan(r: redis.Redis) -> None:
    r.sadd("s", "apple", "avocado", "banana", "x\xff")
    cursor, members = r.sscan("s", 0)
    assert cursor == 0 and sorted(members) == sorted([b"apple", b"avocado", b"banana", "x\xff".encode()])
    # Redis scans a hash table set in batches: iterate to the end.
    assert sorted(r.sscan_iter("s", match="a*", count=1)) == [b"apple", b"avocado"]
    assert sorted(r.sscan_iter("s", match="[!b]*")) == [b"banana"]  # '!' is no negation in Redis
    assert sorted(r.sscan_iter("s", match="[^ab]*")) == ["x\xff".encode()]
    assert r.sscan("missing", 0) == (0, [])
    assert error_of(r, "SSCAN", "s", "x") == "invalid cursor"
    assert error_of(r, "SSCAN", "s", "0", "COUNT", "0") == "syntax error"
    assert error_of(r, "SSCAN", "s", "0", "MATCH") == "syntax error"
    assert r.execute_command("SSCAN", "missing", "0", "COUNT", "0") == (0, [])


def test_binary_members(r: redis.Redis) -> None:
    member = b"\xff\x00\xfe"
    assert r.sadd(b"\xc3\x28", member, b"\x80") == 2
    assert r.sismember(b"\xc3\x28", member) == 1
    assert sorted(r.smembers(b"\xc3\x28")) == [b"\x80", member]
    assert r.sscan(b"\xc3\x28", 0, match=b"\xff*") == (0, [member])


def test_expired_set_is_gone(r: redis.Redis) -> None:
    r.sadd("s", "a")
    r.pexpire("s", 20)
    time.sleep(0.05)
    assert r.scard("s") == 0
    assert r.sismember("s", "a") == 0
    assert r.sadd("s", "b") == 1
    assert r.ttl("s") == -1


def test_set_encoding() -> None:
    from redpocket.engine.config import Config

    config = Config()
    limit = int(config.get("set-max-intset-entries"))
    assert set_encoding({b"1", b"-2"}, config) == "intset"
    assert set_encoding({b"1", b"a"}, config) == "hashtable"
    assert set_encoding({b"01"}, config) == "hashtable"
    assert set_encoding({b"%d" % i for i in range(limit)}, config) == "intset"
    assert set_encoding({b"%d" % i for i in range(limit + 1)}, config) == "hashtable"


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ([("SADD", "s", "1", "a"), ("SREM", "s", "a")], "hashtable"),
        ([("SADD", "s", *[str(i) for i in range(513)]), ("SREM", "s", "0", "1")], "hashtable"),
        ([("SADD", "s", "1", "a"), ("SMOVE", "s", "t", "a")], "hashtable"),
        ([("SADD", "s", "1", "2"), ("SREM", "s", "a", "1")], "intset"),  # an absent non-integer changes nothing
        ([("SADD", "s", "1", "2", "3"), ("SPOP", "s")], "intset"),
        ([("SADD", "s", "1", "2", "3", "x"), ("SREM", "s", "x"), ("DEL", "s"), ("SADD", "s", "1")], "intset"),
    ],
)
def test_a_set_converted_to_hashtable_stays_one(r: redis.Redis, commands: list[tuple[str, ...]], expected: str) -> None:
    for command in commands:
        r.execute_command(*command)
    assert r.object("encoding", "s") in (expected, expected.encode())


def test_a_popped_non_integer_keeps_the_set_a_hashtable(r: redis.Redis) -> None:
    r.sadd("s", "1", "a")
    while r.sismember("s", "a"):  # SPOP picks at random: pop until the non-integer went
        r.delete("s")
        r.sadd("s", "1", "2", "a")
        r.spop("s")
    assert r.object("encoding", "s") in ("hashtable", b"hashtable")


def test_intset_member_rules() -> None:
    for good in (b"0", b"7", b"-7", b"9223372036854775807", b"-9223372036854775808"):
        assert is_int(good), good
    for bad in (b"", b"-", b"-0", b"01", b"+1", b" 1", b"1.0", b"9223372036854775808", b"-9223372036854775809", b"\xd9\xa1"):
        assert not is_int(bad), bad


def test_glob_and_cursor_helpers() -> None:
    assert compile_glob(b"a*")(b"a")
    assert not compile_glob(b"*")(b"")
    assert compile_glob(b"")(b"")
    assert compile_glob(b"h?llo")(b"hello")
    assert compile_glob(b"h[^e]llo")(b"hallo") and not compile_glob(b"h[^e]llo")(b"hello")
    assert compile_glob(b"h[a-b]llo")(b"hbllo") and compile_glob(b"h[b-a]llo")(b"hallo")
    assert compile_glob(b"\\*")(b"*") and not compile_glob(b"\\*")(b"a")
    assert compile_glob(b"[abc")(b"b")
    assert compile_glob(b"a\\")(b"a\\")
    assert parse_cursor(b"") == 0
    assert parse_cursor(b"-1") == 2**64 - 1


# -- differential ---------------------------------------------------------------

MEMBERS = [b"1", b"2", b"3", b"-4", b"10", b"a", b"b", b"\xff\x00", b"01", b""]


def random_command(rng: random.Random) -> list[bytes]:
    keys = [b"s1", b"s2", b"s3", b"h1", b"missing"]
    key = rng.choice(keys)
    member = rng.choice(MEMBERS)
    several = [rng.choice(keys) for _ in range(rng.randint(1, 3))]
    options: list[list[bytes]] = [
        [b"SADD", key, *rng.sample(MEMBERS, rng.randint(1, 4))],
        [b"SADD", key, *rng.sample(MEMBERS, rng.randint(1, 4))],
        [b"SREM", key, member, rng.choice(MEMBERS)],
        [b"SMEMBERS", key],
        [b"SISMEMBER", key, member],
        [b"SMISMEMBER", key, member, rng.choice(MEMBERS)],
        [b"SCARD", key],
        [b"SPOP", key, rng.choice([b"0", b"100", b"-1", b"x"])],
        [b"SRANDMEMBER", key, rng.choice([b"0", b"100", b"x"])],
        [b"SMOVE", key, rng.choice(keys), member],
        [b"SINTER", *several],
        [b"SUNION", *several],
        [b"SDIFF", *several],
        [rng.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), rng.choice(keys), *several],
        [b"SINTERCARD", b"%d" % len(several), *several, b"LIMIT", rng.choice([b"0", b"1", b"2", b"-1"])],
        [b"SSCAN", key, b"0", b"MATCH", rng.choice([b"*", b"[0-9]*", b"?", b"*\xff*"])],
        [b"HSET", key, b"f", b"v"],
        [b"PEXPIRE", key, rng.choice([b"1", b"100000"])],
    ]
    return rng.choice(options)


def normalized(reply: object) -> object:
    """Sort set replies: hash table sets come out in Redis's hash order, which nobody can reproduce."""
    if isinstance(reply, (set, list)):
        items = list(reply)
        if len(items) == 2 and isinstance(items[1], list):  # SSCAN
            return [items[0], sorted(items[1])]
        return sorted(items)
    return reply


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_against_redis(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    embedded.response_callbacks.clear()
    real.response_callbacks.clear()
    rng = random.Random(4321 + protocol)
    for step in range(1500):
        command = random_command(rng)
        if command[0] == b"PEXPIRE" and command[2] == b"1":
            assert run(embedded, *command) == run(real, *command)
            time.sleep(0.003)
            continue
        expected = run(real, *command)
        got = run(embedded, *command)
        if got != expected:
            got, expected = normalized(got), normalized(expected)
        assert got == expected, (step, command)
        if protocol == 2 and command[0] == b"SMEMBERS" and run(real, "OBJECT", "ENCODING", command[1]) == b"intset":
            # Intsets come out in ascending order: compare exactly.
            assert run(embedded, *command) == run(real, *command)
