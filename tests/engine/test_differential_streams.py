"""Property-based differential test of the stream commands: embedded engine vs redis-server.

Hypothesis draws sequences of stream commands (XADD with explicit and
``ms-*`` IDs and trimming, ranges, XDEL, XTRIM, consumer groups, XREADGROUP,
XACK, XPENDING, XCLAIM, XAUTOCLAIM, XSETID, XINFO, wrong types and bad
arguments), sends each to the embedded engine and to a real redis-server,
and compares the raw replies (no redis-py callbacks) under RESP2 and RESP3.

Nothing here depends on the clock: IDs are explicit (``*`` takes the time),
idle thresholds are 0 or far above any test's run time, and the fields
Redis fills from the wall clock (XPENDING's idle time, XINFO's seen-time
and delivery times, a consumer's idle time) are compared as "present and
an integer", not by value.  Both servers run with small stream nodes
(``stream-node-max-entries 3``, ``stream-node-max-bytes 120``) so
approximate trimming, tombstones and node turnover happen within a few
commands.

``REDPOCKET_DIFF_EXAMPLES`` sets the number of sequences per protocol (default 1000).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("REDPOCKET_DIFF_EXAMPLES", "1000"))
NODE_SETTINGS = {"stream-node-max-entries": "3", "stream-node-max-bytes": "120"}

key = st.sampled_from([b"s1", b"s2", b"str"])
stream_key = st.sampled_from([b"s1", b"s2"])
new_id = st.sampled_from([b"1", b"1-1", b"1-2", b"2-*", b"3-0", b"3-*", b"5", b"5-*", b"7-1", b"9-9", b"10-*",
                          b"0-0", b"0-*", b"0-1", b"abc", b"+", b"-", b"-1", b"1-", b"12", b"15-3", b"20"])
some_id = st.sampled_from([b"0", b"0-0", b"1", b"1-1", b"3", b"3-0", b"5-0", b"7", b"9-9", b"10", b"12-0",
                           b"18446744073709551615-18446744073709551615", b"x", b"-", b"+"])
bound = st.sampled_from([b"-", b"+", b"0", b"1", b"1-1", b"(1-1", b"3", b"(3", b"5-0", b"(5-0", b"9", b"(9",
                         b"(0-0", b"(18446744073709551615-18446744073709551615", b"(-", b"x"])
field = st.sampled_from([b"f", b"g", b"h", b"1", b"f" * 40])
value = st.sampled_from([b"v", b"1", b"-5", b"123456", b"", b"x" * 30, b"01"])
count = st.sampled_from([b"0", b"1", b"2", b"3", b"-1", b"100", b"x"])
group = st.sampled_from([b"g1", b"g2"])
consumer = st.sampled_from([b"c1", b"c2", b"c3"])
threshold = st.sampled_from([b"0", b"1", b"2", b"3", b"5", b"-1", b"x"])
min_idle = st.sampled_from([b"0", b"3600000", b"-5", b"x"])


def cmd(*parts: Any) -> st.SearchStrategy[list[bytes]]:
    """Build a strategy for one command from fixed words and strategies."""
    strategies = [st.just([p]) if isinstance(p, bytes) else p.map(lambda v: v if isinstance(v, list) else [v]) for p in parts]
    return st.tuples(*strategies).map(lambda chunks: [arg for chunk in chunks for arg in chunk])


def opt(*choices: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    """An optional group of arguments: one of ``choices`` or nothing."""
    return st.sampled_from([[], *choices])


trim = st.one_of(
    st.just([]),
    st.tuples(st.sampled_from([b"MAXLEN", b"maxlen"]), st.sampled_from([[], [b"="], [b"~"]]), threshold,
              st.sampled_from([[], [b"LIMIT", b"1"], [b"LIMIT", b"0"], [b"LIMIT", b"5"]])).map(
        lambda t: [t[0], *t[1], t[2], *t[3]]),
    st.tuples(st.sampled_from([b"MINID"]), st.sampled_from([[], [b"="], [b"~"]]), some_id,
              st.sampled_from([[], [b"LIMIT", b"2"]])).map(lambda t: [t[0], *t[1], t[2], *t[3]]),
    st.just([b"MAXLEN", b"1", b"MINID", b"1"]),
    st.just([b"LIMIT", b"2"]),
)
fields = st.lists(st.tuples(field, value), min_size=1, max_size=3).map(lambda pairs: [x for pair in pairs for x in pair])

COMMANDS = [
    st.tuples(key, st.sampled_from([[], [b"NOMKSTREAM"]]), trim, new_id, fields).map(
        lambda t: [b"XADD", t[0], *t[1], *t[2], t[3], *t[4]]),
    cmd(b"XADD", stream_key, new_id, b"f"),
    cmd(st.sampled_from([b"XRANGE", b"XREVRANGE"]), key, bound, bound, opt([b"COUNT", b"2"], [b"COUNT", b"0"], [b"COUNT", b"-1"], [b"COUNT"], [b"LIMIT", b"1"])),
    cmd(b"XLEN", key),
    cmd(b"XDEL", key, some_id, opt([b"5-0"], [b"x"])),
    st.tuples(key, trim).map(lambda t: [b"XTRIM", t[0], *t[1]]),
    cmd(b"XREAD", opt([b"COUNT", b"2"], [b"COUNT", b"0"], [b"BLOCK", b"-1"], [b"GROUP", b"g1", b"c1"], [b"NOACK"]),
        b"STREAMS", key, opt([b"s2"]), st.sampled_from([[b"0"], [b"$"], [b"3-0"], [b">"], [b"0", b"0"], [b"x"]])),
    cmd(b"XGROUP", b"CREATE", key, group, st.sampled_from([b"0", b"$", b"3-0", b"x", b"-"]),
        opt([b"MKSTREAM"], [b"ENTRIESREAD", b"2"], [b"ENTRIESREAD", b"-2"], [b"MKSTREAM", b"ENTRIESREAD", b"0"], [b"BOGUS"])),
    cmd(b"XGROUP", b"SETID", key, group, st.sampled_from([b"0", b"$", b"3-0", b"+", b"x"]),
        opt([b"ENTRIESREAD", b"1"], [b"ENTRIESREAD"], [b"MKSTREAM"])),
    cmd(b"XGROUP", b"DESTROY", key, group),
    cmd(b"XGROUP", st.sampled_from([b"CREATECONSUMER", b"DELCONSUMER"]), key, group, consumer),
    cmd(b"XGROUP", st.sampled_from([b"HELP", b"NOPE"])),
    cmd(b"XREADGROUP", b"GROUP", group, consumer, opt([b"COUNT", b"1"], [b"COUNT", b"2"], [b"NOACK"], [b"BLOCK", b"-5"]),
        b"STREAMS", key, opt([b"s2"]), st.sampled_from([[b">"], [b"0"], [b"3-0"], [b"$"], [b">", b">"], [b"0", b">"]])),
    cmd(b"XACK", key, group, some_id, opt([b"1-1"], [b"x"])),
    cmd(b"XPENDING", key, group),
    cmd(b"XPENDING", key, group, opt([b"IDLE", b"0"], [b"IDLE", b"3600000"], [b"IDLE", b"x"]), bound, bound, count,
        opt([b"c1"], [b"c2"], [b"c9"])),
    cmd(b"XCLAIM", key, group, consumer, min_idle, some_id, opt([b"1-1"], [b"3-0"]),
        opt([b"JUSTID"], [b"FORCE"], [b"FORCE", b"JUSTID"], [b"RETRYCOUNT", b"5"], [b"LASTID", b"9-0"], [b"LASTID", b"x"],
            [b"IDLE", b"x"], [b"BOGUS"], [b"TIME", b"x"], [b"RETRYCOUNT", b"5", b"JUSTID"])),
    cmd(b"XAUTOCLAIM", key, group, consumer, min_idle, st.sampled_from([b"0", b"3-0", b"(1-1", b"x", b"-", b"+"]),
        opt([b"COUNT", b"1"], [b"COUNT", b"2"], [b"COUNT", b"0"], [b"JUSTID"], [b"COUNT", b"1", b"JUSTID"], [b"NOPE"])),
    cmd(b"XSETID", key, st.sampled_from([b"0-0", b"3-0", b"9-9", b"20-0", b"x", b"+"]),
        opt([b"ENTRIESADDED", b"3"], [b"ENTRIESADDED", b"100"], [b"ENTRIESADDED", b"-1"], [b"MAXDELETEDID", b"9-0"],
            [b"MAXDELETEDID", b"30-0"], [b"BOGUS", b"1"])),
    cmd(b"XINFO", b"STREAM", key, opt([b"FULL"], [b"FULL", b"COUNT", b"1"], [b"FULL", b"COUNT", b"0"], [b"FULLY"])),
    cmd(b"XINFO", b"GROUPS", key),
    cmd(b"XINFO", b"CONSUMERS", key, group),
    cmd(b"XINFO", b"HELP"),
    cmd(b"SET", b"str", b"x"), cmd(b"DEL", stream_key), cmd(b"TYPE", key), cmd(b"OBJECT", b"ENCODING", key),
    cmd(b"COPY", b"s1", b"s2", opt([b"REPLACE"])),
]
ALL_COMMANDS = st.one_of(*COMMANDS)


def _blank_times(reply: Any, argv: list[bytes]) -> Any:
    """Replace the wall-clock fields of a reply by ``"time"`` once checked to be integers."""
    name = argv[0].upper()
    sub = argv[1].upper() if len(argv) > 1 else b""

    def stamp(value: Any) -> str:
        assert isinstance(value, int), value
        return "time"

    if name == b"XPENDING" and len(argv) > 3 and isinstance(reply, list):
        return [[item[0], item[1], stamp(item[2]), item[3]] for item in reply]
    if name == b"XINFO" and sub == b"CONSUMERS" and isinstance(reply, list):
        return [_map_times(item, {b"idle"}, stamp) for item in reply]
    if name == b"XINFO" and sub == b"STREAM" and len(argv) > 3 and isinstance(reply, list | dict):
        info = _as_pairs(reply)
        out = []
        for label, item in info:
            if label == b"groups" and isinstance(item, list):
                item = [_full_group(group, stamp) for group in item]
            out.append((label, item))
        return out
    return reply


def _as_pairs(reply: Any) -> list[tuple[Any, Any]]:
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2], strict=True))


def _map_times(reply: Any, names: set[bytes], stamp: Any) -> list[tuple[Any, Any]]:
    return [(label, stamp(item) if label in names else item) for label, item in _as_pairs(reply)]


def _full_group(group: Any, stamp: Any) -> list[tuple[Any, Any]]:
    out = []
    for label, item in _as_pairs(group):
        if label == b"pending":
            item = [[entry[0], entry[1], stamp(entry[2]), entry[3]] for entry in item]
        elif label == b"consumers":
            consumers = []
            for each in item:
                pairs = []
                for name, part in _map_times(each, {b"seen-time"}, stamp):
                    if name == b"pending":
                        part = [[entry[0], stamp(entry[1]), entry[2]] for entry in part]
                    pairs.append((name, part))
                consumers.append(pairs)
            item = consumers
        out.append((label, item))
    return out


def outcome(client: redis.Redis, argv: list[bytes]) -> Any:
    """Execute ``argv`` and return its raw reply (times blanked), or the error's class and text."""
    try:
        reply = client.execute_command(*argv)
    except redis.ResponseError as error:
        return (type(error).__name__, str(error))
    return _blank_times(reply, argv)


