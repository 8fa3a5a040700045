"""Generic keyspace commands on both backends, plus a differential run against real Redis."""

from __future__ import annotations

import random
import time

import pytest
import redis
from tests.helpers import error_of, run

BINARY = b"\xff\xfe\x00key"


# -- DEL UNLINK EXISTS TOUCH TYPE ---------------------------------------------------------


def test_del_unlink_exists_touch(r: redis.Redis) -> None:
    r.mset({"a": 1, "b": 2, "c": 3, BINARY: b"\x80"})
    assert r.exists("a", "a", "nokey", BINARY) == 3
    assert r.touch("a", "b", "nokey") == 2
    assert r.delete("a", "a", "nokey") == 1
    assert r.unlink("b", BINARY, "nokey") == 2
    assert r.exists("a", "b", BINARY) == 0
    assert r.exists("c") == 1
    assert error_of(r, "DEL") == "wrong number of arguments for 'del' command"
    assert error_of(r, "EXISTS") == "wrong number of arguments for 'exists' command"


def test_type_of_every_kind(r: redis.Redis) -> None:
    r.set("s", "v")
    r.rpush("l", "x")
    r.sadd("set", "x")
    r.hset("h", "f", "v")
    r.zadd("z", {"m": 1})
    assert [r.type(k) for k in ("s", "l", "set", "h", "z", "none")] == [
        b"string", b"list", b"set", b"hash", b"zset", b"none"]
    assert error_of(r, "TYPE", "a", "b") == "wrong number of arguments for 'type' command"


# -- RENAME COPY MOVE -----------------------------------------------------------------------


def test_rename(r: redis.Redis) -> None:
    r.set("src", "v", px=100000)
    r.set("dst", "old")
    assert r.rename("src", "dst") is True
    assert r.get("dst") == b"v" and r.exists("src") == 0
    assert 0 < r.pttl("dst") <= 100000
    r.set("plain", "p")
    r.set("withttl", "t", ex=100)
    r.rename("plain", "withttl")
    assert r.ttl("withttl") == -1
    assert error_of(r, "RENAME", "nokey", "x") == "no such key"
    assert r.rename("dst", "dst") is True
    assert error_of(r, "RENAME", "nokey", "nokey") == "no such key"
    r.rpush(BINARY, "a")
    r.rename(BINARY, b"\x81")
    assert r.lrange(b"\x81", 0, -1) == [b"a"]


def test_renamenx(r: redis.Redis) -> None:
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.renamenx("a", "a") is False
    assert r.renamenx("a", "c") is True
    assert r.get("c") == b"1" and r.get("b") == b"2" and r.exists("a") == 0
    assert error_of(r, "RENAMENX", "nokey", "x") == "no such key"


def test_copy_is_independent(r: redis.Redis) -> None:
    r.rpush("l", "a", "b")
    r.sadd("s", "a")
    r.hset("h", "f", "v")
    r.zadd("z", {"m": 1})
    r.set("str", "v", ex=1000)
    for key in ("l", "s", "h", "z", "str"):
        assert r.copy(key, key + "2") is True
    r.rpush("l", "c")
    r.sadd("s", "b")
    r.hset("h", "g", "w")
    r.zadd("z", {"n": 2})
    assert r.lrange("l2", 0, -1) == [b"a", b"b"]
    assert r.smembers("s2") == {b"a"}
    assert r.hgetall("h2") == {b"f": b"v"}
    assert r.zrange("z2", 0, -1) == [b"m"]
    assert 990 <= r.ttl("str2") <= 1000


def test_copy_options_and_errors(r: redis.Redis, make_client) -> None:
    r.set("a", "1")
    r.set("b", "2")
    assert r.copy("a", "b") is False
    assert r.copy("a", "b", replace=True) is True
    assert r.get("b") == b"1"
    assert r.copy("nokey", "x") is False
    assert r.copy("a", "a", destination_db=1) is True
    other = make_client(db=1)
    assert other.get("a") == b"1"
    assert r.execute_command("COPY", "a", "a", "db", "1") == 0
    assert r.execute_command("COPY", "a", "a", "DB", "1", "REPLACE") == 1
    assert error_of(r, "COPY", "a", "a") == "source and destination objects are the same"
    assert error_of(r, "COPY", "a", "a", "DB", "0") == "source and destination objects are the same"
    assert error_of(r, "COPY", "a", "c", "DB", "x") == "value is not an integer or out of range"
    assert error_of(r, "COPY", "a", "c", "DB", "16") == "DB index is out of range"
    assert error_of(r, "COPY", "a", "c", "DB", "-1") == "DB index is out of range"
    assert error_of(r, "COPY", "a", "c", "DB", "2147483648") == (
        "value is out of range, value must between -2147483648 and 2147483647")
    assert error_of(r, "COPY", "a", "c", "DB") == "syntax error"
    assert error_of(r, "COPY", "a", "c", "FOO") == "syntax error"
    assert error_of(r, "COPY", "a") == "wrong number of arguments for 'copy' command"


