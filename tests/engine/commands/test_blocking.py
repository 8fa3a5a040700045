"""Blocking list commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) and sorted-set pops (BZPOPMIN ...) on both backends, with threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.helpers import wait_blocked

from redpocket.engine import Engine
from redpocket.engine.blocking import Block
from redpocket.engine.replies import NULL_ARRAY

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


class Waiter(threading.Thread):
    """Run one command in a thread and keep its reply (or error) and how long it took."""

    def __init__(self, client: redis.Redis, *args: Any) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.args = args
        self.reply: Any = None
        self.error: Exception | None = None
        self.elapsed = 0.0
        self.start()

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.reply = self.client.execute_command(*self.args)
        except redis.ResponseError as error:
            self.error = error
        self.elapsed = time.monotonic() - started

    def result(self, timeout: float = 5) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.args} still blocked"
        if self.error is not None:
            return ("error", str(self.error))
        return self.reply


def later(delay: float, action: Callable[[], Any]) -> threading.Timer:
    """Run ``action`` after ``delay`` seconds in another thread."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()
    return timer


# -- served at once -------------------------------------------------------------------


def test_data_available_is_served_at_once(r: redis.Redis) -> None:
    r.rpush("b", "1", "2", "3")
    assert r.blpop(["a", "b"], timeout=0) == (b"b", b"1")
    assert r.brpop(["a", "b"], timeout=1) == (b"b", b"3")
    assert r.blmove("b", "d", 0, "LEFT", "RIGHT") == b"2"
    assert r.exists("b") == 0
    r.rpush("b", "x", "y")
    assert r.brpoplpush("b", "d", 0) == b"y"
    assert r.blmpop(0, 2, "a", "b", direction="LEFT", count=5) == [b"b", [b"x"]]
    assert r.lrange("d", 0, -1) == [b"y", b"2"]


def test_first_non_empty_key_wins(r: redis.Redis) -> None:
    r.rpush("k2", "v2")
    r.rpush("k3", "v3")
    assert r.execute_command("BLPOP", "k1", "k2", "k3", 0) == (b"k2", b"v2")
    assert r.execute_command("BLMPOP", 0, 3, "k1", "k2", "k3", "RIGHT") == [b"k3", [b"v3"]]


def test_wrong_type_fails_at_once(r: redis.Redis) -> None:
    r.set("s", "x")
    r.rpush("l", "v")
    for args in [("BLPOP", "s", 0), ("BLPOP", "missing", "s", 0), ("BRPOP", "s", 1),
                 ("BLMPOP", 0, 2, "missing", "s", "LEFT"), ("BLMOVE", "s", "d", "LEFT", "LEFT", 0),
                 ("BLMOVE", "l", "s", "LEFT", "LEFT", 0), ("BRPOPLPUSH", "l", "s", 0)]:
        with pytest.raises(redis.ResponseError) as info:
            r.execute_command(*args)
        assert str(info.value) == WRONGTYPE, args
    assert r.lrange("l", 0, -1) == [b"v"]
    # The key before it is served first: no error.
    assert r.execute_command("BLPOP", "l", "s", 0) == (b"l", b"v")


# -- timeouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("BLPOP", "k", 0.1), ("BRPOP", "k", "k2", 0.1), ("BLMOVE", "k", "d", "LEFT", "RIGHT", 0.1),
     ("BRPOPLPUSH", "k", "d", 0.1), ("BLMPOP", 0.1, 1, "k", "LEFT"), ("BLMPOP", 0.1, 1, "k", "RIGHT", "COUNT", 3)],
)
def test_timeout_gives_nil(r: redis.Redis, args: tuple[Any, ...]) -> None:
    started = time.monotonic()
    assert r.execute_command(*args) is None
    elapsed = time.monotonic() - started
    assert 0.08 <= elapsed < 1.5
    assert r.exists("d") == 0


def test_tiny_timeout_is_at_least_a_millisecond(r: redis.Redis) -> None:
    # 0.0001s rounds up to 1 ms: it times out, it does not block forever.
    assert r.execute_command("BLPOP", "k", "0.0001") is None


