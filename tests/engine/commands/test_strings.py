"""String commands on both backends, and differential runs against redis-server."""

from __future__ import annotations

import random
import time

import pytest
import redis
from tests.helpers import differential, error_of, run

from redpocket.engine.registry import COMMANDS
from redpocket.engine.types.strings import get_range, string_encoding


def skip_without_watch(backend: str) -> None:
    """Skip on the embedded engine until WATCH (another family) is registered."""
    if backend == "embedded" and b"watch" not in COMMANDS:
        pytest.skip("WATCH is not implemented yet")

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "value is not an integer or out of range"
SYNTAX = "syntax error"


# -- GET / SET ------------------------------------------------------------------------


def test_get_set_binary(r: redis.Redis) -> None:
    assert r.get("missing") is None
    assert r.set(b"\xff\x00key", b"\x00\xfe value") is True
    assert r.get(b"\xff\x00key") == b"\x00\xfe value"
    assert r.set("k", "") is True
    assert r.get("k") == b""
    r.hset("list", "f", "a")
    assert error_of(r, "GET", "list") == WRONGTYPE
    assert r.set("list", "now a string") is True
    assert r.get("list") == b"now a string"


def test_set_nx_xx(r: redis.Redis) -> None:
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.set("k", "3", xx=True) is True
    assert r.set("absent", "3", xx=True) is None
    assert r.exists("absent") == 0
    assert r.get("k") == b"3"
    assert error_of(r, "SET", "k", "v", "NX", "XX") == SYNTAX
    assert error_of(r, "SET", "k", "v", "XX", "NX") == SYNTAX
    assert r.execute_command("SET", "k", "4", "NX", "NX") is None
    assert r.execute_command("SET", "k", "4", "xx", "xx") is True
    assert r.get("k") == b"4"


def test_set_get_option(r: redis.Redis) -> None:
    assert r.set("k", "a", get=True) is None
    assert r.set("k", "b", get=True) == b"a"
    assert r.get("k") == b"b"
    # NX + GET (Redis 7): the old value comes back and nothing is written.
    assert r.set("k", "c", nx=True, get=True) == b"b"
    assert r.get("k") == b"b"
    assert r.set("new", "c", nx=True, get=True) is None
    assert r.get("new") == b"c"
    assert r.set("none", "c", xx=True, get=True) is None
    assert r.exists("none") == 0
    assert r.set("k", "d", xx=True, get=True) == b"b"
    assert r.get("k") == b"d"
    r.hset("list", "f", "x")
    assert error_of(r, "SET", "list", "v", "GET") == WRONGTYPE
    assert r.type("list") == b"hash"


def test_set_expire_options(r: redis.Redis) -> None:
    assert r.set("k", "v", ex=100) is True
    assert 99 <= r.ttl("k") <= 100
    assert r.set("k", "v", px=50000) is True
    assert 49000 <= r.pttl("k") <= 50000
    at = int(time.time()) + 1000
    assert r.set("k", "v", exat=at) is True
    assert 998 <= r.ttl("k") <= 1000
    assert r.set("k", "v", pxat=at * 1000) is True
    assert 998 <= r.ttl("k") <= 1000
    assert r.set("k", "w", keepttl=True) is True
    assert 998 <= r.ttl("k") <= 1000
    assert r.set("k", "x") is True
    assert r.ttl("k") == -1
    # Repeating the same expire option is allowed: the last one wins.
    assert r.execute_command("SET", "k", "v", "EX", "10", "EX", "20") is True
    assert 19 <= r.ttl("k") <= 20
    assert r.set("k", "v", ex=10, nx=True, get=True) == b"v"
    assert r.set("k", "v", xx=True, get=True, px=3000) == b"v"
    assert 2000 <= r.pttl("k") <= 3000


def test_set_expire_in_the_past(r: redis.Redis) -> None:
    assert r.set("k", "v", exat=1) is True
    assert r.get("k") is None
    assert r.set("k", "v", pxat=1000) is True
    assert r.exists("k") == 0


