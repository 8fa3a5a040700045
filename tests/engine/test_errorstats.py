"""INFO errorstats, total_error_replies and each command's rejected/failed calls, compared with Redis 7.0.15."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

SHA_MISSING = "ffffffffffffffffffffffffffffffffffffffff"

# Each case: commands sent in order on one connection; the counters afterwards must equal Redis's.
CASES: dict[str, list[tuple[Any, ...]]] = {
    "unknown command": [("NOSUCHCMD", "a"), ("nosuchcmd",)],
    "arity": [("GET",), ("SET", "k"), ("CONFIG",)],
    "unknown subcommand": [("CONFIG", "NOSUCH"), ("CLIENT", "NOSUCH", "x")],
    "wrong type and syntax": [("SET", "s", "x"), ("LPUSH", "s", "y"), ("INCR", "s"), ("SET", "a", "1", "XX", "NX"),
                              ("HGET", "s", "f")],
    "queued error aborts EXEC": [("MULTI",), ("NOSUCHCMD",), ("SET", "a", "1"), ("GET",), ("EXEC",)],
    "errors inside EXEC": [("SET", "s", "x"), ("MULTI",), ("LPUSH", "s", "y"), ("INCR", "s"), ("SET", "a", "1"),
                           ("EXEC",)],
    "EXEC refused": [("MULTI",), ("EXEC", "extra")],
    "EXEC and DISCARD without MULTI": [("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("DISCARD",)],
    "script passes a command's error on": [("SET", "s", "x"), ("EVAL", "return redis.call('incr', KEYS[1])", 1, "s")],
    "script returns pcall's error": [("SET", "s", "x"), ("EVAL", "return redis.pcall('incr', KEYS[1])", 1, "s")],
    "script catches an error": [("SET", "s", "x"), ("EVAL", "local r = redis.pcall('incr', KEYS[1]) return 1", 1, "s")],
    "script error_reply": [("EVAL", "return redis.error_reply('MYERR boom')", 0),
                           ("EVAL", "return {err='OTHER x'}", 0)],
    "script runtime error": [("EVAL", "return nosuchfunc()", 0), ("EVAL", "syntax error here", 0)],
    "script calls what it may not": [("EVAL", "return redis.call('nosuch')", 0), ("EVAL", "return redis.call('get')", 0),
                                     ("EVAL", "return redis.call('multi')", 0),
                                     ("EVAL_RO", "return redis.call('set', 'k', 'v')", 0)],
    "NOSCRIPT": [("EVALSHA", SHA_MISSING, 0), ("EVALSHA", SHA_MISSING, 0)],
    "counters reset": [("NOSUCHCMD",), ("INCR", "x", "y"), ("CONFIG", "RESETSTAT"), ("GET",)],
}


def _comparable(reply: Any) -> Any:
    if isinstance(reply, list):
        return [_comparable(item) for item in reply]
    if isinstance(reply, redis.ResponseError):
        return ("error", str(reply).split(" ")[0])
    return reply


def reply_or_error(client: redis.Redis, argv: tuple[Any, ...]) -> Any:
    try:
        return _comparable(client.execute_command(*argv))
    except redis.ResponseError as error:
        return _comparable(error)


def info_text(client: redis.Redis, *sections: str) -> bytes:
    """Return INFO's text as sent (redis-py's callback would parse it into a dict), on the client's one connection.

    (A new connection would count errors of its own: redis-py's CLIENT SETINFO is unknown to Redis 7.0.)
    """
    connection = client.connection
    assert connection is not None, "use a single_connection_client"
    connection.send_command("INFO", *sections)
    return bytes(connection.read_response())


def counters(client: redis.Redis) -> dict[str, Any]:
    """Return the error counters INFO shows: errorstats as sent, total_error_replies, and each command's calls."""
    errorstats = info_text(client, "errorstats")
    stats = client.info("stats")
    commandstats = {
        name: {field: value for field, value in stat.items() if field in ("calls", "rejected_calls", "failed_calls")}
        for name, stat in client.info("commandstats").items()
    }
    return {"errorstats": errorstats, "total_error_replies": stats["total_error_replies"], "commandstats": commandstats}


@pytest.mark.parametrize("case", list(CASES))
def test_error_counters_match_redis(pair, case: str) -> None:
    embedded, real = pair(single_connection_client=True)
    for client in (embedded, real):
        client.execute_command("CONFIG", "RESETSTAT")
    replies = [(reply_or_error(embedded, argv), reply_or_error(real, argv)) for argv in CASES[case]]
    assert [mine for mine, _ in replies] == [theirs for _, theirs in replies]
    mine, theirs = counters(embedded), counters(real)
    assert mine == theirs


def test_errorstats_section_layout() -> None:
    client = EmbeddedRedis(Engine(), single_connection_client=True)
    client.config_resetstat()
    for argv in (("NOSUCH",), ("SET", "s", "x"), ("LPUSH", "s", "y"), ("GET",)):
        reply_or_error(client, argv)
    text = info_text(client, "errorstats")
    assert text == b"# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
    everything = info_text(client, "everything").decode()
    assert re.search(r"\r\n# Errorstats\r\nerrorstat_ERR:count=2\r\n", everything)
    assert client.info("stats")["total_error_replies"] == 3
    assert client.info("commandstats")["cmdstat_get"] == {
        "calls": 0, "usec": 0, "usec_per_call": 0.0, "rejected_calls": 1, "failed_calls": 0}


def test_client_unblock_error_is_counted_like_redis(pair) -> None:
    embedded, real = pair(single_connection_client=True)
    admins = pair()
    results = []
    for client, admin in ((embedded, admins[0]), (real, admins[1])):
        client_id = client.client_id()
        admin.config_resetstat()
        outcome: list[object] = []
        reader = threading.Thread(target=lambda c=client, out=outcome: out.append(reply_or_error(c, ("BLPOP", "nothing", 0))))
        reader.start()
        while not admin.client_unblock(client_id, error=True):
            time.sleep(0.005)
        reader.join(5)
        # (not commandstats: redpocket counts a command that blocked once per attempt, Redis once)
        seen = counters(client)
        results.append((outcome, seen["errorstats"], seen["total_error_replies"]))
    assert results[0] == results[1]
    assert results[0][0] == [("error", "UNBLOCKED")]


# Commands that succeed or fail in the ways a client meets: wrong types, bad numbers, arity, unknown
# names, transactions and scripts; random sequences of them must leave the counters Redis leaves.
KEYS = st.sampled_from(["s", "l", "n"])
SEQUENCE_COMMANDS = st.one_of(
    st.tuples(st.just("SET"), KEYS, st.sampled_from(["x", "5"])),
    st.tuples(st.just("INCR"), KEYS),
    st.tuples(st.just("INCRBY"), KEYS, st.sampled_from(["2", "x", "9223372036854775807"])),
    st.tuples(st.just("LPUSH"), KEYS, st.just("v")),
    st.tuples(st.just("LINDEX"), KEYS, st.sampled_from(["0", "x"])),
    st.tuples(st.just("HGET"), KEYS, st.just("f")),
    st.tuples(st.just("GET")),
    st.tuples(st.just("EXPIRE"), KEYS, st.sampled_from(["10", "-1", "x"])),
    st.tuples(st.sampled_from(["NOSUCH", "CONFIG NOSUCH", "OBJECT"])),
    st.tuples(st.sampled_from(["MULTI", "EXEC", "DISCARD"])),
    st.tuples(st.just("EVAL"), st.sampled_from([
        "return redis.call('incr', KEYS[1])", "return redis.pcall('incr', KEYS[1])",
        "return redis.error_reply('CUSTOM failed')", "return redis.call('nosuch')", "error(",
    ]), st.just("1"), KEYS),
)


@settings(max_examples=int(os.environ.get("REDPOCKET_DIFF_EXAMPLES", "40")), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(SEQUENCE_COMMANDS, min_size=1, max_size=20))
def test_random_sequences_leave_redis_counters(pair, commands: list[tuple[str, ...]]) -> None:
    embedded, real = pair(single_connection_client=True)
    for client in (embedded, real):  # (new connections: no transaction is left open)
        client.flushall()
        client.execute_command("CONFIG", "RESETSTAT")
    for command in [*commands, ("DISCARD",)]:  # (a sequence may end inside MULTI; INFO would be queued)
        argv = tuple(command[0].split()) + tuple(command[1:])
        mine, theirs = reply_or_error(embedded, argv), reply_or_error(real, argv)
        assert mine == theirs, argv
    assert counters(embedded) == counters(real)