@pytest.mark.parametrize(
    ("timeout", "message"),
    [("abc", "timeout is not a float or out of range"), ("nan", "timeout is not a float or out of range"),
     (" 1", "timeout is not a float or out of range"), ("", "timeout is not a float or out of range"),
     ("1e5000", "timeout is not a float or out of range"), ("-1", "timeout is negative"),
     ("-0.5", "timeout is negative"), ("inf", "timeout is negative"), ("-inf", "timeout is negative"),
     ("1e16", "timeout is negative"), ("9223372036854776", "timeout is negative"), ("1e400", "timeout is negative")],
)
def test_timeout_errors(r: redis.Redis, timeout: str, message: str) -> None:
    r.rpush("k", "v")  # the timeout is checked even when data is there
    for args in [("BLPOP", "k", timeout), ("BRPOP", "k", timeout), ("BRPOPLPUSH", "k", "d", timeout),
                 ("BLMOVE", "k", "d", "LEFT", "LEFT", timeout), ("BLMPOP", timeout, 1, "k", "LEFT")]:
        with pytest.raises(redis.ResponseError) as info:
            r.execute_command(*args)
        assert str(info.value) == message, args
    assert r.lrange("k", 0, -1) == [b"v"]


@pytest.mark.parametrize("timeout", ["0", "1.5", "-0.0001", "0x10", "9.2e15", ".5", "5.", "1e-400", "+3", "007"])
def test_valid_timeouts(r: redis.Redis, timeout: str) -> None:
    r.rpush("k", "v")
    assert r.execute_command("BLPOP", "k", timeout) == (b"k", b"v")


def test_argument_errors_come_before_the_timeout(r: redis.Redis) -> None:
    cases = [
        (("BLMPOP", "x", 0, "k", "LEFT"), "numkeys should be greater than 0"),
        (("BLMPOP", "x", 1, "k", "UP"), "syntax error"),
        (("BLMPOP", "x", 2, "k", "LEFT"), "syntax error"),
        (("BLMPOP", "x", 1, "k", "LEFT", "COUNT", 0), "count should be greater than 0"),
        (("BLMPOP", "x", 1, "k", "LEFT", "BAD"), "syntax error"),
        (("BLMOVE", "k", "d", "UP", "LEFT", "x"), "syntax error"),
        (("BLMOVE", "k", "d", "LEFT", "DOWN", "x"), "syntax error"),
        (("BLMPOP", "x", 1, "k", "LEFT"), "timeout is not a float or out of range"),
        (("BLPOP", "k"), "wrong number of arguments for 'blpop' command"),
        (("BLMPOP", 0, 1, "k"), "wrong number of arguments for 'blmpop' command"),
    ]
    for args, message in cases:
        with pytest.raises(redis.ResponseError) as info:
            r.execute_command(*args)
        assert str(info.value) == message, args


# -- woken by a write ----------------------------------------------------------------------


def test_blpop_wakes_on_push(make_client) -> None:
    waiter_client, pusher = make_client(), make_client()
    waiter = Waiter(waiter_client, "BLPOP", "queue", 5)
    later(0.1, lambda: pusher.rpush("queue", "job"))
    assert waiter.result() == (b"queue", b"job")
    assert 0.05 <= waiter.elapsed < 2
    assert pusher.exists("queue") == 0


def test_brpop_wakes_and_takes_from_the_tail(make_client) -> None:
    waiter_client, pusher = make_client(), make_client()
    waiter = Waiter(waiter_client, "BRPOP", "a", "b", 5)
    later(0.1, lambda: pusher.rpush("b", "1", "2", "3"))
    assert waiter.result() == (b"b", b"3")
    assert pusher.lrange("b", 0, -1) == [b"1", b"2"]


def test_blmove_wakes(make_client) -> None:
    waiter_client, pusher = make_client(), make_client()
    pusher.rpush("dst", "old")
    waiter = Waiter(waiter_client, "BLMOVE", "src", "dst", "RIGHT", "LEFT", 5)
    later(0.1, lambda: pusher.rpush("src", "a", "b"))
    assert waiter.result() == b"b"
    assert pusher.lrange("src", 0, -1) == [b"a"]
    assert pusher.lrange("dst", 0, -1) == [b"b", b"old"]


