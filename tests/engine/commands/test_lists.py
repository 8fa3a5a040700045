"""List commands (non-blocking) on both backends, plus a differential run against redis-server."""

from __future__ import annotations

import random
import socket
import time
from collections import deque
from typing import Any

import pytest
import redis
from tests.conftest import RedisServer
from tests.helpers import error_of, run

from redpocket.engine import Engine
from redpocket.engine.commands.lists import list_encoding, parse_timeout
from redpocket.engine.replies import NULL_ARRAY, ReplyError

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
RANK_ZERO = (
    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)


# -- pushes ------------------------------------------------------------------------


def test_push_order_and_length(r: redis.Redis) -> None:
    assert r.rpush("l", "a", "b") == 2
    assert r.lpush("l", "x", "y") == 4
    assert r.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b"]
    assert r.llen("l") == 4
    assert r.llen("missing") == 0


def test_pushx_only_existing(r: redis.Redis) -> None:
    assert r.lpushx("l", "a") == 0
    assert r.rpushx("l", "a", "b") == 0
    assert r.exists("l") == 0
    r.rpush("l", "m")
    assert r.lpushx("l", "a", "b") == 3
    assert r.rpushx("l", "y", "z") == 5
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"y", b"z"]


def test_binary_keys_and_values(r: redis.Redis) -> None:
    key, value = b"\xff\x00key", b"\x80\xfe\r\n\x00"
    r.rpush(key, value, b"plain")
    assert r.lrange(key, 0, -1) == [value, b"plain"]
    assert r.lpos(key, value) == 0
    assert r.lpop(key) == value
    assert r.lmove(key, b"\xc3\x28", "LEFT", "RIGHT") == b"plain"
    assert r.lrange(b"\xc3\x28", 0, -1) == [b"plain"]


def test_wrong_type_everywhere(r: redis.Redis) -> None:
    r.set("s", "x")
    r.rpush("l", "a")
    for args in [
        ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s"), ("LPOP", "s", 0), ("LLEN", "s"), ("LRANGE", "s", 0, -1),
        ("LINDEX", "s", 0), ("LINDEX", "s", "notanumber"), ("LSET", "s", 0, "x"), ("LSET", "s", "x", "x"),
        ("LINSERT", "s", "BEFORE", "a", "b"), ("LREM", "s", 0, "a"), ("LTRIM", "s", 0, 1),
        ("LPOS", "s", "a"), ("LMOVE", "s", "l", "LEFT", "LEFT"), ("LMOVE", "l", "s", "LEFT", "LEFT"),
        ("RPOPLPUSH", "l", "s"), ("LMPOP", 2, "missing", "s", "LEFT"),
    ]:
        assert error_of(r, *args) == WRONGTYPE, args
    assert r.lrange("l", 0, -1) == [b"a"]
    assert r.get("s") == b"x"


# -- pops --------------------------------------------------------------------------


def test_pop_single(r: redis.Redis) -> None:
    assert r.lpop("l") is None
    r.rpush("l", "a", "b", "c")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"c"
    assert r.rpop("l") == b"b"
    assert r.exists("l") == 0


def test_pop_with_count(r: redis.Redis) -> None:
    assert r.lpop("l", 2) is None
    assert r.execute_command("LPOP", "l", 0) is None
    r.rpush("l", "a", "b", "c", "d")
    assert r.execute_command("LPOP", "l", 0) == []
    assert r.lpop("l", 2) == [b"a", b"b"]
    assert r.rpop("l", 5) == [b"d", b"c"]
    assert r.exists("l") == 0
    r.rpush("l", "a", "b", "c")
    assert r.rpop("l", 2) == [b"c", b"b"]
    assert r.lpop("l", 9223372036854775807) == [b"a"]


