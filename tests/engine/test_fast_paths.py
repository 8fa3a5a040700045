"""The handlers' fast paths (plain integers and scores, one field, one member) answer as redis-server does at their edges."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from tests.helpers import run

# Texts around string2ll's fast path: digits only, no leading zero, at most 18 digits.
INTEGERS = [
    b"0", b"-0", b"00", b"01", b"+1", b" 1", b"1 ", b"1_0", b"", b"-", b"1\x00", b"\xd9\xa1",
    b"123456789012345678", b"1234567890123456789", b"9223372036854775807", b"9223372036854775808",
    b"-9223372036854775808", b"-9223372036854775809", b"99999999999999999999", b"-99999999999999999999",
    b"100000000000000000000",
]
# Texts around getDoubleFromObject's fast path: a plain decimal shorter than 300 characters.
SCORES = [
    b"0", b"-0", b"00", b"+1", b"1e5", b"1E5", b".5", b"5.", b"-.5", b"-5.", b"inf", b"-inf", b"+inf",
    b"Infinity", b"nan", b"0x10", b"1_0", b" 1", b"1 ", b"", b"-", b".", b"1\x00",
    b"9" * 299, b"9" * 300, b"1" + b"0" * 308, b"1" + b"0" * 309,
    b"0." + b"0" * 290 + b"1", b"0." + b"0" * 400 + b"1", b"-0." + b"0" * 400 + b"1", b"0." + b"0" * 400,
]


def check(embedded: redis.Redis, real: redis.Redis, *command: Any) -> Any:
    """Run ``command`` on both backends, assert equal replies, return the reply."""
    mine = run(embedded, *command)
    theirs = run(real, *command)
    assert mine == theirs, command
    return mine


@pytest.mark.parametrize("text", INTEGERS, ids=repr)
def test_integer_arguments_match_redis(pair, text: bytes) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.rpush(b"l", *[b"%d" % i for i in range(5)])
        client.hset(b"h", b"f", b"1")
        client.set(b"s", b"1")
    check(embedded, real, "INCRBY", "n", text)
    check(embedded, real, "DECRBY", "n", text)
    check(embedded, real, "SET", "c", text)
    check(embedded, real, "INCR", "c")
    check(embedded, real, "LRANGE", "l", text, "-1")
    check(embedded, real, "LRANGE", "l", "0", text)
    check(embedded, real, "HINCRBY", "h", "f", text)
    check(embedded, real, "EXPIRE", "s", text, "GT")
    check(embedded, real, "SADD", "set", text)
    check(embedded, real, "OBJECT", "ENCODING", "set")


@pytest.mark.parametrize("text", SCORES, ids=lambda t: repr(t[:12]) + f"x{len(t)}")
def test_score_arguments_match_redis(pair, text: bytes) -> None:
    embedded, real = pair()
    check(embedded, real, "ZADD", "z", text, "m")
    check(embedded, real, "ZADD", "z", "1", "a", text, "b")
    check(embedded, real, "ZINCRBY", "z", text, "m")
    check(embedded, real, "ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_options_match_redis(pair) -> None:
    embedded, real = pair()
    for command in (
        ("ZADD", "z", "1", "a", "2", "b"),
        ("ZADD", "z", "nx", "5", "a", "3", "c"),
        ("ZADD", "z", "Xx", "Ch", "5", "a", "4", "d"),
        ("ZADD", "z", "GT", "CH", "1", "a", "9", "b"),
        ("ZADD", "z", "LT", "INCR", "-1", "a"),
        ("ZADD", "z", "INCR", "1", "a", "2", "b"),
        ("ZADD", "z", "NX", "XX", "1", "a"),
        ("ZADD", "z", "NX", "GT", "1", "a"),
        ("ZADD", "z", "GT", "LT", "1", "a"),
        ("ZADD", "z", "NX"),
        ("ZADD", "z", "CH", "1"),
        ("ZADD", "z", "NX", "INCR", "1", "a"),
        ("ZADD", "z", "XX", "INCR", "1", "missing"),
        ("ZADD", "absent", "XX", "1", "a"),
        ("ZADD", "absent", "XX", "INCR", "1", "a"),
        ("ZADD", "z", "inf", "a", "-inf", "b"),
        ("ZADD", "z", "INCR", "-inf", "a"),
        ("ZADD", "z", "-0", "neg"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "1", "WITHSCORES"),
        ("ZRANGE", "z", "1", "2"),
        ("OBJECT", "ENCODING", "z"),
    ):
        check(embedded, real, *command)


def test_listpack_limits_follow_config_set(pair) -> None:
    """The limits the handlers read from a cache change with CONFIG SET."""
    embedded, real = pair()
    limits = ("zset-max-listpack-entries", "set-max-intset-entries", "hash-max-listpack-entries")
    defaults = [real.config_get(name)[name] for name in limits]
    try:
        for name in limits:
            check(embedded, real, "CONFIG", "SET", name, "2")
        for command in (
            ("ZADD", "z", "1", "a", "2", "b"), ("OBJECT", "ENCODING", "z"),
            ("ZADD", "z", "-0", "c"), ("OBJECT", "ENCODING", "z"), ("ZSCORE", "z", "c"),
            ("SADD", "s", "3", "1", "2"), ("OBJECT", "ENCODING", "s"), ("SMEMBERS", "s"),
            ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "c", "3"), ("OBJECT", "ENCODING", "h"),
        ):
            reply = check(embedded, real, *command)
            if command[0] == "SMEMBERS":
                assert sorted(reply) == [b"1", b"2", b"3"]
    finally:
        for name, default in zip(limits, defaults, strict=True):
            for client in (embedded, real):
                client.config_set(name, default)


def test_single_argument_writes_match_redis(pair) -> None:
    embedded, real = pair()
    for command in (
        ("HSET", "h", "f", "v"), ("HSET", "h", "f", "w"), ("HSET", "h", "g", "v"),
        ("HSET", "h", "f", "x", "f", "y"), ("HSET", "h", "f"), ("HGETALL", "h"),
        ("SADD", "s", "a"), ("SADD", "s", "a"), ("SADD", "s", "b", "b", "c"), ("SCARD", "s"),
        ("LPUSH", "l", "a"), ("RPUSH", "l", "b"), ("LPUSH", "l", "c", "d"), ("RPUSH", "l", "e", "f"),
        ("LRANGE", "l", "0", "-1"), ("RPOP", "l"), ("LPOP", "l"),
        ("SET", "empty", ""), ("EXISTS", "empty", "empty", "missing"), ("TOUCH", "empty", "missing"),
        ("DEL", "empty", "missing", "h"), ("UNLINK", "s", "s"), ("EXISTS", "h", "s", "l"),
        ("HSET", "l", "f", "v"), ("SADD", "l", "a"), ("LPUSH", "z", "a"), ("ZADD", "l", "1", "a"),
        ("INCR", "l"), ("SET", "n", "41"), ("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "-50"),
        ("SET", "n", "9223372036854775807"), ("INCR", "n"), ("DECRBY", "n", "-9223372036854775808"),
    ):
        check(embedded, real, *command)


def keyspace_stats(client: redis.Redis) -> tuple[int, int]:
    info = client.info("stats")
    return info["keyspace_hits"], info["keyspace_misses"]


def test_keyspace_hits_and_misses_match_redis(pair) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.set(b"s", b"v")
        client.hset(b"h", b"f", b"v")
    before = keyspace_stats(embedded), keyspace_stats(real)
    for command in (
        ("GET", "s"), ("GET", "missing"), ("EXISTS", "s", "missing", "h"), ("TOUCH", "s", "missing"),
        ("HGET", "h", "f"), ("HGET", "missing", "f"), ("GET", "h"), ("INCR", "counter"), ("HSET", "h", "g", "w"),
        ("SISMEMBER", "missing", "a"), ("LRANGE", "h", "0", "1"), ("ZSCORE", "missing", "m"), ("TTL", "s"),
    ):
        check(embedded, real, *command)
    after = keyspace_stats(embedded), keyspace_stats(real)
    hits = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
    misses = [a[1] - b[1] for a, b in zip(after, before, strict=True)]
    assert hits[0] == hits[1] and misses[0] == misses[1]