def test_move(r: redis.Redis, make_client) -> None:
    other = make_client(db=2)
    r.set("k", "v", ex=500)
    assert r.move("k", 2) is True
    assert r.exists("k") == 0
    assert other.get("k") == b"v" and 490 <= other.ttl("k") <= 500
    r.set("k", "again")
    assert r.move("k", 2) is False
    assert r.get("k") == b"again"
    assert r.move("nokey", 2) is False
    assert error_of(r, "MOVE", "k", "0") == "source and destination objects are the same"
    assert error_of(r, "MOVE", "k", "x") == "value is not an integer or out of range"
    assert error_of(r, "MOVE", "k", "16") == "DB index is out of range"
    assert error_of(r, "MOVE", "k", "-1") == "DB index is out of range"
    assert error_of(r, "MOVE", "k", "2147483648") == (
        "value is out of range, value must between -2147483648 and 2147483647")


# -- KEYS SCAN RANDOMKEY ------------------------------------------------------------------------

KEYS = [b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"", b"a*b", b"a?b", b"a[b", b"a\\b",
        b"-", b"^", b"]", b"\xff", b"\x80x", b"ab", b"aXb", b"a-b", b"a]b"]
PATTERNS = [b"*", b"h?llo", b"h*llo", b"h[ae]llo", b"h[^e]llo", b"h[a-b]llo", b"h[b-a]llo", b"a\\*b", b"a\\?b",
            b"a[\\[]b", b"a\\\\b", b"a[", b"a[b", b"[", b"[^", b"[]", b"[]]", b"[^]]", b"a[-]b", b"a[a-]b",
            b"\\", b"a\\", b"[\\]", b"[\\", b"**", b"*b", b"?", b"", b"[\x80-\xff]*", b"[a-\xff]", b"[\\-]",
            b"a[^X]b", b"a[X-]b", b"[-^]", b"*[", b"h**l*o", b"[\xff]", b"a[]-]b"]


def test_keys_patterns(pair) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.mset({key: b"1" for key in KEYS})
    for pattern in PATTERNS:
        assert sorted(embedded.keys(pattern)) == sorted(real.keys(pattern)), pattern


def test_keys_random_patterns(pair) -> None:
    embedded, real = pair()
    rng = random.Random(7)
    alphabet = b"ab*?[]^-\\\xff\x80"
    keys = {bytes(rng.choice(b"ab-]^\\*?[\xff\x80") for _ in range(rng.randint(1, 5))) for _ in range(150)}
    for client in (embedded, real):
        client.mset({key: b"1" for key in keys})
    for _ in range(300):
        pattern = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        assert sorted(embedded.keys(pattern)) == sorted(real.keys(pattern)), pattern


def test_keys_long_nested_stars_answer_at_once(r: redis.Redis) -> None:
    # Redis's regression test: a naive backtracking matcher takes exponential time here.
    r.set("a" * 40, 1)
    started = time.monotonic()
    assert r.keys("a*" * 20 + "b") == []
    assert r.keys("a*" * 20 + "a") == [b"a" * 40]
    assert time.monotonic() - started < 1


def test_ttl_type_and_exists_leave_the_access_time_alone(r: redis.Redis) -> None:
    r.set("foo", "bar")
    time.sleep(1.1)
    for command in (("TTL", "foo"), ("PTTL", "foo"), ("EXPIRETIME", "foo"), ("PEXPIRETIME", "foo"),
                    ("TYPE", "foo"), ("EXISTS", "foo")):
        r.execute_command(*command)
    assert r.object("idletime", "foo") >= 1
    r.touch("foo")
    assert r.object("idletime", "foo") == 0


