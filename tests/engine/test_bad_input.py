"""Bad input answers with Redis's own error and leaves the stored data intact, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from tests.helpers import run

BAD_COMMANDS: list[tuple[Any, ...]] = [
    ("GET",),
    ("SET", "s"),
    ("SET", "s", "v", "EX", "-5"),
    ("SET", "s", "v", "PX", "99999999999999999999"),
    ("SET", "s", "v", "NX", "XX"),
    ("INCR", "s"),
    ("INCRBY", "n", "abc"),
    ("INCRBY", "n", "9223372036854775807"),
    ("INCRBYFLOAT", "n", "nan"),
    ("INCRBYFLOAT", "n", "inf"),
    ("LPUSH", "s", "x"),
    ("HSET", "l", "f", "v"),
    ("SADD", "h", "m"),
    ("ZADD", "h", "1", "m"),
    ("ZADD", "z", "notafloat", "m"),
    ("ZADD", "z", "nan", "m"),
    ("ZRANGE", "z", "0", "x"),
    ("LRANGE", "l", "-99999999999999999999", "5"),
    ("LINDEX", "l", "1.5"),
    ("LSET", "l", "100000", "x"),
    ("GETRANGE", "s", "0", "huge"),
    ("SETRANGE", "s", "-1", "x"),
    ("SETBIT", "s", "4294967296", "1"),
    ("HINCRBY", "h", "f", "1"),
    ("HINCRBYFLOAT", "h", "f", "x"),
    ("EXPIRE", "s", "abc"),
    ("EXPIRE", "s", "9223372036854775807"),
    ("RENAME", "missing", "x"),
    ("SELECT", "99"),
    ("SORT", "s"),
    ("EVAL", "return redis.call('GET')", "0"),
    ("EVAL", "syntax error here", "0"),
    ("PFADD", "s", "x"),
    ("OBJECT", "NOPE", "s"),
    ("CONFIG", "SET", "hz", "-1"),
    ("NOSUCHCOMMAND", b"\xff\xfe", "x"),
    ("SET", b"\xff\xfe\x00", b"\x80\x81", "GET", "EXTRA"),
]


def snapshot(client: redis.Redis) -> dict[bytes, Any]:
    return {
        b"s": client.get("s"),
        b"n": client.get("n"),
        b"l": client.lrange("l", 0, -1),
        b"h": client.hgetall("h"),
        b"z": client.zrange("z", 0, -1, withscores=True),
        b"bin": client.get(b"\xff\xfe\x00"),
        b"keys": sorted(client.keys()),
    }


@pytest.mark.parametrize("command", BAD_COMMANDS, ids=lambda c: " ".join(map(str, c))[:40])
def test_bad_input_answers_an_error_and_keeps_data(r: redis.Redis, command: tuple[Any, ...]) -> None:
    r.set("s", "text")
    r.set("n", "9223372036854775807")
    r.rpush("l", "a", "b")
    r.hset("h", "f", "not a number")
    r.zadd("z", {"m": 1.5})
    r.set(b"\xff\xfe\x00", b"\x80\x81")
    before = snapshot(r)
    outcome = run(r, *command)
    assert isinstance(outcome, tuple) and outcome[0] == "error", f"{command}: {outcome!r}"
    assert snapshot(r) == before


def test_bad_input_errors_equal_redis(pair) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.set("s", "text")
        client.set("n", "9223372036854775807")
        client.rpush("l", "a", "b")
        client.hset("h", "f", "not a number")
        client.zadd("z", {"m": 1.5})
    for command in BAD_COMMANDS:
        assert run(embedded, *command) == run(real, *command), command
