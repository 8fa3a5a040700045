"""Keyspace notifications, embedded engine vs redis-server: the same commands must publish the same events.

Both servers get ``notify-keyspace-events`` set, a subscriber on
``__key*__:*`` and the same command sequence (the random sequences of
``test_differential.py``: every write family, scripts, wrong types, bad
arguments); the two streams of (channel, message) must be equal, in order.
The events come from the handlers themselves (``db.notify``), so this is
what checks every family says what it changed, as Redis's do.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.test_differential import ALL_COMMANDS
from tests.helpers import run

EXAMPLES = int(os.environ.get("REDPOCKET_EVENT_EXAMPLES", "300"))
SYNC = b"sync-events"


class EventStream:
    """A subscriber to every keyspace event (and to a marker channel, to know when a sequence's events are in)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe("__key*__:*")
        self.pubsub.subscribe(SYNC)
        for _ in range(2):
            assert self.pubsub.get_message(timeout=5) is not None  # the confirmations

    def drain(self) -> list[tuple[bytes, bytes]]:
        """Return every event published before now, in order."""
        self.client.publish(SYNC, b"end")
        events: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=1)
            if message is None:
                continue
            if message["channel"] == SYNC:
                return events
            events.append((message["channel"], message["data"]))
        raise AssertionError(f"the marker never came; events so far: {events}")

    def close(self) -> None:
        self.pubsub.close()


@pytest.fixture(params=["KEA", "KEAn"])
def streams(pair: Any, request: pytest.FixtureRequest) -> Any:
    """Yield (embedded client, real client, embedded events, real events, flags): notifications on (KEAn: "new" too)."""
    embedded, real = pair(protocol=2)
    for client in (embedded, real):
        client.config_set("notify-keyspace-events", request.param)
    made = (EventStream(embedded), EventStream(real))
    yield embedded, real, *made, request.param
    for stream in made:
        stream.close()
    for client in (embedded, real):
        client.config_set("notify-keyspace-events", "")


def test_del_announces_only_the_keys_it_deleted(streams: Any) -> None:
    embedded, real, embedded_events, real_events, flags = streams
    for client in (embedded, real):
        client.flushall()
        client.set("a", "1")
        client.delete("a", "b")
        client.unlink("c")
    expected = [(b"__keyspace@0__:a", b"set"), (b"__keyevent@0__:set", b"a"),
                (b"__keyspace@0__:a", b"del"), (b"__keyevent@0__:del", b"a")]
    if "n" in flags:
        expected[:0] = [(b"__keyspace@0__:a", b"new"), (b"__keyevent@0__:new", b"a")]
    assert real_events.drain() == expected
    assert embedded_events.drain() == expected


@pytest.mark.parametrize("commands", [
    [[b"RPUSH", b"l", b"a"], [b"LMOVE", b"l", b"m", b"LEFT", b"RIGHT"], [b"RPOPLPUSH", b"m", b"m"]],
    [[b"DECR", b"n"], [b"DECRBY", b"n", b"2"], [b"INCRBYFLOAT", b"n", b"1.5"]],
    [[b"SADD", b"s", b"x"], [b"SMOVE", b"s", b"t", b"x"], [b"SPOP", b"t", b"5"]],
    [[b"SET", b"k", b"v"], [b"MOVE", b"k", b"1"], [b"COPY", b"k", b"c"], [b"SELECT", b"1"],
     [b"COPY", b"k", b"c", b"DB", b"0"], [b"SELECT", b"0"]],
    [[b"ZADD", b"z", b"1", b"a"], [b"ZADD", b"z", b"INCR", b"2", b"a"], [b"ZADD", b"z", b"NX", b"3", b"a"],
     [b"ZINCRBY", b"z", b"1", b"a"], [b"ZRANGESTORE", b"d", b"z", b"5", b"9"], [b"ZPOPMIN", b"z"]],
    [[b"HSET", b"h", b"f", b"1"], [b"HINCRBY", b"h", b"f", b"2"], [b"HDEL", b"h", b"f", b"g"]],
    [[b"SET", b"e", b"1"], [b"EXPIRE", b"e", b"100"], [b"PERSIST", b"e"], [b"PEXPIRE", b"e", b"1"]],
    [[b"SETBIT", b"b", b"3", b"1"], [b"SETBIT", b"b", b"3", b"1"], [b"BITOP", b"NOT", b"o", b"missing"],
     [b"PFADD", b"p", b"x"], [b"PFADD", b"p", b"x"], [b"PFMERGE", b"q", b"p"]],
    [[b"RPUSH", b"l", b"3", b"1"], [b"SORT", b"l", b"STORE", b"sorted"], [b"SORT", b"none", b"STORE", b"sorted"]],
])
def test_each_family_announces_what_redis_does(streams: Any, commands: list[list[bytes]]) -> None:
    embedded, real, embedded_events, real_events, _ = streams
    for client in (real, embedded):
        client.flushall()
        for argv in commands:
            run(client, *argv)
        if commands[0] == [b"SET", b"e", b"1"]:
            time.sleep(0.01)
            run(client, "GET", "e")  # expires it: "expired"
    assert embedded_events.drain() == real_events.drain()


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(ALL_COMMANDS, min_size=1, max_size=25))
def test_random_sequences_publish_the_same_events(streams: Any, commands: list[list[bytes]]) -> None:
    embedded, real, embedded_events, real_events, _ = streams
    for client in (embedded, real):
        client.flushall()
    for argv in commands:
        run(real, *argv)
        run(embedded, *argv)
    expected = real_events.drain()
    assert embedded_events.drain() == expected, commands