def test_keys_basic(r: redis.Redis) -> None:
    r.mset({"one": 1, "two": 2, "three": 3, "four": 4})
    assert sorted(r.keys("*o*")) == [b"four", b"one", b"two"]
    assert sorted(r.keys("t??")) == [b"two"]
    assert r.keys("nomatch*") == []
    assert error_of(r, "KEYS") == "wrong number of arguments for 'keys' command"


def scan_all(client: redis.Redis, **kwargs: object) -> list[bytes]:
    """Run a full SCAN iteration and return every key it returned (with repetitions)."""
    found: list[bytes] = []
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor, **kwargs)
        found.extend(batch)
        if cursor == 0:
            return found


def test_scan_full_iteration(r: redis.Redis) -> None:
    keys = {b"key:%d" % i for i in range(300)} | {BINARY, b""}
    r.mset({key: b"v" for key in keys})
    assert set(scan_all(r, count=7)) == keys
    assert set(scan_all(r)) == keys
    assert set(scan_all(r, count=1000)) == keys
    assert set(scan_all(r, match="key:1?", count=5)) == {b"key:%d" % i for i in range(10, 20)}
    assert set(scan_all(r, match="*")) == keys


def test_scan_type_filter(r: redis.Redis) -> None:
    r.set("s", "v")
    r.rpush("l", "x")
    r.sadd("set", "x")
    r.hset("h", "f", "v")
    r.zadd("z", {"m": 1})
    for kind, key in (("string", b"s"), ("list", b"l"), ("set", b"set"), ("hash", b"h"), ("zset", b"z")):
        assert scan_all(r, _type=kind) == [key]
    assert scan_all(r, _type="STRING") == [b"s"]
    assert scan_all(r, _type="nosuchtype") == []


def test_scan_while_keyspace_changes(r: redis.Redis) -> None:
    stable = {b"stable:%d" % i for i in range(200)}
    r.mset({key: b"v" for key in stable})
    r.mset({b"doomed:%d" % i: b"v" for i in range(200)})
    found: set[bytes] = set()
    cursor, step = 0, 0
    while True:
        cursor, batch = r.scan(cursor, count=10)
        found.update(batch)
        r.delete(b"doomed:%d" % step)
        r.set(b"added:%d" % step, "v")
        step += 1
        if cursor == 0:
            break
    assert stable <= found
    assert not found - stable - {b"doomed:%d" % i for i in range(200)} - {b"added:%d" % i for i in range(step)}


def test_scan_cursor_parsing(r: redis.Redis) -> None:
    r.set("k", "v")
    for cursor in ("", "+5", "-1", "007", "18446744073709551615", "-18446744073709551615"):
        reply = r.execute_command("SCAN", cursor)
        assert isinstance(reply[1], list)
    for cursor in (" 1", "1 ", "18446744073709551616", "abc", "0x1", "1.5", "+", "-"):
        assert error_of(r, "SCAN", cursor) == "invalid cursor", cursor