def test_set_option_errors(r: redis.Redis) -> None:
    for args in (
        ["EX", "10", "PX", "100"],
        ["EX", "10", "KEEPTTL"],
        ["KEEPTTL", "PX", "10"],
        ["EXAT", "10", "PXAT", "10"],
        ["EX"],
        ["PERSIST"],
        ["NX", "YY"],
        ["GETT"],
        ["EX", "abc", "NX", "XX"],  # syntax is checked before the number
    ):
        assert error_of(r, "SET", "k", "v", *args) == SYNTAX, args
    assert error_of(r, "SET", "k", "v", "EX", "abc") == NOT_INTEGER
    assert error_of(r, "SET", "k", "v", "PX", "1.5") == NOT_INTEGER
    invalid = "invalid expire time in 'set' command"
    for args in (
        ["EX", "0"],
        ["EX", "-1"],
        ["PX", "0"],
        ["EXAT", "0"],
        ["PXAT", "-5"],
        ["EX", "9223372036854775807"],
        ["EX", "9223372036854776"],
        ["PX", "9223372036854775807"],
        ["EXAT", "9223372036854776"],
    ):
        assert error_of(r, "SET", "k", "v", *args) == invalid, args
    # The expire time is checked before the type of the old value.
    r.hset("list", "f", "x")
    assert error_of(r, "SET", "list", "v", "GET", "EX", "0") == invalid
    assert r.exists("k") == 0
    assert r.execute_command("SET", "k", "v", "EXAT", "9223372036854775") is True
    assert r.ttl("k") > 10**15


def test_set_option_with_nul_byte(r: redis.Redis) -> None:
    # Redis matches option names as C strings.
    assert r.execute_command("SET", "k", "v", b"NX\x00junk") is True
    assert r.execute_command("SET", "k", "w", b"nx\x00") is None
    assert r.get("k") == b"v"


def test_set_arity(r: redis.Redis) -> None:
    assert error_of(r, "SET", "k") == "wrong number of arguments for 'set' command"


def test_setnx_setex_psetex(r: redis.Redis) -> None:
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.get("k") == b"1"
    assert r.execute_command("SETEX", "k", 100, "v") is True
    assert 99 <= r.ttl("k") <= 100
    assert r.psetex("k", 5000, "w") is True
    assert 4000 <= r.pttl("k") <= 5000
    assert r.get("k") == b"w"
    assert error_of(r, "SETEX", "k", "0", "v") == "invalid expire time in 'setex' command"
    assert error_of(r, "setex", "k", "-3", "v") == "invalid expire time in 'setex' command"
    assert error_of(r, "SETEX", "k", "9223372036854776", "v") == "invalid expire time in 'setex' command"
    assert error_of(r, "PSETEX", "k", "-1", "v") == "invalid expire time in 'psetex' command"
    assert error_of(r, "PSETEX", "k", "x", "v") == NOT_INTEGER
    r.hset("list", "f", "x")
    assert r.setnx("list", "v") is False
    assert r.execute_command("SETEX", "list", 10, "v") is True
    assert r.get("list") == b"v"


# -- MGET / MSET -------------------------------------------------------------------------


def test_mget_mset_msetnx(r: redis.Redis) -> None:
    assert r.mset({"a": "1", "b": "2"}) is True
    r.hset("list", "f", "x")
    assert r.mget("a", "missing", "list", "b") == [b"1", None, None, b"2"]
    assert error_of(r, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"
    assert error_of(r, "MSETNX", "a", "1", "b") == "wrong number of arguments for 'msetnx' command"
    assert r.execute_command("MSET", "d", "1", "d", "2") is True
    assert r.get("d") == b"2"
    assert r.msetnx({"a": "9", "c": "3"}) is False
    assert r.get("a") == b"1" and r.exists("c") == 0
    assert r.msetnx({"c": "3", "e": "5"}) is True
    assert r.mget("c", "e") == [b"3", b"5"]
    r.expire("a", 100)
    r.mset({"a": "x"})
    assert r.ttl("a") == -1
    assert r.msetnx({"list": "v"}) is False


# -- GETSET / GETDEL / GETEX ----------------------------------------------------------------


def test_getset(r: redis.Redis) -> None:
    assert r.getset("k", "1") is None
    r.expire("k", 100)
    assert r.getset("k", "2") == b"1"
    assert r.ttl("k") == -1
    r.hset("list", "f", "x")
    assert error_of(r, "GETSET", "list", "v") == WRONGTYPE
    assert r.type("list") == b"hash"


def test_getdel(r: redis.Redis) -> None:
    assert r.getdel("missing") is None
    r.set("k", "v")
    assert r.getdel("k") == b"v"
    assert r.exists("k") == 0
    r.hset("list", "f", "x")
    assert error_of(r, "GETDEL", "list") == WRONGTYPE
    assert r.exists("list") == 1


def test_getex(r: redis.Redis) -> None:
    assert r.getex("missing", ex=10) is None
    r.set("k", "v")
    assert r.getex("k") == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", ex=100) == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.getex("k", px=5000) == b"v"
    assert 4000 <= r.pttl("k") <= 5000
    at = int(time.time()) + 1000
    assert r.getex("k", exat=at) == b"v"
    assert 998 <= r.ttl("k") <= 1000
    assert r.getex("k", pxat=at * 1000) == b"v"
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", persist=True) == b"v"
    # An absolute time in the past deletes the key after replying.
    assert r.getex("k", exat=1) == b"v"
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "PXAT", "1") == b"v"
    assert r.exists("k") == 0