@pytest.mark.parametrize("count", ["-1", "abc", "9223372036854775808", "1.5", " 1"])
def test_pop_bad_count(r: redis.Redis, count: str) -> None:
    assert error_of(r, "LPOP", "l", count) == "value is out of range, must be positive"
    r.set("s", "x")  # the count is checked before the key
    assert error_of(r, "RPOP", "s", count) == "value is out of range, must be positive"


def test_pop_arity(r: redis.Redis) -> None:
    assert error_of(r, "LPOP", "l", 1, 2) == "wrong number of arguments for 'lpop' command"
    assert error_of(r, "RPOP", "l", 1, 2) == "wrong number of arguments for 'rpop' command"
    assert error_of(r, "LPOP") == "wrong number of arguments for 'lpop' command"


def test_pop_shapes_both_protocols(make_client) -> None:
    for protocol in (2, 3):
        client = make_client(protocol=protocol)
        client.delete("l")
        assert client.lpop("l") is None
        assert client.lpop("l", 3) is None
        client.rpush("l", "a")
        assert client.lpop("l", 3) == [b"a"]
        assert client.lmpop(1, "l", direction="LEFT") is None


# -- reads -------------------------------------------------------------------------


def test_lrange_ranges(r: redis.Redis) -> None:
    values = [str(i).encode() for i in range(10)]
    r.rpush("l", *values)
    cases = [(0, -1), (2, 4), (-3, -1), (-100, 100), (5, 1), (10, 20), (-1, -2), (0, 0), (-10, -10),
             (9, 9), (7, 1000), (-9223372036854775808, 9223372036854775807), (3, -8), (6, 8)]
    for start, end in cases:
        expected = values[max(start if start >= 0 else 10 + start, 0):(end if end >= 0 else 10 + end) + 1]
        assert r.lrange("l", start, end) == expected, (start, end)
    assert r.lrange("missing", 0, -1) == []
    assert error_of(r, "LRANGE", "missing", "a", 0) == "value is not an integer or out of range"
    assert error_of(r, "LRANGE", "l", 0, "1.0") == "value is not an integer or out of range"


def test_lindex(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "c")
    assert [r.lindex("l", i) for i in (0, 1, 2, 3, -1, -3, -4)] == [b"a", b"b", b"c", None, b"c", b"a", None]
    assert r.lindex("l", -9223372036854775808) is None
    assert r.lindex("missing", 0) is None
    assert r.lindex("missing", "notanumber") is None  # the key is looked up first
    assert error_of(r, "LINDEX", "l", "x") == "value is not an integer or out of range"


def test_lpos_basic(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "zz") is None
    assert r.lpos("l", "c", rank=2) == 6
    assert r.lpos("l", "c", rank=-1) == 7
    assert r.lpos("l", "c", rank=-3) == 2
    assert r.lpos("l", "c", rank=4) is None
    assert r.lpos("l", "c", count=2) == [2, 6]
    assert r.lpos("l", "c", count=0) == [2, 6, 7]
    assert r.lpos("l", "c", rank=-1, count=2) == [7, 6]
    assert r.lpos("l", "c", rank=2, count=0) == [6, 7]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "c", maxlen=3) == 2
    assert r.lpos("l", "c", rank=-1, maxlen=1, count=0) == [7]
    assert r.lpos("l", "zz", count=0) == []
    assert r.lpos("missing", "a") is None
    assert r.lpos("missing", "a", count=0) == []


def test_lpos_extreme_ranks(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "a", "c", "a")
    # Redis negates LLONG_MIN in place: every match counts, from the tail.
    assert r.execute_command("LPOS", "l", "a", "RANK", "-9223372036854775808") == 4
    assert r.execute_command("LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", 1) == [4, 2, 0]
    assert r.execute_command("LPOS", "l", "a", "RANK", "-9223372036854775807") is None
    assert r.execute_command("LPOS", "l", "a", "RANK", "9223372036854775807", "COUNT", 0) == []
    assert r.execute_command("LPOS", "l", "a", "RANK", 2, "RANK", -1) == 4  # the last one wins
    assert r.execute_command("LPOS", "l", "a", "COUNT", 1, "COUNT", 0) == [0, 2, 4]