def test_scan_option_errors(r: redis.Redis) -> None:
    assert error_of(r, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert error_of(r, "SCAN", "0", "COUNT", "-1") == "syntax error"
    assert error_of(r, "SCAN", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert error_of(r, "SCAN", "0", "MATCH") == "syntax error"
    assert error_of(r, "SCAN", "0", "TYPE") == "syntax error"
    assert error_of(r, "SCAN", "0", "FOO", "bar") == "syntax error"
    assert error_of(r, "SCAN", "x", "FOO") == "invalid cursor"
    assert error_of(r, "SCAN") == "wrong number of arguments for 'scan' command"


def test_randomkey(r: redis.Redis) -> None:
    assert r.randomkey() is None
    r.mset({"a": 1, "b": 2, BINARY: 3})
    seen = {r.randomkey() for _ in range(100)}
    assert seen <= {b"a", b"b", BINARY} and len(seen) >= 2
    assert error_of(r, "RANDOMKEY", "x") == "wrong number of arguments for 'randomkey' command"


# -- EXPIRE family -----------------------------------------------------------------------------


def test_expire_sets_ttl(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert r.ttl("k") == 100
    assert 99000 < r.pttl("k") <= 100000
    assert r.pexpire("k", 5000) is True
    assert 4000 < r.pttl("k") <= 5000
    when = int(time.time()) + 1000
    assert r.expireat("k", when) is True
    assert r.expiretime("k") == when
    assert r.pexpiretime("k") == when * 1000
    assert r.pexpireat("k", when * 1000 + 499) is True
    assert r.expiretime("k") == when
    assert r.pexpireat("k", when * 1000 + 500) is True
    assert r.expiretime("k") == when + 1
    assert r.expire("nokey", 10) is False
    assert r.ttl("nokey") == -2 and r.pttl("nokey") == -2
    assert r.expiretime("nokey") == -2 and r.pexpiretime("nokey") == -2
    r.set("plain", "v")
    assert r.ttl("plain") == -1 and r.pttl("plain") == -1
    assert r.expiretime("plain") == -1 and r.pexpiretime("plain") == -1


def test_expire_in_the_past_deletes(r: redis.Redis) -> None:
    for args in (("EXPIRE", "k", "0"), ("EXPIRE", "k", "-10"), ("PEXPIRE", "k", "-1"),
                 ("EXPIREAT", "k", "1"), ("PEXPIREAT", "k", "1000"), ("EXPIREAT", "k", "-5")):
        r.set("k", "v")
        assert r.execute_command(*args) == 1
        assert r.exists("k") == 0


def test_expire_options(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False
    assert r.expire("k", 100, gt=True) is False
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 200, xx=True) is True
    assert r.expire("k", 100, gt=True) is False
    assert r.expire("k", 300, gt=True) is True
    assert r.expire("k", 400, lt=True) is False
    assert r.expire("k", 50, lt=True) is True
    assert r.ttl("k") == 50
    r.set("p", "v")
    assert r.expire("p", 50, lt=True) is True
    assert r.execute_command("EXPIRE", "k", "60", "xx", "GT") == 1
    assert r.execute_command("PEXPIRE", "k", "1000", "XX", "LT") == 1
    assert r.execute_command("EXPIRE", "k", "0", "GT", "gt") == 0
    assert r.exists("k") == 1


def test_expire_errors(r: redis.Redis) -> None:
    r.set("k", "v")
    nx_error = "NX and XX, GT or LT options at the same time are not compatible"
    for options in (("NX", "XX"), ("NX", "GT"), ("LT", "NX")):
        assert error_of(r, "EXPIRE", "k", "10", *options) == nx_error
    assert error_of(r, "EXPIRE", "k", "10", "GT", "LT") == "GT and LT options at the same time are not compatible"
    assert error_of(r, "EXPIRE", "k", "10", "XX", "GT", "LT") == "GT and LT options at the same time are not compatible"
    assert error_of(r, "EXPIRE", "k", "10", "foo") == "Unsupported option foo"
    assert error_of(r, "EXPIRE", "k", "x", "NX", "XX") == nx_error
    assert error_of(r, "EXPIRE", "k", "x") == "value is not an integer or out of range"
    assert error_of(r, "EXPIRE", "k", "1.5") == "value is not an integer or out of range"
    assert error_of(r, "EXPIRE", "k", "9223372036854775807") == "invalid expire time in 'expire' command"
    assert error_of(r, "EXPIRE", "k", "9223372036854775") == "invalid expire time in 'expire' command"
    assert error_of(r, "EXPIRE", "k", "-9223372036854776") == "invalid expire time in 'expire' command"
    assert error_of(r, "PEXPIRE", "k", "9223372036854775807") == "invalid expire time in 'pexpire' command"
    assert error_of(r, "EXPIREAT", "k", "9223372036854775807") == "invalid expire time in 'expireat' command"
    assert error_of(r, "expireat", "k", "9223372036854776") == "invalid expire time in 'expireat' command"
    assert r.execute_command("PEXPIREAT", "k", "9223372036854775807") == 1
    assert r.exists("k") == 1
    assert error_of(r, "EXPIRE", "k") == "wrong number of arguments for 'expire' command"
    assert error_of(r, "TTL", "k", "x") == "wrong number of arguments for 'ttl' command"


def test_persist(r: redis.Redis) -> None:
    r.set("k", "v", ex=100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("nokey") is False


def test_set_without_keepttl_clears_expiry(r: redis.Redis) -> None:
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1


# -- whole databases ---------------------------------------------------------------------------


def test_dbsize_flushdb_flushall(r: redis.Redis, make_client) -> None:
    other = make_client(db=3)
    r.mset({"a": 1, "b": 2})
    other.set("c", 3)
    assert r.dbsize() == 2
    assert r.flushdb() is True
    assert r.dbsize() == 0 and other.dbsize() == 1
    r.set("a", 1)
    assert r.execute_command("FLUSHDB", "async") is True
    r.set("a", 1)
    assert r.execute_command("FLUSHDB", "SYNC") is True
    assert r.dbsize() == 0
    r.set("a", 1)
    assert r.execute_command("FLUSHALL", "ASYNC") is True
    assert r.dbsize() == 0 and other.dbsize() == 0
    assert r.flushall() is True
    for args in (("FLUSHDB", "foo"), ("FLUSHDB", "ASYNC", "SYNC"), ("FLUSHALL", "now"), ("FLUSHALL", "SYNC", "x")):
        assert error_of(r, *args) == "syntax error"
    assert error_of(r, "DBSIZE", "x") == "wrong number of arguments for 'dbsize' command"


def test_swapdb(r: redis.Redis, make_client) -> None:
    other = make_client(db=1)
    r.set("zero", "0", ex=100)
    other.rpush("one", "1")
    assert r.swapdb(0, 1) is True
    assert r.get("zero") is None and r.lrange("one", 0, -1) == [b"1"]
    assert other.get("zero") == b"0" and 90 <= other.ttl("zero") <= 100
    assert r.swapdb(1, 1) is True
    assert error_of(r, "SWAPDB", "x", "1") == "invalid first DB index"
    assert error_of(r, "SWAPDB", "0", "x") == "invalid second DB index"
    assert error_of(r, "SWAPDB", "2147483648", "1") == "invalid first DB index"
    assert error_of(r, "SWAPDB", "0", "16") == "DB index is out of range"
    assert error_of(r, "SWAPDB", "-1", "0") == "DB index is out of range"


# -- WATCH sees keyspace changes ----------------------------------------------------------------


def watch_then(client: redis.Redis, spoiler: redis.Redis, key: str, *command: object) -> list | None:
    """WATCH ``key``, run ``command`` from another client, then try a transaction."""
    client.execute_command("WATCH", key)
    spoiler.execute_command(*command)
    client.execute_command("MULTI")
    client.execute_command("PING")
    return client.execute_command("EXEC")


@pytest.mark.parametrize("command", [
    ("DEL", "w"), ("EXPIRE", "w", "100"), ("EXPIRE", "w", "0"), ("PERSIST", "w"), ("RENAME", "w", "w2"),
    ("RENAME", "other", "w"), ("COPY", "other", "w", "REPLACE"), ("MOVE", "w", "5"), ("FLUSHDB",), ("FLUSHALL",),
    ("SWAPDB", "0", "1"), ("PEXPIREAT", "w", "1"), ("SORT", "list", "STORE", "w"),
])
def test_watch_is_touched(make_client, command: tuple) -> None:
    client, spoiler = make_client(), make_client()
    client.set("w", "v", ex=1000)
    client.set("other", "o")
    client.rpush("list", "1")
    assert watch_then(client, spoiler, "w", *command) is None


@pytest.mark.parametrize("command", [
    ("DEL", "nokey"), ("EXPIRE", "nokey", "100"), ("PERSIST", "other"), ("EXISTS", "w"), ("TTL", "w"),
    ("SWAPDB", "2", "3"), ("SWAPDB", "0", "0"), ("COPY", "w", "w3"), ("FLUSHDB",),
])
def test_watch_is_not_touched(make_client, command: tuple) -> None:
    client, spoiler = make_client(), make_client()
    if command == ("FLUSHDB",):
        spoiler.execute_command("SELECT", "4")
    client.set("w", "v")
    client.set("other", "o")
    assert watch_then(client, spoiler, "w", *command) == [b"PONG"]


def test_swapdb_touches_watched_key_only_if_it_exists(make_client) -> None:
    client, spoiler = make_client(), make_client()
    assert watch_then(client, spoiler, "ghost", "SWAPDB", "0", "1") == [b"PONG"]
    spoiler.execute_command("SELECT", "1")
    spoiler.set("ghost", "appears")
    assert watch_then(client, spoiler, "ghost", "SWAPDB", "0", "1") is None


# -- differential ---------------------------------------------------------------------------------


def test_differential_keyspace(pair) -> None:
    embedded, real = pair()
    rng = random.Random(1234)
    keys = ["a", "b", "c", b"\xff\x01", "list", "set", "hash"]
    # Expiry times are far in the past or the future: a key expiring between the two backends' calls would race.
    numbers = ["0", "-1", "-100", "9223372036854775807", "-9223372036854775808", "x", "", "1.5", "99999999999999"]
    options = ["NX", "XX", "GT", "LT", "nx", "FOO"]

    def random_command() -> list:
        key, other = rng.choice(keys), rng.choice(keys)
        choice = rng.randrange(22)
        if choice == 0:
            return ["SET", key, rng.choice(["v", "w", b"\x00\xff"])]
        if choice == 1:
            return ["RPUSH", key, "x", "y"]
        if choice == 2:
            return ["SADD", key, "m"]
        if choice == 3:
            return ["HSET", key, "f", "v"]
        if choice == 4:
            return [rng.choice(["DEL", "UNLINK", "EXISTS", "TOUCH"]), *rng.sample(keys, rng.randint(1, 3))]
        if choice == 5:
            return ["TYPE", key]
        if choice == 6:
            return [rng.choice(["RENAME", "RENAMENX"]), key, other]
        if choice == 7:
            return ["COPY", key, other, *rng.choice([[], ["REPLACE"], ["DB", rng.choice(["0", "1", "16", "x"])], ["DB"]])]
        if choice == 8:
            return ["MOVE", key, rng.choice(["0", "1", "2", "-1", "x", "16"])]
        if choice in (9, 10, 11):
            command = rng.choice(["EXPIRE", "PEXPIRE"])
            amount = rng.choice(["100000", "5000000", *numbers])
            return [command, key, amount, *rng.sample(options, rng.randint(0, 2))]
        if choice == 12:
            command = rng.choice(["EXPIREAT", "PEXPIREAT"])
            base = int(time.time()) * (1000 if command == "PEXPIREAT" else 1)
            return [command, key, rng.choice([str(base + 100000), str(base - 10), *numbers]),
                    *rng.sample(options, rng.randint(0, 1))]
        if choice in (13, 14):
            return [rng.choice(["TTL", "PERSIST", "EXPIRETIME", "PEXPIRETIME"]), key]
        if choice == 15:
            return ["KEYS", rng.choice(["*", "?", "[ab]", "l*", "*\\*", "[^a]*"])]
        if choice == 16:
            return ["DBSIZE"]
        if choice == 17:
            return ["SWAPDB", rng.choice(["0", "1", "x", "16"]), rng.choice(["0", "1"])]
        if choice == 18:
            return ["SCAN", rng.choice(["0", "x", "-1", " 1"]), *rng.choice([[], ["COUNT", "1000"], ["COUNT", "0"], ["TYPE", "string", "COUNT", "1000"], ["MATCH"]])]
        if choice == 19:
            return ["FLUSHDB", *rng.choice([[], ["ASYNC"], ["bad"]])] if rng.random() < 0.2 else ["EXISTS", key]
        if choice == 20:
            return ["SELECT", rng.choice(["0", "1"])]
        return ["GET", key]

    def normalise(command: list, reply: object) -> object:
        if command[0] in ("KEYS",) and isinstance(reply, list):
            return sorted(reply)
        if command[0] == "SCAN" and isinstance(reply, tuple):
            # Cursors are implementation details: only a whole iteration from 0 is comparable.
            return sorted(reply[1]) if command[1] == "0" and reply[0] == 0 else "scanned"
        return reply

    history = []
    for _ in range(1500):
        command = random_command()
        history.append(command)
        mine, theirs = run(embedded, *command), run(real, *command)
        if command[0] in ("TTL", "EXPIRETIME", "PEXPIRETIME") and isinstance(mine, int) and mine > 0:
            # Both sides read their own clock: allow the milliseconds between the two calls.
            assert isinstance(theirs, int) and abs(mine - theirs) <= 50, command
            continue
        assert normalise(command, mine) == normalise(command, theirs), "\n".join(map(repr, history[-15:]))