def test_getex_errors(r: redis.Redis) -> None:
    r.set("k", "v")
    for args in (["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", "1", "PERSIST"], ["PERSIST", "EX", "1"], ["EX"], ["FOO"]):
        assert error_of(r, "GETEX", "k", *args) == SYNTAX, args
    assert error_of(r, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert error_of(r, "GETEX", "k", "EXAT", "-1") == "invalid expire time in 'getex' command"
    assert error_of(r, "GETEX", "k", "EX", "9223372036854776") == "invalid expire time in 'getex' command"
    assert error_of(r, "GETEX", "k", "EX", "x") == NOT_INTEGER
    # A missing key answers nil before the expire time is looked at; a wrong type errors first.
    assert r.execute_command("GETEX", "missing", "EX", "-1") is None
    r.hset("list", "f", "x")
    assert error_of(r, "GETEX", "list", "EX", "-1") == WRONGTYPE
    assert error_of(r, "GETEX", "list", "EX", "x") == WRONGTYPE
    assert r.ttl("k") == -1


# -- APPEND / STRLEN / ranges -----------------------------------------------------------------


def test_append_strlen(r: redis.Redis) -> None:
    assert r.strlen("k") == 0
    assert r.append("k", "hello") == 5
    r.expire("k", 100)
    assert r.append("k", b" \xffworld") == 12
    assert r.get("k") == b"hello \xffworld"
    assert r.strlen("k") == 12
    assert r.ttl("k") > 0
    assert r.append("k", "") == 12
    r.hset("list", "f", "x")
    assert error_of(r, "APPEND", "list", "v") == WRONGTYPE
    assert error_of(r, "STRLEN", "list") == WRONGTYPE
    r.set("n", 12)
    assert r.append("n", 3) == 3
    assert r.incr("n") == 124


def test_getrange_substr(r: redis.Redis) -> None:
    r.set("k", "Hello World")
    cases = {
        (0, 4): b"Hello", (-5, -1): b"World", (0, -1): b"Hello World", (6, 100): b"World",
        (100, 200): b"", (-100, 2): b"Hel", (5, 3): b"", (-1, -5): b"", (0, -100): b"H",
        (-100, -200): b"", (-200, -100): b"H", (3, 3): b"l",
    }
    for (start, end), expected in cases.items():
        assert r.getrange("k", start, end) == expected, (start, end)
        assert r.execute_command("SUBSTR", "k", start, end) == expected
    assert r.getrange("missing", 0, -1) == b""
    r.set("empty", "")
    assert r.getrange("empty", 0, -1) == b""
    assert error_of(r, "GETRANGE", "k", "a", "1") == NOT_INTEGER
    assert error_of(r, "GETRANGE", "missing", "0", "1.5") == NOT_INTEGER
    r.hset("list", "f", "x")
    assert error_of(r, "GETRANGE", "list", "0", "1") == WRONGTYPE
    assert r.getrange("k", -9223372036854775808, 9223372036854775807) == b"Hello World"


def test_setrange(r: redis.Redis) -> None:
    assert r.setrange("k", 0, "") == 0
    assert r.exists("k") == 0
    assert r.setrange("k", 3, "abc") == 6
    assert r.get("k") == b"\x00\x00\x00abc"
    r.expire("k", 100)
    assert r.setrange("k", 1, "XY") == 6
    assert r.get("k") == b"\x00XYabc"
    assert r.setrange("k", 5, "12345") == 10
    assert r.get("k") == b"\x00XYab12345"
    assert r.setrange("k", 12, "") == 10
    assert r.setrange("k", 12, "!") == 13
    assert r.get("k") == b"\x00XYab12345\x00\x00!"
    assert r.ttl("k") > 0
    assert error_of(r, "SETRANGE", "k", "-1", "x") == "offset is out of range"
    assert error_of(r, "SETRANGE", "k", "x", "x") == NOT_INTEGER
    too_big = "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert error_of(r, "SETRANGE", "k", "536870912", "x") == too_big
    assert error_of(r, "SETRANGE", "new", "536870911", "xy") == too_big
    assert r.exists("new") == 0
    r.hset("list", "f", "x")
    assert error_of(r, "SETRANGE", "list", "0", "") == WRONGTYPE
    assert error_of(r, "SETRANGE", "list", "0", "x") == WRONGTYPE


# -- counters --------------------------------------------------------------------------------


def test_incr_decr(r: redis.Redis) -> None:
    assert r.incr("k") == 1
    assert r.incrby("k", 10) == 11
    assert r.decr("k") == 10
    assert r.decrby("k", 20) == -10
    assert r.get("k") == b"-10"
    r.expire("k", 100)
    assert r.incr("k") == -9
    assert r.ttl("k") > 0
    r.set("big", "9223372036854775807")
    assert error_of(r, "INCR", "big") == "increment or decrement would overflow"
    r.set("small", "-9223372036854775808")
    assert error_of(r, "DECR", "small") == "increment or decrement would overflow"
    assert error_of(r, "INCRBY", "small", "-1") == "increment or decrement would overflow"
    assert r.incrby("small", "9223372036854775807") == -1
    assert error_of(r, "DECRBY", "k", "-9223372036854775808") == "decrement would overflow"
    assert r.decrby("k", "-9223372036854775807") == 9223372036854775798


@pytest.mark.parametrize("stored", [b"abc", b"1.5", b" 1", b"1 ", b"+1", b"01", b"-0", b"", b"9223372036854775808", b"1e3"])
def test_incr_on_non_integer(r: redis.Redis, stored: bytes) -> None:
    r.set("k", stored)
    assert error_of(r, "INCR", "k") == NOT_INTEGER
    assert r.get("k") == stored


def test_incr_errors(r: redis.Redis) -> None:
    r.hset("list", "f", "x")
    assert error_of(r, "INCR", "list") == WRONGTYPE
    assert error_of(r, "DECRBY", "list", "1") == WRONGTYPE
    # INCRBY parses its increment before looking the key up.
    assert error_of(r, "INCRBY", "list", "x") == NOT_INTEGER
    assert error_of(r, "INCRBY", "k", "1.5") == NOT_INTEGER
    assert error_of(r, "INCRBY", "k", "9223372036854775808") == NOT_INTEGER


INCRBYFLOAT_CASES = [
    (None, b"0.1", b"0.1"),
    (b"10.5", b"0.1", b"10.6"),
    (b"10", b"1", b"11"),
    (b"0.1", b"0.2", b"0.3"),
    (b"1.1", b"2.2", b"3.3"),
    (b"3.0e3", b"200", b"3200"),
    (b"5.0e3", b"2.0e2", b"5200"),
    (b"1", b"-1", b"0"),
    (b"-0.1", b"0.1", b"0"),
    (b"0", b"-0", b"0"),
    (None, b"1e-20", b"0"),
    (None, b"123456789.123456789", b"123456789.12345678899873747"),
    (b"0.3", b"1e-17", b"0.30000000000000001"),
    (b"0.3", b"1e-16", b"0.3000000000000001"),
    (b"9223372036854775807", b"1", b"9223372036854775808"),
    (b"0x10", b"1", b"17"),
    (None, b".5", b"0.5"),
    (None, b"5.", b"5"),
    (None, b"-3.7", b"-3.7"),
]


@pytest.mark.parametrize(("stored", "increment", "expected"), INCRBYFLOAT_CASES)
def test_incrbyfloat_texts(r: redis.Redis, stored: bytes | None, increment: bytes, expected: bytes) -> None:
    if stored is not None:
        r.set("k", stored)
    r.incrbyfloat("k", increment)  # type: ignore[arg-type]
    assert r.get("k") == expected


def test_incrbyfloat_errors_and_ttl(r: redis.Redis) -> None:
    r.set("k", "1.5")
    r.expire("k", 100)
    assert r.incrbyfloat("k", 1) == 2.5
    assert r.ttl("k") > 0
    for bad in ("abc", "", " 1", "1 ", "nan", "1.5.5", "1e", "--1"):
        assert error_of(r, "INCRBYFLOAT", "k", bad) == "value is not a valid float", bad
    assert error_of(r, "INCRBYFLOAT", "k", "inf") == "increment would produce NaN or Infinity"
    assert error_of(r, "INCRBYFLOAT", "k", "-inf") == "increment would produce NaN or Infinity"
    assert error_of(r, "INCRBYFLOAT", "k", "1e5000") == "value is not a valid float"
    r.set("big", "1e4932")
    assert error_of(r, "INCRBYFLOAT", "big", "1e4932") == "increment would produce NaN or Infinity"
    r.set("s", "abc")
    assert error_of(r, "INCRBYFLOAT", "s", "1") == "value is not a valid float"
    r.hset("list", "f", "x")
    # The type is checked before the increment is parsed.
    assert error_of(r, "INCRBYFLOAT", "list", "abc") == WRONGTYPE
    assert r.get("k") == b"2.5"


def random_float_text(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return b"%d" % rng.randint(-(10**19), 10**19)
    if kind == 1:
        return b"%.*f" % (rng.randint(0, 20), rng.uniform(-1000, 1000))
    if kind == 2:
        return b"%.*e" % (rng.randint(0, 18), rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30))
    if kind == 3:
        return rng.choice([b"0.1", b"0.2", b"0.3", b"-0.1", b"1.1", b"2.675", b"1e-5", b"3.14159", b"0.7", b"100.01"])
    if kind == 4:
        return b"%r" % rng.random()
    return b"%d.%d" % (rng.randint(0, 10**6), rng.randint(0, 10**6))


def test_incrbyfloat_differential(pair) -> None:
    embedded, real = pair()
    rng = random.Random(7)
    for step in range(400):
        key = b"f%d" % (step % 7)
        increment = random_float_text(rng)
        if rng.random() < 0.1:
            stored = random_float_text(rng)
            embedded.set(key, stored)
            real.set(key, stored)
        assert run(embedded, "INCRBYFLOAT", key, increment) == run(real, "INCRBYFLOAT", key, increment), increment
        assert embedded.get(key) == real.get(key), (step, increment)


EXTREME_FLOATS = [b"0x1p-3", b"0X.8", b"1e-4950", b"1e4932", b"-1e4932", b"1.18973149535723176502e+4932",
                  b"3.6e-4951", b"1e-4951", b"00012", b"+5", b"-.5e1", b"5e+", b"1_0", b"\x00", b"1\x00", b"infinity",
                  b"-Infinity", b"0.0000000000000000000001", b"1" + b"0" * 4500, b"0." + b"0" * 4500 + b"1"]


def test_incrbyfloat_extremes(pair) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.response_callbacks.clear()
    for stored in (None, b"1e4932", b"-1.1e4932", b"1", b"1e-4940"):
        for increment in EXTREME_FLOATS:
            for client in (embedded, real):
                if stored is None:
                    client.delete("f")
                else:
                    client.set("f", stored)
            expected = run(real, "INCRBYFLOAT", "f", increment)
            assert run(embedded, "INCRBYFLOAT", "f", increment) == expected, (stored, increment[:40])
            assert embedded.get("f") == real.get("f")


# -- LCS ----------------------------------------------------------------------------------


def test_lcs(r: redis.Redis) -> None:
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.execute_command("LCS", "a", "b") == b"mytext"
    assert r.execute_command("LCS", "a", "b", "LEN") == 6
    assert r.execute_command("LCS", "a", "missing") == b""
    assert r.execute_command("LCS", "missing", "b", "LEN") == 0
    assert error_of(r, "LCS", "a", "b", "LEN", "IDX") == "If you want both the length and indexes, please just use IDX."
    assert error_of(r, "LCS", "a", "b", "FOO") == SYNTAX
    assert error_of(r, "LCS", "a", "b", "MINMATCHLEN") == SYNTAX
    assert error_of(r, "LCS", "a", "b", "MINMATCHLEN", "x") == NOT_INTEGER
    r.hset("list", "f", "x")
    assert error_of(r, "LCS", "a", "list") == "The specified keys must contain string values"
    assert error_of(r, "LCS", "list", "b", "FOO") == "The specified keys must contain string values"


@pytest.mark.parametrize("protocol", [2, 3])
def test_lcs_idx(make_client, protocol: int) -> None:
    client = make_client(protocol=protocol)
    client.response_callbacks.clear()
    client.mset({"a": "ohmytext", "b": "mynewtext"})
    expected_matches = [[[4, 7], [5, 8]], [[2, 3], [0, 1]]]
    reply = client.execute_command("LCS", "a", "b", "IDX")
    if protocol == 3:
        assert reply == {b"matches": expected_matches, b"len": 6}
    else:
        assert reply == [b"matches", expected_matches, b"len", 6]
    reply = client.execute_command("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    matches = reply[b"matches"] if protocol == 3 else reply[1]
    assert matches == [[[4, 7], [5, 8], 4]]


def test_lcs_differential(pair) -> None:
    embedded, real = pair()
    rng = random.Random(11)
    for step in range(150):
        a = bytes(rng.choice(b"abc\xff") for _ in range(rng.randint(0, 30)))
        b = bytes(rng.choice(b"abc\xff") for _ in range(rng.randint(0, 30)))
        for client in (embedded, real):
            client.mset({"x": a, "y": b})
        options = rng.choice([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", str(rng.randint(-1, 4))]])
        assert run(embedded, "LCS", "x", "y", *options) == run(real, "LCS", "x", "y", *options), (step, a, b, options)


# -- encodings and helpers -------------------------------------------------------------------


def test_string_encoding_matches_redis(pair) -> None:
    _embedded, real = pair()
    values = [b"0", b"1", b"-1", b"123", b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
              b"01", b"-0", b"+1", b" 1", b"1.5", b"", b"a", b"x" * 44, b"x" * 45, b"1" * 20, b"1" * 21, b"\xff"]
    for value in values:
        real.set("k", value)
        assert string_encoding(value) == real.object("ENCODING", "k"), value


def test_get_range_helper() -> None:
    assert get_range(b"abc", 0, -1) == b"abc"
    assert get_range(b"", 0, 0) == b""


# -- WATCH ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("SET", "w", "x"), ("APPEND", "w", "x"), ("INCR", "n"), ("INCRBYFLOAT", "n", "1"), ("GETDEL", "w"),
     ("GETEX", "w", "EX", "10"), ("SETRANGE", "w", "0", "x"), ("MSET", "w", "1"), ("GETSET", "w", "1"),
     ("SETBIT", "w", "0", "1"), ("SETBIT", "w", "100", "0"), ("SETBIT", "n", "100", "0"),
     ("BITFIELD", "w", "SET", "u8", "0", "0"), ("BITFIELD", "w", "SET", "u8", "100", "0"), ("APPEND", "w", ""),
     ("SETRANGE", "w", "0", "v")],
)
def test_watch_is_touched(make_client, backend: str, command: tuple) -> None:
    skip_without_watch(backend)
    client = make_client()
    other = make_client()
    client.mset({"w": "v", "n": "1"})
    with client.pipeline() as pipe:
        pipe.watch(command[1])
        other.execute_command(*command)
        pipe.multi()
        pipe.get("w")
        with pytest.raises(redis.WatchError):
            pipe.execute()


@pytest.mark.parametrize("command", [("GET", "w"), ("GETEX", "w"), ("GETEX", "w", "PERSIST"), ("SETNX", "w", "1"),
                                     ("SETRANGE", "w", "0", ""), ("SET", "w", "x", "XX", "NX"), ("SETBIT", "w", "0", "0"),
                                     ("BITFIELD", "w", "GET", "u8", "0"), ("GETBIT", "w", "3"),
                                     ("BITFIELD", "w", "SET", "u8", "0", "118"),
                                     ("BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
                                     ("BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "9"),
                                     ("BITOP", "AND", "missing", "missing2")])
def test_watch_is_not_touched(make_client, backend: str, command: tuple) -> None:
    skip_without_watch(backend)
    client = make_client()
    other = make_client()
    client.set("w", "v")
    with client.pipeline() as pipe:
        pipe.watch("w")
        run(other, *command)
        pipe.multi()
        pipe.strlen("w")
        assert len(pipe.execute()) == 1


# -- differential ------------------------------------------------------------------------------

KEYS = [b"s1", b"s2", b"\xffbin", b"list", b"missing"]
VALUES = [b"", b"0", b"1", b"-1", b"10", b"3.5", b"abc", b"hello world", b"\xff\x00", b"9223372036854775807",
          b"-9223372036854775808", b"1e3", b" 1", b"01", b"x" * 50]
INTEGERS = [b"0", b"1", b"-1", b"2", b"5", b"-3", b"100", b"x", b"1.5", b"9223372036854775807", b"-9223372036854775808",
            b"9223372036854775808", b""]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"-100", b"100", b"a", b"9223372036854775807", b"-9223372036854775808"]
FLOATS = [b"0", b"1", b"-1", b"1.5", b"0.1", b"-0.5", b"1e2", b"inf", b"nan", b"x", b"1e400", b"0x1p3"]


def random_command(rng: random.Random) -> list[bytes]:
    key = rng.choice(KEYS)
    value = rng.choice(VALUES)
    integer = rng.choice(INTEGERS)
    # Relative expiry times long enough not to race between the two servers.
    ttl = rng.choice([b"100", b"100000", b"0", b"-1", b"x", b"1.5", b"9223372036854775807", b"9223372036854776"])
    options = [
        [b"SET", key, value, *rng.choice([[], [b"NX"], [b"XX"], [b"GET"], [b"EX", ttl], [b"PX", ttl],
                                          [b"KEEPTTL"], [b"NX", b"GET"], [b"XX", b"GET", b"EX", b"100"],
                                          [b"EXAT", integer], [b"GET", b"KEEPTTL"], [b"NX", b"XX"], [b"PERSIST"]])],
        [b"GET", key], [b"GETSET", key, value], [b"GETDEL", key],
        [b"GETEX", key, *rng.choice([[], [b"PERSIST"], [b"EX", ttl], [b"PX", ttl], [b"PXAT", integer], [b"NX"]])],
        [b"MGET", key, rng.choice(KEYS)], [b"MSET", key, value, rng.choice(KEYS), value],
        [b"MSETNX", key, value, rng.choice(KEYS), value], [b"SETNX", key, value],
        [b"SETEX", key, ttl, value], [b"PSETEX", key, ttl, value],
        [b"APPEND", key, value], [b"STRLEN", key],
        [b"INCR", key], [b"DECR", key], [b"INCRBY", key, integer], [b"DECRBY", key, integer],
        [b"INCRBYFLOAT", key, rng.choice(FLOATS)],
        [b"GETRANGE", key, rng.choice(INDEXES), rng.choice(INDEXES)],
        [b"SUBSTR", key, rng.choice(INDEXES), rng.choice(INDEXES)],
        [b"SETRANGE", key, rng.choice([b"0", b"1", b"3", b"-1", b"x", b"60"]), value],
        [b"LCS", key, rng.choice(KEYS), *rng.choice([[], [b"LEN"], [b"IDX"]])],
        [b"HSET", b"list", b"f", b"x"],
        [b"EXPIRE", key, b"100"], [b"PEXPIRE", key, b"1"],
        [b"TTL", key], [b"TYPE", key], [b"PERSIST", key],
    ]
    return rng.choice(options)


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_strings(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    embedded.response_callbacks.clear()
    real.response_callbacks.clear()
    rng = random.Random(4321 + protocol)
    commands = (random_command(rng) for _ in range(2000))
    # (a PEXPIRE's key expires on both before the next command)
    assert differential(embedded, real, commands, expiring=lambda command: command[0] == b"PEXPIRE") == 2000
    for key in KEYS:
        assert run(embedded, "GET", key) == run(real, "GET", key)


def test_size_limit_follows_proto_max_bulk_len(r: redis.Redis) -> None:
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        too_big = "string exceeds maximum allowed size (proto-max-bulk-len)"
        r.set("k", "x")
        assert error_of(r, "SETRANGE", "k", "1048576", "x") == too_big
        assert r.setrange("k", 1048575, "x") == 1048576
        assert error_of(r, "APPEND", "k", "y") == too_big
        assert error_of(r, "GETBIT", "k", "8388608") == "bit offset is not an integer or out of range"
        assert r.getbit("k", 8388607) == 0
        assert error_of(r, "BITFIELD", "k", "GET", "u8", "#1048576") == "bit offset is not an integer or out of range"
        r.set("a", "x" * 600)
        assert error_of(r, "LCS", "a", "a") == (
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    finally:
        r.config_set("proto-max-bulk-len", "512mb")