def test_lpos_errors(r: redis.Redis) -> None:
    r.rpush("l", "a")
    r.set("s", "x")
    for key in ("l", "missing", "s"):  # options are checked before the key
        assert error_of(r, "LPOS", key, "a", "RANK", 0) == RANK_ZERO
    assert error_of(r, "LPOS", "l", "a", "RANK", "x") == "value is not an integer or out of range"
    assert error_of(r, "LPOS", "l", "a", "COUNT", -1) == "COUNT can't be negative"
    assert error_of(r, "LPOS", "l", "a", "COUNT", "x") == "COUNT can't be negative"
    assert error_of(r, "LPOS", "l", "a", "MAXLEN", -1) == "MAXLEN can't be negative"
    assert error_of(r, "LPOS", "l", "a", "MAXLEN", "1e3") == "MAXLEN can't be negative"
    assert error_of(r, "LPOS", "l", "a", "RANK") == "syntax error"
    assert error_of(r, "LPOS", "l", "a", "FOO", 1) == "syntax error"
    assert error_of(r, "LPOS", "l", "a", "COUNT", 1, "MAXLEN") == "syntax error"


# -- in-place changes ------------------------------------------------------------------


def test_lset(r: redis.Redis) -> None:
    assert error_of(r, "LSET", "missing", 0, "x") == "no such key"
    assert error_of(r, "LSET", "missing", "notanumber", "x") == "no such key"
    r.rpush("l", "a", "b", "c")
    assert r.lset("l", 1, "B") is True
    assert r.lset("l", -1, "C") is True
    assert r.lset("l", -3, "A") is True
    assert r.lrange("l", 0, -1) == [b"A", b"B", b"C"]
    assert error_of(r, "LSET", "l", 3, "x") == "index out of range"
    assert error_of(r, "LSET", "l", -4, "x") == "index out of range"
    assert error_of(r, "LSET", "l", "x", "x") == "value is not an integer or out of range"


def test_linsert(r: redis.Redis) -> None:
    assert r.linsert("missing", "BEFORE", "a", "b") == 0
    assert error_of(r, "LINSERT", "missing", "MIDDLE", "a", "b") == "syntax error"
    r.rpush("l", "a", "b", "a")
    assert r.linsert("l", "before", "a", "x") == 4
    assert r.linsert("l", "AFTER", "a", "y") == 5
    assert r.linsert("l", "after", "b", "z") == 6
    assert r.linsert("l", "BEFORE", "nope", "q") == -1
    assert r.lrange("l", 0, -1) == [b"x", b"a", b"y", b"b", b"z", b"a"]
    r.set("s", "x")
    assert error_of(r, "LINSERT", "s", "MIDDLE", "a", "b") == "syntax error"


@pytest.mark.parametrize(
    ("count", "expected", "removed"),
    [
        (0, "bcd", 5), (1, "bacadaa", 1), (2, "bcadaa", 2), (-1, "abacada", 1), (-2, "abacad", 2),
        (4, "bcda", 4), (-4, "abcd", 4), (5, "bcd", 5), (100, "bcd", 5), (-100, "bcd", 5),
        (-9223372036854775808, "bcd", 5),
    ],
)
def test_lrem(r: redis.Redis, count: int, expected: str, removed: int) -> None:
    r.rpush("l", *"abacadaa")
    assert r.lrem("l", count, "a") == removed
    assert r.lrange("l", 0, -1) == [c.encode() for c in expected]


