"""Hash commands on both backends, plus a differential run against real Redis."""

from __future__ import annotations

import random
import time

import pytest
import redis
from tests.helpers import error_of, raw_client, run

from redpocket.engine.longdouble import format_long_double_human, parse_long_double
from redpocket.engine.types.hash import hash_encoding

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture
def raw(make_client) -> redis.Redis:
    """A RESP2 client without response callbacks."""
    return raw_client(make_client)


def test_hset_counts_new_fields_and_updates_in_place(make_client) -> None:
    r = raw_client(make_client)
    assert r.execute_command("HSET", "h", "a", "1", "b", "2", "a", "3") == 2
    assert r.execute_command("HSET", "h", "b", "20", "c", "30") == 1
    assert r.hgetall("h") == [b"a", b"3", b"b", b"20", b"c", b"30"]
    assert r.execute_command("HMSET", "h", "d", "4") == b"OK"
    assert r.execute_command("HSET", "h", "d", "4") == 0
    assert r.execute_command("HLEN", "h") == 4


def test_hset_wrong_number_of_arguments(r: redis.Redis) -> None:
    assert error_of(r, "HSET", "h", "a", "1", "b") == "wrong number of arguments for 'hset' command"
    assert error_of(r, "HSET", "h", "a") == "wrong number of arguments for 'hset' command"
    assert error_of(r, "HMSET", "h", "a", "1", "b") == "wrong number of arguments for 'hmset' command"


def test_hsetnx(r: redis.Redis) -> None:
    assert r.hsetnx("h", "a", "1") == 1
    assert r.hsetnx("h", "a", "2") == 0
    assert r.hsetnx("h", "b", "2") == 1
    assert r.hget("h", "a") == b"1"


def test_hget_hmget(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hget("h", "a") == b"1"
    assert r.hget("h", "zz") is None
    assert r.hget("missing", "a") is None
    assert r.hmget("h", ["a", "zz", "b"]) == [b"1", None, b"2"]
    assert r.hmget("missing", ["a", "b"]) == [None, None]


def test_hgetall_order_follows_listpack(make_client) -> None:
    r = make_client(protocol=2)
    r.hset("h", mapping={"x": "1", "y": "2", "z": "3"})
    r.hdel("h", "x")
    r.hset("h", "x", "4")
    r.hset("h", "y", "5")
    assert list(r.hgetall("h").items()) == [(b"y", b"5"), (b"z", b"3"), (b"x", b"4")]
    assert r.hkeys("h") == [b"y", b"z", b"x"]
    assert r.hvals("h") == [b"5", b"3", b"4"]
    assert r.hgetall("missing") == {}


def test_hgetall_is_a_map_under_resp3(make_client) -> None:
    r = make_client(protocol=3)
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.execute_command("HGETALL", "h") == {b"a": b"1", b"b": b"2"}
    assert r.execute_command("HGETALL", "missing") == {}


def test_hdel_removes_empty_hash(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hdel("h", "a", "a", "zz") == 1
    assert r.hdel("missing", "a") == 0
    assert r.hdel("h", "b") == 1
    assert r.exists("h") == 0


def test_hexists_hlen_hstrlen_hkeys_hvals(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "hello", "b": ""})
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "zz") is False
    assert r.hexists("missing", "a") is False
    assert r.hlen("h") == 2
    assert r.hlen("missing") == 0
    assert r.hstrlen("h", "a") == 5
    assert r.hstrlen("h", "b") == 0
    assert r.hstrlen("h", "zz") == 0
    assert r.hstrlen("missing", "a") == 0
    assert r.hkeys("missing") == []
    assert r.hvals("missing") == []