@pytest.fixture
def stream_pair(pair: Any) -> Iterator[Any]:
    """A factory of raw (embedded, real) client pairs, both with small stream nodes."""
    made: list[redis.Redis] = []

    def make(protocol: int) -> tuple[redis.Redis, redis.Redis]:
        embedded, real = pair(protocol=protocol)
        for client in (embedded, real):
            client.response_callbacks = {}
            for name, setting in NODE_SETTINGS.items():
                client.config_set(name, setting)
        made.append(real)
        return embedded, real

    yield make
    for real in made:
        real.config_set("stream-node-max-entries", "100")
        real.config_set("stream-node-max-bytes", "4096")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(ALL_COMMANDS, min_size=1, max_size=30))
def test_random_stream_sequences_match_redis(stream_pair: Any, protocol: int, commands: list[list[bytes]]) -> None:
    embedded, real = stream_pair(protocol)
    embedded.flushall()
    real.flushall()
    for argv in commands:
        expected = outcome(real, argv)
        got = outcome(embedded, argv)
        assert got == expected, f"{argv!r}: embedded {got!r} != redis {expected!r}"


@pytest.mark.parametrize(("node_entries", "node_bytes"), [("100", "4096"), ("5", "200"), ("0", "50"), ("1", "0")])
def test_long_streams_trim_like_redis(pair: Any, node_entries: str, node_bytes: str) -> None:
    """Hundreds of XADDs with approximate and exact trimming and deletions: same entries, same nodes."""
    import random

    embedded, real = pair(protocol=2)
    rng = random.Random(f"{node_entries}/{node_bytes}")
    try:
        for client in (embedded, real):
            client.response_callbacks = {}
            client.config_set("stream-node-max-entries", node_entries)
            client.config_set("stream-node-max-bytes", node_bytes)
        ms = 0
        for step in range(600):
            roll = rng.random()
            if roll < 0.75:
                ms += rng.choice([0, 1, 1000, 2**33, 2**40])
                fields = [rng.choice([b"a", b"b", b"12", b"-7", b"x" * 70]) for _ in range(rng.choice([2, 4]))]
                trim = rng.choice([[], [], [b"MAXLEN", b"~", b"%d" % rng.randint(0, 60)],
                                   [b"MINID", b"~", b"%d" % (ms // 2)], [b"MAXLEN", b"%d" % rng.randint(0, 90)],
                                   [b"MAXLEN", b"~", b"10", b"LIMIT", b"%d" % rng.randint(0, 20)]])
                argv = [b"XADD", b"s", *trim, b"%d-*" % ms, *fields]
            elif roll < 0.9:
                argv = [b"XDEL", b"s", b"%d-%d" % (rng.randint(0, ms), rng.randint(0, 3))]
            else:
                argv = [b"XTRIM", b"s", b"MAXLEN", b"~", b"%d" % rng.randint(0, 100)]
            assert outcome(embedded, argv) == outcome(real, argv), argv
            if step % 25 == 0:
                info = [b"XINFO", b"STREAM", b"s"]
                assert outcome(embedded, info) == outcome(real, info), step
        everything = [b"XRANGE", b"s", b"-", b"+"]
        assert outcome(embedded, everything) == outcome(real, everything)
    finally:
        real.config_set("stream-node-max-entries", "100")
        real.config_set("stream-node-max-bytes", "4096")