def test_brpoplpush_wakes(make_client) -> None:
    waiter_client, pusher = make_client(), make_client()
    waiter = Waiter(waiter_client, "BRPOPLPUSH", "src", "dst", 0)
    later(0.1, lambda: pusher.lpush("src", "x"))
    assert waiter.result() == b"x"
    assert pusher.exists("src") == 0
    assert pusher.lrange("dst", 0, -1) == [b"x"]


def test_blmpop_wakes_with_count(make_client) -> None:
    waiter_client, pusher = make_client(), make_client()
    waiter = Waiter(waiter_client, "BLMPOP", 5, 2, "a", "b", "LEFT", "COUNT", 2)
    later(0.1, lambda: pusher.rpush("b", "1", "2", "3"))
    assert waiter.result() == [b"b", [b"1", b"2"]]
    assert pusher.lrange("b", 0, -1) == [b"3"]


def test_two_waiters_each_get_one(make_client) -> None:
    first, second, pusher = make_client(), make_client(), make_client()
    waiters = [Waiter(first, "BLPOP", "q", 5), Waiter(second, "BLPOP", "q", 5)]
    time.sleep(0.1)
    pusher.rpush("q", "one", "two")
    results = sorted(w.result() for w in waiters)
    assert results == [(b"q", b"one"), (b"q", b"two")]
    assert pusher.exists("q") == 0


def test_one_element_serves_one_waiter(make_client) -> None:
    first, second, pusher = make_client(), make_client(), make_client()
    waiters = [Waiter(first, "BLPOP", "q", 1), Waiter(second, "BLPOP", "q", 1)]
    time.sleep(0.1)
    pusher.rpush("q", "only")
    results = [w.result() for w in waiters]
    assert sorted(results, key=repr) == sorted([(b"q", b"only"), None], key=repr)


def test_lmove_into_watched_key_wakes(make_client) -> None:
    waiter_client, mover = make_client(), make_client()
    mover.rpush("src", "v")
    waiter = Waiter(waiter_client, "BLPOP", "dst", 5)
    later(0.1, lambda: mover.lmove("src", "dst", "LEFT", "LEFT"))
    assert waiter.result() == (b"dst", b"v")


def test_blmove_chain(make_client) -> None:
    # A waiter's own push wakes the next one.
    first, second, pusher = make_client(), make_client(), make_client()
    w2 = Waiter(second, "BLMOVE", "b", "c", "LEFT", "LEFT", 5)
    w1 = Waiter(first, "BLMOVE", "a", "b", "LEFT", "LEFT", 5)
    later(0.1, lambda: pusher.rpush("a", "token"))
    assert w1.result() == b"token"
    assert w2.result() == b"token"
    assert pusher.lrange("c", 0, -1) == [b"token"]


def test_other_database_does_not_wake(make_client) -> None:
    waiter_client, pusher = make_client(db=1), make_client(db=0)
    waiter = Waiter(waiter_client, "BLPOP", "k", 0.3)
    later(0.05, lambda: pusher.rpush("k", "v"))
    assert waiter.result() is None
    assert pusher.lrange("k", 0, -1) == [b"v"]


def test_key_turned_string_keeps_waiting(make_client) -> None:
    # Redis 7.0 serves a blocked client only from a key holding a list.
    waiter_client, other = make_client(), make_client()
    waiter = Waiter(waiter_client, "BLPOP", "k1", "k2", 5)
    time.sleep(0.1)
    other.set("k1", "str")
    time.sleep(0.1)
    assert waiter.is_alive()
    other.rpush("k2", "v")
    assert waiter.result() == (b"k2", b"v")


def test_blmove_wrong_type_destination_when_woken(make_client) -> None:
    waiter_client, other = make_client(), make_client()
    waiter = Waiter(waiter_client, "BLMOVE", "src", "dst", "LEFT", "LEFT", 5)
    time.sleep(0.1)
    other.set("dst", "str")
    other.rpush("src", "v")
    assert waiter.result() == ("error", WRONGTYPE)
    assert other.lrange("src", 0, -1) == [b"v"]


def test_pushed_and_deleted_in_one_transaction_does_not_serve(make_client) -> None:
    waiter_client, other = make_client(), make_client()
    waiter = Waiter(waiter_client, "BLPOP", "k", 0.5)
    time.sleep(0.1)
    with other.pipeline(transaction=True) as pipe:
        pipe.rpush("k", "v")
        pipe.delete("k")
        assert pipe.execute() == [1, 1]
    assert waiter.result() is None