def test_wrong_type(r: redis.Redis) -> None:
    r.sadd("s", "x")
    for args in (
        ("HSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"), ("HMSET", "s", "a", "1"), ("HGET", "s", "a"),
        ("HMGET", "s", "a"), ("HGETALL", "s"), ("HDEL", "s", "a"), ("HEXISTS", "s", "a"), ("HLEN", "s"),
        ("HKEYS", "s"), ("HVALS", "s"), ("HSTRLEN", "s", "a"), ("HINCRBY", "s", "a", "1"),
        ("HINCRBYFLOAT", "s", "a", "1"), ("HSCAN", "s", "0"), ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"),
    ):
        assert error_of(r, *args) == WRONGTYPE, args
    # The increment is parsed before the key is looked up.
    assert error_of(r, "HINCRBY", "s", "a", "x") == "value is not an integer or out of range"
    assert error_of(r, "HINCRBYFLOAT", "s", "a", "x") == "value is not a valid float"


def test_hincrby(r: redis.Redis) -> None:
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hget("h", "n") == b"-2"
    r.hset("h", mapping={"s": "abc", "z": "01", "big": "9223372036854775807"})
    assert error_of(r, "HINCRBY", "h", "s", "1") == "hash value is not an integer"
    assert error_of(r, "HINCRBY", "h", "z", "1") == "hash value is not an integer"
    assert error_of(r, "HINCRBY", "h", "n", "01") == "value is not an integer or out of range"
    assert error_of(r, "HINCRBY", "h", "n", "1.5") == "value is not an integer or out of range"
    assert error_of(r, "HINCRBY", "h", "big", "1") == "increment or decrement would overflow"
    assert r.hincrby("h", "low", -9223372036854775808) == -9223372036854775808
    assert error_of(r, "HINCRBY", "h", "low", "-1") == "increment or decrement would overflow"
    assert r.hincrby("h", "big", -1) == 9223372036854775806


@pytest.mark.parametrize(
    ("start", "increment", "expected"),
    [
        (None, "10.5", b"10.5"),
        (None, "0x10", b"16"),
        (None, "1e-17", b"0.00000000000000001"),
        (None, "-1e-30", b"0"),
        (None, "0x1p-3", b"0.125"),
        (None, "1.", b"1"),
        (None, ".5e1", b"5"),
        (None, "+.5", b"0.5"),
        ("16", "0.000003814697265625", b"16.00000381469726562"),
        ("0.1", "0.2", b"0.3"),
        ("5.0e3", "2.0e2", b"5200"),
        ("1", "9223372036854775807", b"9223372036854775808"),
        ("-3.5", "1", b"-2.5"),
        ("1e-17", "-1e-17", b"0"),
        ("0", "1e-4940", b"0"),
        (
            None,
            "1.5e308",
            b"149999999999999999999901476489468468031016840965060944967133685421180106066691046036756664728216022"
            b"031902928370522024964340854582506645209487860806577896175175227643677561112877760303256738896516844"
            b"124921428435196017215141331511736789270744288327321353040504243421434090049846615188904452633296864"
            b"511849922560",
        ),
    ],
)
def test_hincrbyfloat_matches_long_double(raw: redis.Redis, start: str | None, increment: str, expected: bytes) -> None:
    if start is not None:
        raw.hset("h", "f", start)
    assert raw.execute_command("HINCRBYFLOAT", "h", "f", increment) == expected
    assert raw.hget("h", "f") == expected


def test_hincrbyfloat_errors(r: redis.Redis) -> None:
    r.hset("h", mapping={"s": "abc", "inf": "inf", "sp": " 1", "nul": b"1\x00"})
    assert error_of(r, "HINCRBYFLOAT", "h", "f", "inf") == "value is NaN or Infinity"
    assert error_of(r, "HINCRBYFLOAT", "h", "f", "-infinity") == "value is NaN or Infinity"
    for bad in ("nan", " 1", "1e", "", "1e5000", "1e-5000", "abc", "0x", b"1\x00", "1 "):
        assert error_of(r, "HINCRBYFLOAT", "h", "f", bad) == "value is not a valid float", bad
    for field in ("s", "sp", "nul"):
        assert error_of(r, "HINCRBYFLOAT", "h", field, "1") == "hash value is not a float"
    assert error_of(r, "HINCRBYFLOAT", "h", "inf", "1") == "increment would produce NaN or Infinity"
    assert r.hexists("h", "f") is False