def test_lrem_many_and_empty(r: redis.Redis) -> None:
    values = ["x" if i % 3 == 0 else str(i) for i in range(200)]
    r.rpush("l", *values)
    assert r.lrem("l", 30, "x") == 30
    assert r.lrem("l", -20, "x") == 20
    rest = [v for v in values if v != "x"]
    xs = [i for i, v in enumerate(values) if v == "x"][30:-20]
    assert r.lrange("l", 0, -1) == [v.encode() for i, v in enumerate(values) if v != "x" or i in xs]
    assert r.lrem("l", 0, "x") == len(xs)
    assert r.llen("l") == len(rest)
    assert r.lrem("l", 0, "nope") == 0
    r.rpush("one", "a", "a")
    assert r.lrem("one", 0, "a") == 2
    assert r.exists("one") == 0
    assert r.lrem("missing", 0, "a") == 0
    assert error_of(r, "LREM", "missing", "x", "a") == "value is not an integer or out of range"


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, -1), (1, 2), (-2, -1), (0, 0), (5, 1), (20, 30), (-100, 100), (-100, -50), (1, -1), (0, 7), (2, 9),
     (9223372036854775807, -9223372036854775808), (-9223372036854775808, 9223372036854775807)],
)
def test_ltrim(r: redis.Redis, start: int, end: int) -> None:
    values = [str(i).encode() for i in range(10)]
    r.rpush("l", *values)
    expected = r.lrange("l", start, end)
    assert r.ltrim("l", start, end) is True
    assert r.lrange("l", 0, -1) == expected
    assert r.exists("l") == (1 if expected else 0)


def test_ltrim_missing_and_errors(r: redis.Redis) -> None:
    assert r.ltrim("missing", 0, 1) is True
    assert error_of(r, "LTRIM", "missing", "a", 0) == "value is not an integer or out of range"
    assert error_of(r, "LTRIM", "missing", 0, "b") == "value is not an integer or out of range"


def test_capped_list_idiom(r: redis.Redis) -> None:
    for i in range(50):
        r.lpush("log", i)
        r.ltrim("log", 0, 9)
    assert r.lrange("log", 0, -1) == [str(i).encode() for i in range(49, 39, -1)]


# -- moves and multi-key pops ---------------------------------------------------------


@pytest.mark.parametrize(
    ("wherefrom", "whereto", "source", "destination"),
    [("LEFT", "LEFT", "bc", "axy"), ("LEFT", "RIGHT", "bc", "xya"), ("RIGHT", "LEFT", "ab", "cxy"),
     ("RIGHT", "RIGHT", "ab", "xyc")],
)
def test_lmove(r: redis.Redis, wherefrom: str, whereto: str, source: str, destination: str) -> None:
    r.rpush("src", "a", "b", "c")
    r.rpush("dst", "x", "y")
    assert r.lmove("src", "dst", wherefrom.lower(), whereto) in (b"a", b"c")
    assert r.lrange("src", 0, -1) == [c.encode() for c in source]
    assert r.lrange("dst", 0, -1) == [c.encode() for c in destination]


def test_lmove_edges(r: redis.Redis) -> None:
    assert r.lmove("missing", "dst", "LEFT", "LEFT") is None
    assert r.exists("dst") == 0
    r.set("s", "x")
    assert r.lmove("missing", "s", "LEFT", "LEFT") is None  # no source: the destination is not checked
    assert error_of(r, "LMOVE", "missing", "dst", "UP", "LEFT") == "syntax error"
    assert error_of(r, "LMOVE", "missing", "dst", "LEFT", "DOWN") == "syntax error"
    r.rpush("one", "v")
    assert r.lmove("one", "new", "RIGHT", "LEFT") == b"v"
    assert r.exists("one") == 0
    assert r.lrange("new", 0, -1) == [b"v"]
    r.rpush("rot", "a", "b", "c")
    assert r.lmove("rot", "rot", "LEFT", "RIGHT") == b"a"
    assert r.lrange("rot", 0, -1) == [b"b", b"c", b"a"]
    r.rpush("single", "z")
    assert r.lmove("single", "single", "LEFT", "LEFT") == b"z"
    assert r.lrange("single", 0, -1) == [b"z"]