@pytest.mark.parametrize(
    ("command", "served"),
    [
        (("BZPOPMIN", "z", 5), [b"z", b"bar", 1.0]),
        (("BZPOPMAX", "z", 5), [b"z", b"bar", 1.0]),
        (("BZMPOP", 5, 1, "z", "MIN"), [b"z", [[b"bar", b"1"]]]),
    ],
)
def test_sorted_set_turned_string_in_a_transaction_keeps_waiting(make_client, command, served) -> None:
    # Redis 7.0 serves a blocked client only from a key that is a sorted set when it is served.
    waiter_client, other = make_client(), make_client()
    waiter = Waiter(waiter_client, *command)
    wait_blocked(other)
    with other.pipeline(transaction=True) as pipe:
        pipe.zadd("z", {"foo": 0})
        pipe.delete("z")
        pipe.set("z", "foo")
        assert pipe.execute() == [1, 1, True]
    time.sleep(0.1)
    assert waiter.is_alive(), waiter.result()
    other.delete("z")
    other.zadd("z", {"bar": 1})
    assert list(waiter.result()) == served
    assert other.exists("z") == 0


def test_sorted_set_pop_of_a_string_fails_at_once(r: redis.Redis) -> None:
    r.set("z", "str")
    for command in (("BZPOPMIN", "z", 1), ("BZPOPMAX", "z", 1), ("BZMPOP", 1, 1, "z", "MAX")):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.execute_command(*command)


# -- may not block ---------------------------------------------------------------------------


def test_in_multi_answers_at_once(r: redis.Redis) -> None:
    started = time.monotonic()
    with r.pipeline(transaction=True) as pipe:
        pipe.execute_command("BLPOP", "k", 0)
        pipe.execute_command("BRPOP", "k", 0)
        pipe.execute_command("BLMOVE", "k", "d", "LEFT", "LEFT", 0)
        pipe.execute_command("BRPOPLPUSH", "k", "d", 0)
        pipe.execute_command("BLMPOP", 0, 1, "k", "LEFT")
        pipe.rpush("k", "v")
        pipe.execute_command("BLPOP", "k", 0)
        replies = pipe.execute()
    assert replies == [None, None, None, None, None, 1, (b"k", b"v")]
    assert time.monotonic() - started < 1


def test_in_multi_timeout_errors_are_replies(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.execute_command("BLPOP", "k", -1)
        pipe.execute_command("BLPOP", "k", "-0.0001")
        results = pipe.execute(raise_on_error=False)
    assert str(results[0]) == "timeout is negative"
    assert results[1] is None


def test_null_shapes_when_not_blocking(engine: Engine) -> None:
    """Inside EXEC, BLMOVE answers a null bulk; a real timeout answers a null array (as Redis 7.0)."""
    session = engine.session()
    session.in_exec = True
    assert session.execute([b"BLPOP", b"k", b"0"]) is NULL_ARRAY
    assert session.execute([b"BLMPOP", b"0", b"1", b"k", b"LEFT"]) is NULL_ARRAY
    assert session.execute([b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0"]) is None
    assert session.execute([b"BRPOPLPUSH", b"k", b"d", b"0"]) is None
    session.in_exec = False
    for argv in ([b"BLPOP", b"k", b"1"], [b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"1"],
                 [b"BRPOPLPUSH", b"k", b"d", b"0"], [b"BLMPOP", b"2.5", b"1", b"k", b"LEFT"]):
        block = session.execute(argv)
        assert type(block) is Block
        assert block.timeout_reply is NULL_ARRAY
        assert block.keys == [b"k"]
    assert session.execute([b"BLPOP", b"k", b"1"]).timeout == 1.0
    assert session.execute([b"BLPOP", b"a", b"b", b"0"]).timeout == 0


def test_script_may_not_block(r: redis.Redis) -> None:
    # BLMPOP has no ``noscript`` flag: in a script it answers at once.
    try:
        reply = r.eval("return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", 1, "k")
    except redis.ResponseError as error:
        if "unknown command" in str(error):
            pytest.skip("EVAL is not available on this backend yet")
        raise
    assert reply is None
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        r.eval("return redis.call('BLPOP', KEYS[1], 0)", 1, "k")