def test_hscan_returns_everything_with_cursor_zero(r: redis.Redis) -> None:
    r.hset("h", mapping={"a1": "1", "a2": "2", "b1": "3"})
    assert r.hscan("h", 0) == (0, {b"a1": b"1", b"a2": b"2", b"b1": b"3"})
    assert r.hscan("h", 0, match="a*", count=1) == (0, {b"a1": b"1", b"a2": b"2"})
    assert r.hscan("h", 0, match="?1") == (0, {b"a1": b"1", b"b1": b"3"})
    assert r.hscan("h", 0, match="[b]*") == (0, {b"b1": b"3"})
    assert r.hscan("missing", 0) == (0, {})
    for cursor in ("5", "-1", "18446744073709551615", "+3", "007"):
        assert r.execute_command("HSCAN", "h", cursor, "MATCH", "b*")[1] in ([b"b1", b"3"], {b"b1": b"3"})


def test_hscan_errors(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    for cursor in ("x", "18446744073709551616", "-", " 1", "1.5"):
        assert error_of(r, "HSCAN", "h", cursor) == "invalid cursor", cursor
    assert error_of(r, "HSCAN", "missing", "x") == "invalid cursor"
    assert error_of(r, "HSCAN", "h", "0", "COUNT", "0") == "syntax error"
    assert error_of(r, "HSCAN", "h", "0", "COUNT", "-1") == "syntax error"
    assert error_of(r, "HSCAN", "h", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert error_of(r, "HSCAN", "h", "0", "MATCH") == "syntax error"
    assert error_of(r, "HSCAN", "h", "0", "NOVALUES") == "syntax error"
    assert error_of(r, "HSCAN", "h", "0", "TYPE", "string") == "syntax error"
    # Options of a missing key are never read.
    assert r.execute_command("HSCAN", "missing", "0", "COUNT", "0") in ([b"0", []], (0, {}))


def test_hrandfield_properties(r: redis.Redis) -> None:
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(10)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    assert r.hrandfield("missing") is None
    picked = r.hrandfield("h", 5)
    assert len(picked) == 5 and len(set(picked)) == 5 and set(picked) <= set(fields)
    assert sorted(r.hrandfield("h", 50)) == sorted(fields)
    repeated = r.hrandfield("h", -30)
    assert len(repeated) == 30 and set(repeated) <= set(fields)
    assert r.hrandfield("h", 0) == []
    assert r.hrandfield("missing", 5) == []
    assert r.hrandfield("missing", -5) == []


@pytest.mark.parametrize("protocol", [2, 3])
def test_hrandfield_withvalues_shape(make_client, protocol: int) -> None:
    r = make_client(protocol=protocol)
    fields = {b"a": b"1", b"b": b"2", b"c": b"3"}
    r.hset("h", mapping=fields)
    for count in (1, 2, 3, 10, -1, -7):
        reply = r.execute_command("HRANDFIELD", "h", count, "WITHVALUES")
        pairs = [tuple(p) for p in reply] if protocol == 3 else list(zip(reply[::2], reply[1::2], strict=True))
        assert len(pairs) == (abs(count) if count < 0 else min(count, 3))
        assert all(fields[f] == v for f, v in pairs)
        if count > 0:
            assert len({f for f, _ in pairs}) == len(pairs)
    assert r.execute_command("HRANDFIELD", "h", 10, "WITHVALUES") == (
        [[b"a", b"1"], [b"b", b"2"], [b"c", b"3"]] if protocol == 3 else [b"a", b"1", b"b", b"2", b"c", b"3"]
    )
    assert r.execute_command("HRANDFIELD", "h", 0, "WITHVALUES") == []


def test_hrandfield_errors(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    assert error_of(r, "HRANDFIELD", "h", "x") == "value is not an integer or out of range"
    assert error_of(r, "HRANDFIELD", "h", "1", "WITHVALUE") == "syntax error"
    assert error_of(r, "HRANDFIELD", "h", "1", "WITHVALUES", "x") == "syntax error"
    assert error_of(r, "HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == "value is out of range"
    assert error_of(r, "HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES") == "value is out of range"
    assert error_of(r, "HRANDFIELD", "h", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )
    assert len(r.execute_command("HRANDFIELD", "h", "4611686018427387903", "withvalues")) in (1, 2)


def test_binary_fields_and_values(r: redis.Redis) -> None:
    field, value = b"\xff\x00\xfe", b"\x80\x81\r\n"
    assert r.hset(b"\xc3\x28", field, value) == 1
    assert r.hget(b"\xc3\x28", field) == value
    assert r.hgetall(b"\xc3\x28") == {field: value}
    assert r.hscan(b"\xc3\x28", 0, match=b"\xff*") == (0, {field: value})


def test_expired_hash_is_gone(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    r.pexpire("h", 20)
    time.sleep(0.05)
    assert r.hget("h", "a") is None
    assert r.hlen("h") == 0
    assert r.hset("h", "b", "2") == 1
    assert r.ttl("h") == -1


def test_hash_encoding() -> None:
    from redpocket.engine.config import Config

    config = Config()
    assert hash_encoding({b"a": b"1"}, config) == "listpack"
    assert hash_encoding({b"a": b"x" * 65}, config) == "hashtable"
    assert hash_encoding({b"a" * 65: b"1"}, config) == "hashtable"
    entries = int(config.get("hash-max-listpack-entries"))
    assert hash_encoding({str(i).encode(): b"" for i in range(entries + 1)}, config) == "hashtable"
    assert hash_encoding({str(i).encode(): b"" for i in range(entries)}, config) == "listpack"


@pytest.mark.parametrize(
    "commands",
    [
        [("HSET", "h", "f", "x" * 65), ("HSET", "h", "f", "short")],  # a long value replaced
        [("HSET", "h", "f", "x" * 65, "f", "short")],  # replaced in the same command: converted up front
        [("HMSET", "h", "g", "y" * 70, "g", "1")],
        [("HSET", "h", "a", "1", "f" * 65, "2"), ("HDEL", "h", "f" * 65)],  # the long field deleted
        [("HSET", "h", "ENTRIES+1"), ("HDEL", "h", "0", "1")],  # back under hash-max-listpack-entries
        [("HSET", "h", "f", "1" * 65), ("HINCRBYFLOAT", "h", "f", "1")],
        [("HSET", "h", "a", "1"), ("HSET", "h", "a", "2"), ("HDEL", "h", "a"), ("HSET", "h", "b", "3")],  # stays small
    ],
)
def test_a_hash_converted_to_hashtable_stays_one(r: redis.Redis, commands: list[tuple[str, ...]]) -> None:
    entries = int(r.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"])
    for command in commands:
        if command[-1] == "ENTRIES+1":
            command = (*command[:-1], *[str(i // 2) for i in range(2 * (entries + 1))])
        r.execute_command(*command)
    expected = "listpack" if commands[0][2] == "a" and len(commands) == 4 else "hashtable"
    assert r.object("encoding", "h") in (expected, expected.encode())
    r.rename("h", "h2")  # the encoding goes with the key
    assert r.object("encoding", "h2") in (expected, expected.encode())


def test_long_double_helpers() -> None:
    assert parse_long_double(b"0x1.8p1") == 3
    assert parse_long_double(b"nan") is None
    assert parse_long_double(b"") is None
    assert format_long_double_human(parse_long_double(b"-0.0")) == b"0"  # type: ignore[arg-type]
    assert format_long_double_human(float("inf")) == b"inf"


# -- differential ---------------------------------------------------------------

FIELDS = [b"a", b"b", b"c", b"n", b"x\xff"]
VALUES = [b"1", b"-3", b"0", b"abc", b"1.5", b"10e2", b"", b"9223372036854775807", b"\xfe\x00", b" 2"]
NUMBERS = [b"1", b"-1", b"0", b"5", b"x", b"1.5", b"9223372036854775807", b"-9223372036854775808", b"01", b""]
FLOATS = [b"1", b"0.1", b"-2.5", b"1e3", b"0x10", b"inf", b"nan", b"x", b"3.0e-5", b"-0", b"1e400", b"123456789.123456789"]


def random_command(rng: random.Random) -> list[bytes]:
    key = rng.choice([b"h1", b"h2", b"s1", b"missing"])
    field = rng.choice(FIELDS)
    kind = rng.randrange(20)
    if kind < 4:
        pairs: list[bytes] = []
        for _ in range(rng.randint(1, 3)):
            pairs += [rng.choice(FIELDS), rng.choice(VALUES)]
        if rng.random() < 0.05:
            pairs.pop()
        return [rng.choice([b"HSET", b"HMSET"]), key, *pairs]
    options: list[list[bytes]] = [
        [b"HSETNX", key, field, rng.choice(VALUES)],
        [b"HGET", key, field],
        [b"HMGET", key, field, rng.choice(FIELDS)],
        [b"HGETALL", key],
        [b"HDEL", key, field, rng.choice(FIELDS)],
        [b"HEXISTS", key, field],
        [b"HLEN", key],
        [b"HKEYS", key],
        [b"HVALS", key],
        [b"HSTRLEN", key, field],
        [b"HINCRBY", key, field, rng.choice(NUMBERS)],
        [b"HINCRBYFLOAT", key, field, rng.choice(FLOATS)],
        [b"HSCAN", key, rng.choice([b"0", b"7", b"x"]), b"MATCH", rng.choice([b"*", b"[a-c]", b"x?", b"*\xff"])],
        [b"HRANDFIELD", key, rng.choice([b"0", b"100", b"-0"]), b"WITHVALUES"],
        [b"SADD", key, field],
        [b"PEXPIRE", key, rng.choice([b"1", b"100000"])],
    ]
    return rng.choice(options)


def unordered(reply: object) -> object:
    """Sort a reply's elements, for hashes Redis keeps in a hash table (its order is not reproducible)."""
    if isinstance(reply, dict):
        return sorted(reply.items())
    if isinstance(reply, list):
        if reply and isinstance(reply[0], list):
            return sorted(unordered(item) for item in reply)  # type: ignore[type-var]
        if len(reply) == 2 and isinstance(reply[1], list):
            return [reply[0], sorted(zip(reply[1][::2], reply[1][1::2], strict=True))]
        return sorted(reply)
    return reply


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_against_redis(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    embedded.response_callbacks.clear()
    real.response_callbacks.clear()
    rng = random.Random(1234 + protocol)
    for step in range(1500):
        command = random_command(rng)
        if command[0] == b"PEXPIRE" and command[2] == b"1":
            # Let the key expire on both before the next command.
            assert run(embedded, *command) == run(real, *command)
            time.sleep(0.003)
            continue
        expected = run(real, *command)
        got = run(embedded, *command)
        if got != expected and run(real, "OBJECT", "ENCODING", command[1]) == b"hashtable":
            if command[0] == b"HSCAN":
                continue  # a hash table scan's cursors and batches are Redis's own
            got, expected = unordered(got), unordered(expected)
        assert got == expected, (step, command)


def random_float_text(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return b"%d" % rng.randint(-(10**20), 10**20)
    if kind == 1:
        return b"%.*f" % (rng.randint(0, 25), rng.uniform(-1000, 1000))
    if kind == 2:
        return b"%.*e" % (rng.randint(0, 20), rng.uniform(-10, 10) * 10 ** rng.randint(-30, 30))
    return b"0x%x.%xp%d" % (rng.getrandbits(40), rng.getrandbits(20), rng.randint(-70, 70))


def test_long_double_arithmetic_against_redis(pair) -> None:
    embedded, real = pair(protocol=2)
    rng = random.Random(77)
    for step in range(400):
        field = b"f%d" % rng.randrange(8)
        command = [b"HINCRBYFLOAT", b"h", field, random_float_text(rng)]
        assert run(embedded, *command) == run(real, *command), (step, command)
