"""SLOWLOG on both backends: what is logged, how entries look, the settings that govern it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from tests.helpers import run


@pytest.fixture
def log_all(r: redis.Redis) -> Iterator[redis.Redis]:
    """A client whose server logs every command; the defaults come back afterwards."""
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    yield r
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)
    r.slowlog_reset()


def commands(client: redis.Redis, count: int = -1) -> list[list[bytes]]:
    """Return the logged argument lists, newest first, without the SLOWLOG calls themselves."""
    return [entry["command"].split(b" ") for entry in client.slowlog_get(count)
            if not entry["command"].startswith(b"SLOWLOG")]


def test_every_command_is_logged_at_threshold_zero(log_all: redis.Redis) -> None:
    log_all.set("k", "v")
    log_all.get("k")
    assert commands(log_all)[:2] == [[b"GET", b"k"], [b"SET", b"k", b"v"]]


def test_entry_fields(log_all: redis.Redis) -> None:
    log_all.client_setname("reporter")
    log_all.set("k", "v")
    entry = log_all.slowlog_get(1)[0]  # the newest: SET (SLOWLOG GET logs itself after replying)
    assert entry["command"] == b"SET k v"
    assert isinstance(entry["id"], int) and entry["id"] >= 1
    assert abs(entry["start_time"] - time.time()) < 5
    assert isinstance(entry["duration"], int) and 0 <= entry["duration"] < 1_000_000
    assert entry["client_name"] == b"reporter"
    assert isinstance(entry["client_address"], bytes)


def test_ids_keep_counting_after_reset(log_all: redis.Redis) -> None:
    log_all.set("a", 1)
    first = log_all.slowlog_get(1)[0]["id"]
    log_all.slowlog_reset()
    log_all.set("b", 1)
    assert log_all.slowlog_get(1)[0]["id"] > first


def test_negative_threshold_disables(log_all: redis.Redis) -> None:
    log_all.config_set("slowlog-log-slower-than", -1)
    log_all.slowlog_reset()
    log_all.set("k", "v")
    assert log_all.slowlog_len() == 0


def test_large_threshold_logs_nothing_quick(log_all: redis.Redis) -> None:
    log_all.config_set("slowlog-log-slower-than", 10_000_000)
    log_all.slowlog_reset()
    for i in range(20):
        log_all.set(f"k{i}", i)
    assert log_all.slowlog_len() == 0


def test_max_len_keeps_the_newest(log_all: redis.Redis) -> None:
    log_all.config_set("slowlog-max-len", 3)
    for i in range(10):
        log_all.set(f"k{i}", i)
    assert [args[1] for args in commands(log_all)] == [b"k9", b"k8", b"k7"]
    assert log_all.slowlog_len() == 3


def test_long_arguments_are_cut(log_all: redis.Redis) -> None:
    log_all.rpush("list", *range(40))
    log_all.set("x" * 200, "v")
    set_args, push_args = commands(log_all, 2)
    assert set_args == [b"SET", b"x" * 128 + b"...", b"(72", b"more", b"bytes)", b"v"]
    assert len(push_args) == 32 + 3  # 31 arguments, then "... (11 more arguments)"
    assert push_args[:3] == [b"RPUSH", b"list", b"0"]
    assert push_args[31:] == [b"...", b"(11", b"more", b"arguments)"]


def test_passwords_are_redacted(log_all: redis.Redis) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):  # no password is set
        log_all.execute_command("AUTH", "secret")
    assert [b"AUTH", b"(redacted)"] in commands(log_all)  # (redis-py reconnects after the error)


def test_exec_logs_its_commands_not_itself(log_all: redis.Redis) -> None:
    pipe = log_all.pipeline(transaction=True)
    pipe.set("a", 1)
    pipe.get("a")
    pipe.execute()
    names = [args[0] for args in commands(log_all)]
    assert names[:3] == [b"GET", b"SET", b"MULTI"]
    assert b"EXEC" not in names


def test_get_count(log_all: redis.Redis) -> None:
    for i in range(15):
        log_all.set(f"k{i}", i)
    assert len(log_all.slowlog_get()) == 10
    assert len(log_all.slowlog_get(0)) == 0
    logged = log_all.slowlog_len()
    assert len(log_all.slowlog_get(-1)) == logged + 1  # and the LEN before it


@pytest.mark.parametrize(
    "args",
    [("GET", "-2"), ("GET", "abc"), ("GET", "1", "x"), ("LEN", "x"), ("RESET", "x"), ("NOPE",), ()],
)
def test_errors_match_redis(pair, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    assert run(embedded, "SLOWLOG", *args) == run(real, "SLOWLOG", *args)
    assert isinstance(run(real, "SLOWLOG", *args), tuple)


def test_help_matches_redis(pair) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    assert run(embedded, "SLOWLOG", "HELP") == run(real, "SLOWLOG", "HELP")