def test_rpoplpush(r: redis.Redis) -> None:
    assert r.rpoplpush("missing", "dst") is None
    r.rpush("src", "a", "b")
    assert r.rpoplpush("src", "dst") == b"b"
    assert r.rpoplpush("src", "dst") == b"a"
    assert r.exists("src") == 0
    assert r.lrange("dst", 0, -1) == [b"a", b"b"]
    assert r.rpoplpush("dst", "dst") == b"b"
    assert r.lrange("dst", 0, -1) == [b"b", b"a"]


def test_lmpop(r: redis.Redis) -> None:
    assert r.lmpop(2, "a", "b", direction="LEFT") is None
    r.rpush("b", "1", "2", "3")
    assert r.lmpop(2, "a", "b", direction="LEFT") == [b"b", [b"1"]]
    assert r.lmpop(2, "a", "b", direction="RIGHT", count=5) == [b"b", [b"3", b"2"]]
    assert r.exists("b") == 0
    r.rpush("a", "x", "y")
    r.rpush("b", "z")
    assert r.execute_command("LMPOP", 2, "a", "b", "left", "count", 1) == [b"a", [b"x"]]
    assert r.execute_command("LMPOP", 1, "b", "RIGHT", "COUNT", "9223372036854775807") == [b"b", [b"z"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, "k", "LEFT"), "numkeys should be greater than 0"),
        ((-1, "k", "LEFT"), "numkeys should be greater than 0"),
        (("x", "k", "LEFT"), "numkeys should be greater than 0"),
        ((2, "k", "LEFT"), "syntax error"),
        ((9223372036854775807, "k", "LEFT"), "syntax error"),
        ((1, "k", "UP"), "syntax error"),
        ((1, "k", "LEFT", "COUNT", 0), "count should be greater than 0"),
        ((1, "k", "LEFT", "COUNT", "x"), "count should be greater than 0"),
        ((1, "k", "LEFT", "COUNT", 1, "COUNT", 1), "syntax error"),
        ((1, "k", "LEFT", "COUNT"), "syntax error"),
        ((1, "k", "LEFT", "FOO"), "syntax error"),
    ],
)
def test_lmpop_errors(r: redis.Redis, args: tuple[Any, ...], message: str) -> None:
    assert error_of(r, "LMPOP", *args) == message


# -- keyspace integration ---------------------------------------------------------------


def test_expired_list_is_gone(r: redis.Redis) -> None:
    r.rpush("l", "a", "b")
    r.pexpire("l", 20)
    assert r.ttl("l") >= 0
    time.sleep(0.05)
    assert r.llen("l") == 0
    assert r.lpushx("l", "x") == 0
    assert r.rpush("l", "c") == 1
    assert r.ttl("l") == -1
    assert r.lrange("l", 0, -1) == [b"c"]


def test_emptied_list_loses_ttl(r: redis.Redis) -> None:
    r.rpush("l", "a")
    r.expire("l", 100)
    r.lpop("l")
    r.rpush("l", "b")
    assert r.ttl("l") == -1


def test_push_keeps_ttl(r: redis.Redis) -> None:
    r.rpush("l", "a")
    r.expire("l", 100)
    r.rpush("l", "b")
    r.lset("l", 0, "z")
    assert 0 < r.ttl("l") <= 100
    assert r.type("l") == b"list"


def test_watch_sees_list_changes(make_client) -> None:
    client, other = make_client(), make_client()
    client.rpush("l", "a")
    for change in (("RPUSH", "l", "b"), ("LPOP", "l"), ("LSET", "l", 0, "q"), ("LTRIM", "l", 0, 0),
                   ("LREM", "l", 0, "q"), ("LMOVE", "m", "l", "LEFT", "LEFT")):
        client.rpush("l", "q")
        client.rpush("m", "x")
        with client.pipeline() as pipe:
            pipe.watch("l")
            other.execute_command(*change)
            pipe.multi()
            pipe.llen("l")
            with pytest.raises(redis.WatchError):
                pipe.execute()


