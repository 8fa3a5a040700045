"""Error counters, embedded engine vs redis-server: INFO errorstats, total_error_replies, rejected/failed calls.

Redis 7.0 counts every error reply by its code (``errorstat_ERR``,
``errorstat_WRONGTYPE`` ...), unknown commands included, and per command
the errors before it ran (``rejected_calls``: arity, MULTI state) apart
from those while it ran (``failed_calls``).  The same command sequences go
to both servers and the counters must be equal.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.test_differential import HASHES, HYPERLOGLOG, KEYSPACE, LISTS, MALFORMED, SETS, STRINGS, ZSETS
from tests.helpers import run

EXAMPLES = int(os.environ.get("REDPOCKET_ERRORSTATS_EXAMPLES", "150"))
# Every family but scripting (a script's errors are counted by rules of their own).
COMMANDS = st.one_of(*STRINGS, *KEYSPACE, *HASHES, *LISTS, *SETS, *ZSETS, *HYPERLOGLOG, *MALFORMED)


def counters(client: redis.Redis) -> tuple[Any, Any, Any]:
    """Return (errorstats, total_error_replies, calls/rejected/failed per command) of one server."""
    errors = client.info("errorstats")
    total = client.info("stats")["total_error_replies"]
    commands = {
        name: (stats["calls"], stats["rejected_calls"], stats["failed_calls"])
        for name, stats in client.info("commandstats").items()
    }
    return errors, total, commands


def compare(embedded: redis.Redis, real: redis.Redis, commands: list[list[bytes]]) -> None:
    for client in (embedded, real):
        client.flushall()
        client.config_resetstat()
        for argv in commands:
            run(client, *argv)
    assert counters(embedded) == counters(real), commands


@pytest.mark.parametrize("commands", [
    [[b"NOSUCH"], [b"GET"], [b"SET", b"k"], [b"SET", b"k", b"v"], [b"LPUSH", b"k", b"x"], [b"INCR", b"k"]],
    [[b"MULTI"], [b"SET", b"k"], [b"INCR", b"k"], [b"EXEC"]],
    [[b"MULTI"], [b"SET", b"k", b"x"], [b"INCR", b"k"], [b"LPUSH", b"k", b"a"], [b"EXEC"], [b"EXEC"], [b"DISCARD"]],
    [[b"CONFIG", b"NOSUCH"], [b"CONFIG", b"GET"], [b"OBJECT", b"ENCODING", b"none"], [b"MSET", b"a", b"1", b"b"]],
    [[b"ZADD", b"z", b"XX", b"NX", b"1", b"a"], [b"HSET", b"h", b"f"], [b"SADD", b"s", b"1"], [b"HGET", b"s", b"f"]],
])
def test_error_counters_match_redis(pair: Any, commands: list[list[bytes]]) -> None:
    embedded, real = pair(protocol=2)
    compare(embedded, real, commands)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(COMMANDS, min_size=1, max_size=20))
def test_random_sequences_count_the_same_errors(pair: Any, commands: list[list[bytes]]) -> None:
    embedded, real = pair(protocol=2)
    compare(embedded, real, commands)
