"""MULTI / EXEC / DISCARD / WATCH / UNWATCH on both backends."""

from __future__ import annotations

import time

import pytest
import redis
from tests.helpers import run


def normalize(reply: object) -> object:
    """Make replies comparable: errors nested in EXEC replies become ("error", text)."""
    if isinstance(reply, list):
        return [normalize(item) for item in reply]
    if isinstance(reply, redis.ResponseError):
        return ("error", str(reply))
    return reply


def test_pipeline_transaction(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.set(b"a", b"1").incr(b"a").get(b"a")
        assert pipe.execute() == [True, 2, b"2"]


def test_runtime_error_does_not_stop_the_others(r: redis.Redis) -> None:
    r.set(b"s", b"x")
    with r.pipeline(transaction=True) as pipe:
        pipe.set(b"a", b"1").incr(b"s").lpush(b"s", b"v").set(b"c", b"2")
        replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True and replies[3] is True
    assert str(replies[1]) == "value is not an integer or out of range"
    assert isinstance(replies[2], redis.ResponseError) and "WRONGTYPE" in str(replies[2])
    assert r.get(b"c") == b"2"


def test_execabort_on_bad_queued_command(r: redis.Redis) -> None:
    assert run(r, "MULTI") == b"OK"
    assert run(r, "SET", "a") == ("error", "wrong number of arguments for 'set' command")
    assert run(r, "APPEND", "b", "1") == b"QUEUED"
    assert run(r, "NOSUCH") == ("error", "unknown command 'NOSUCH', with args beginning with: ")
    with pytest.raises(redis.exceptions.ExecAbortError, match=r"Transaction discarded because of previous errors\."):
        r.execute_command("EXEC")
    assert r.exists(b"b") == 0
    assert run(r, "EXEC") == ("error", "EXEC without MULTI")


def test_multi_errors(r: redis.Redis) -> None:
    assert run(r, "EXEC") == ("error", "EXEC without MULTI")
    assert run(r, "DISCARD") == ("error", "DISCARD without MULTI")
    assert run(r, "MULTI") == b"OK"
    assert run(r, "MULTI") == ("error", "MULTI calls can not be nested")
    assert run(r, "WATCH", "k") == ("error", "WATCH inside MULTI is not allowed")
    assert run(r, "APPEND", "k", "v") == b"QUEUED"
    # Errors of commands run at once do not abort the transaction.
    assert run(r, "EXEC") == [1]
    assert run(r, "MULTI") == b"OK"
    assert run(r, "APPEND", "k", "w") == b"QUEUED"
    assert run(r, "DISCARD") == b"OK"
    assert r.get(b"k") == b"v"
    assert run(r, "MULTI", "x") == ("error", "wrong number of arguments for 'multi' command")
    assert run(r, "WATCH") == ("error", "wrong number of arguments for 'watch' command")
    assert run(r, "UNWATCH", "x") == ("error", "wrong number of arguments for 'unwatch' command")
    assert run(r, "DISCARD", "x") == ("error", "wrong number of arguments for 'discard' command")


def test_no_multi_command_is_refused_and_aborts_exec(r: redis.Redis) -> None:
    # SAVE carries the no_multi flag: refused when queued, like an unknown command.
    assert run(r, "MULTI") == b"OK"
    assert run(r, "APPEND", "foo", "bar") == b"QUEUED"
    assert run(r, "SAVE") == ("error", "Command not allowed inside a transaction")
    with pytest.raises(redis.exceptions.ExecAbortError, match=r"Transaction discarded because of previous errors\."):
        r.execute_command("EXEC")
    assert r.exists("foo") == 0


def test_empty_transaction(r: redis.Redis) -> None:
    assert run(r, "MULTI") == b"OK"
    assert run(r, "EXEC") == []


def test_watch_concurrent_change(make_client) -> None:
    first, second = make_client(), make_client()
    first.set(b"k", b"1")
    with first.pipeline(transaction=True) as pipe:
        pipe.watch(b"k")
        assert pipe.get(b"k") == b"1"
        second.set(b"k", b"2")
        pipe.multi()
        pipe.set(b"k", b"3")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert first.get(b"k") == b"2"


def test_watch_unchanged_succeeds_and_own_writes_do_not_count(r: redis.Redis) -> None:
    r.set(b"k", b"1")
    assert run(r, "WATCH", "k", "other") is True
    assert run(r, "MULTI") == b"OK"
    assert run(r, "APPEND", "k", "2") == b"QUEUED"
    assert run(r, "EXEC") == [2]
    # Once EXEC ran, the keys are no longer watched.
    r.set(b"k", b"3")
    assert run(r, "MULTI") == b"OK"
    assert run(r, "EXEC") == []


def test_watch_self_modification_before_multi(r: redis.Redis) -> None:
    r.set(b"k", b"1")
    r.execute_command("WATCH", "k")
    r.set(b"k", b"1")  # same value still counts as a change
    r.execute_command("MULTI")
    r.execute_command("PING")
    assert r.execute_command("EXEC") is None


def test_unwatch_and_discard_forget_watches(make_client) -> None:
    first, second = make_client(), make_client()
    first.execute_command("WATCH", "k")
    second.set(b"k", b"x")
    assert first.execute_command("UNWATCH") is True
    first.execute_command("MULTI")
    first.execute_command("PING")
    assert first.execute_command("EXEC") == [b"PONG"]
    first.execute_command("WATCH", "k")
    second.set(b"k", b"y")
    first.execute_command("MULTI")
    first.execute_command("DISCARD")
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") == []


def test_watch_missing_key(make_client) -> None:
    first, second = make_client(), make_client()
    first.execute_command("WATCH", "k")
    second.delete(b"k")  # deleting nothing is no change
    first.execute_command("MULTI")
    first.execute_command("PING")
    assert first.execute_command("EXEC") == [b"PONG"]
    first.execute_command("WATCH", "k")
    second.set(b"k", b"1")
    second.delete(b"k")
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") is None


def test_watch_flush(make_client) -> None:
    first, second = make_client(), make_client()
    first.execute_command("WATCH", "missing")
    second.set(b"other", b"1")
    second.flushall()
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") == []
    first.set(b"k", b"1")
    first.execute_command("WATCH", "k")
    second.flushdb()
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") is None


def test_watched_key_expiring_fails_exec(r: redis.Redis) -> None:
    r.set(b"k", b"v", px=50)
    r.execute_command("WATCH", "k")
    time.sleep(0.1)
    r.execute_command("MULTI")
    r.execute_command("PING")
    assert r.execute_command("EXEC") is None


def test_watching_an_already_expired_key(r: redis.Redis) -> None:
    r.set(b"k", b"v", px=20)
    time.sleep(0.06)
    r.execute_command("WATCH", "k")
    assert r.get(b"k") is None
    r.execute_command("MULTI")
    r.execute_command("PING")
    assert r.execute_command("EXEC") == [b"PONG"]


def test_watch_other_database(make_client) -> None:
    first, second = make_client(), make_client(db=1)
    first.execute_command("WATCH", "k")
    second.set(b"k", b"1")  # same name, other database
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") == []


def test_transaction_helper_retries(make_client) -> None:
    client, other = make_client(), make_client()
    client.set(b"counter", b"0")
    attempts = []

    def work(pipe: redis.client.Pipeline) -> None:
        value = int(pipe.get(b"counter"))
        if not attempts:
            other.incr(b"counter")
        attempts.append(value)
        pipe.multi()
        pipe.set(b"counter", value + 10)

    client.transaction(work, b"counter")
    assert attempts == [0, 1]
    assert client.get(b"counter") == b"11"


def test_blocking_command_in_exec_does_not_block(r: redis.Redis) -> None:
    r.execute_command("MULTI")
    r.execute_command("BLPOP", "nolist", 0)
    r.execute_command("RPUSH", "l", "a")
    r.execute_command("BLPOP", "l", 0)
    assert r.execute_command("EXEC") == [None, 1, [b"l", b"a"]]


def test_select_inside_transaction(make_client) -> None:
    client = make_client()
    client.execute_command("MULTI")
    client.execute_command("SELECT", 2)
    client.execute_command("SET", "k", "in2")
    assert client.execute_command("EXEC") == [b"OK", b"OK"]
    assert make_client(db=2).get(b"k") == b"in2"


def test_resp3_watch_failure(make_client) -> None:
    first, second = make_client(protocol=3), make_client()
    first.execute_command("WATCH", "k")
    second.set(b"k", b"1")
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") is None


def test_client_list_shows_multi(make_client) -> None:
    client = make_client(decode_responses=True)
    with client.pipeline(transaction=True) as pipe:
        pipe.client_info()
        pipe.ping()
        info, pong = pipe.execute()
    assert pong is True
    assert info["multi"] == "1" or info["multi"] == 1 or info["flags"] == "x"


def test_differential(pair) -> None:
    embedded, real = pair()
    sequences = [
        [("MULTI",), ("SET", "a", "1"), ("INCRBY", "a", "x"), ("GET", "a"), ("EXEC",)],
        [("MULTI",), ("LPUSH", "l", "a"), ("LPOP", "l"), ("LPOP", "l"), ("EXEC",)],
        [("SET", "s", b"\xff\xfe"), ("WATCH", "s", b"\x00k"), ("MULTI",), ("GET", "s"), ("APPEND", "s", "x"), ("EXEC",)],
        [("MULTI",), ("SET", "x"), ("EXEC",), ("EXEC",)],
        [("MULTI",), ("DISCARD",), ("DISCARD",)],
        [("WATCH", "w"), ("SET", "w", "1"), ("MULTI",), ("GET", "w"), ("EXEC",)],
        [("MULTI",), ("UNWATCH",), ("EXEC",)],
        [("MULTI",), ("HSET", "h", "f", "v"), ("HGET", "h", "f"), ("SADD", "h", "m"), ("EXEC",)],
        [("MULTI",), ("SET", "e", "1", "PX", "1"), ("PEXPIRE", "e", "-1"), ("EXISTS", "e"), ("EXEC",)],
        [("MULTI",), ("EVAL", "return redis.call('incr', KEYS[1])", 1, "n"), ("EVAL", "return x", 0), ("EXEC",)],
        [("MULTI",), ("EVAL", "return 1", "x"), ("EXEC",)],
    ]
    for sequence in sequences:
        for client in (embedded, real):
            client.flushall()
        for command in sequence:
            assert normalize(run(embedded, *command)) == normalize(run(real, *command)), command