def test_object_encoding_is_quicklist(r: redis.Redis) -> None:
    r.rpush("small", "a")
    r.rpush("big", *[str(i) * 100 for i in range(300)])
    assert r.object("encoding", "small") == b"quicklist"
    assert r.object("encoding", "big") == b"quicklist"


def test_list_encoding_helper() -> None:
    assert list_encoding(deque([b"a"]), None) == b"quicklist"
    assert list_encoding(deque(), {"list-max-listpack-size": "-2"}) == b"quicklist"


# -- reply shapes: null bulk versus null array ----------------------------------------------


def _raw(port: int, *commands: tuple[str, ...]) -> list[bytes]:
    """Send commands over a raw socket and return each reply's first line."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        out = []
        for args in commands:
            packed = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
            sock.sendall(packed)
            data = b""
            while not data.endswith(b"\r\n"):
                data += sock.recv(65536)
            out.append(data.split(b"\r\n")[0])
        return out


NULL_SHAPES = [
    (("LPOP", "nl"), "$-1"), (("LPOP", "nl", "1"), "*-1"), (("LPOP", "nl", "0"), "*-1"),
    (("RPOP", "nl", "3"), "*-1"), (("LINDEX", "nl", "0"), "$-1"), (("LPOS", "nl", "a"), "$-1"),
    (("LMOVE", "nl", "d", "LEFT", "LEFT"), "$-1"), (("RPOPLPUSH", "nl", "d"), "$-1"),
    (("LMPOP", "1", "nl", "LEFT"), "*-1"),
]


@pytest.mark.parametrize(("args", "shape"), NULL_SHAPES)
def test_null_shapes_match_redis(redis_server: RedisServer, engine: Engine, args: tuple[str, ...], shape: str) -> None:
    assert _raw(redis_server.port, ("DEL", "nl"), args)[1] == shape.encode()
    reply = engine.session().execute([a.encode() for a in args])
    assert reply is (NULL_ARRAY if shape == "*-1" else None)


def test_timeout_parser() -> None:
    assert parse_timeout(b"0") == 0
    assert parse_timeout(b"1.5") == 1.5
    assert parse_timeout(b"0.0001") == 0.001  # rounded up to a millisecond
    assert parse_timeout(b"-0.0001") == 0  # rounds up to 0: forever
    assert parse_timeout(b"0x10") == 16
    for text in (b"-1", b"inf", b"-inf", b"1e20", b"9223372036854776", b"1e400"):
        with pytest.raises(ReplyError, match="timeout is negative"):
            parse_timeout(text)
    for text in (b"abc", b"nan", b" 1", b"1 ", b"", b"1e5000", b"1e-5000"):
        with pytest.raises(ReplyError, match="timeout is not a float or out of range"):
            parse_timeout(text)


# -- differential ------------------------------------------------------------------------------

_KEYS = [b"la", b"lb", b"\xff\xfel", b"la", b"lb", b"str"]
_VALUES = [b"a", b"b", b"c", b"1", b"-2", b"\x80\x81", b""]
_GOOD_INTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"-5", b"10", b"100", b"-100",
              b"9223372036854775807", b"-9223372036854775808"]
_BAD_INTS = [b"x", b"1.5", b"9223372036854775808", b" 1", b"+1", b"01"]
_NAMES = (
    ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"] * 3
    + ["LPOP", "RPOP", "LLEN", "LRANGE", "LINDEX", "LSET", "LINSERT", "LREM", "LTRIM", "LPOS"] * 2
    + ["LMOVE", "RPOPLPUSH", "LMPOP", "SET", "DEL", "PEXPIRE", "TYPE", "EXISTS"]
    + ["BLPOP", "BRPOP", "BLMPOP", "BLMOVE", "BRPOPLPUSH"]
)


def _int(rng: random.Random) -> bytes:
    return rng.choice(_BAD_INTS) if rng.random() < 0.1 else rng.choice(_GOOD_INTS)


def _random_command(rng: random.Random) -> list[bytes]:
    key = rng.choice(_KEYS)
    value = rng.choice(_VALUES)
    number = _int(rng)
    side = rng.choice([b"LEFT", b"RIGHT", b"left", b"right", b"LEFT", b"RIGHT", b"UP"])
    name = rng.choice(_NAMES)
    if name in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        return [name.encode(), key] + [rng.choice(_VALUES) for _ in range(rng.randint(1, 4))]
    if name in ("LPOP", "RPOP"):
        return [name.encode(), key] + ([number] if rng.random() < 0.5 else [])
    if name in ("LLEN", "TYPE", "EXISTS", "DEL"):
        return [name.encode(), key]
    if name in ("LRANGE", "LTRIM"):
        return [name.encode(), key, _int(rng), _int(rng)]
    if name == "LINDEX":
        return [b"LINDEX", key, number]
    if name == "LSET":
        return [b"LSET", key, number, value]
    if name == "LINSERT":
        return [b"LINSERT", key, rng.choice([b"BEFORE", b"after", b"AROUND"]), rng.choice(_VALUES), value]
    if name == "LREM":
        return [b"LREM", key, number, value]
    if name == "LPOS":
        argv = [b"LPOS", key, value]
        for _ in range(rng.randint(0, 3)):
            argv += [rng.choice([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"count", b"BAD"]), _int(rng)]
        if rng.random() < 0.05:
            argv.append(b"RANK")
        return argv
    if name == "LMOVE":
        return [b"LMOVE", key, rng.choice(_KEYS), side, rng.choice([b"LEFT", b"RIGHT"])]
    if name == "RPOPLPUSH":
        return [b"RPOPLPUSH", key, rng.choice(_KEYS)]
    if name == "LMPOP":
        keys = [rng.choice(_KEYS) for _ in range(rng.randint(1, 3))]
        argv = [b"LMPOP", str(len(keys) + rng.choice([0, 0, 0, 1, -1])).encode(), *keys, side]
        if rng.random() < 0.5:
            argv += [b"COUNT", _int(rng)]
        return argv
    if name == "SET":  # mostly the string key, so lists live long enough to matter
        return [b"SET", key if rng.random() < 0.2 else b"str", value]
    if name == "PEXPIRE":
        return [b"PEXPIRE", key, rng.choice([b"1", b"5", b"100000"])]
    # Blocking commands: a tiny or malformed timeout, so nothing waits long.
    timeout = rng.choice([b"0.01", b"0.01", b"0.01", b"abc", b"-1", b"inf"])
    if name in ("BLPOP", "BRPOP"):
        return [name.encode(), key, rng.choice(_KEYS), timeout]
    if name == "BLMPOP":
        return [b"BLMPOP", timeout, b"2", key, rng.choice(_KEYS), side] + ([b"COUNT", number] if rng.random() < 0.5 else [])
    if name == "BLMOVE":
        return [b"BLMOVE", key, rng.choice(_KEYS), side, rng.choice([b"LEFT", b"RIGHT"]), timeout]
    return [b"BRPOPLPUSH", key, rng.choice(_KEYS), timeout]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_differential_random_sequences(pair, seed: int, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    rng = random.Random(seed)
    for _ in range(250):
        argv = _random_command(rng)
        if argv[0] == b"PEXPIRE" and argv[2] != b"100000":
            expected = run(real, *argv)
            assert run(embedded, *argv) == expected, argv
            time.sleep(0.01)  # let both expire it
            continue
        expected = run(real, *argv)
        assert run(embedded, *argv) == expected, argv
        if rng.random() < 0.2:
            for key in _KEYS:
                state = [b"TYPE", key] if rng.random() < 0.5 else [b"LRANGE", key, b"0", b"-1"]
                assert run(embedded, *state) == run(real, *state), state
