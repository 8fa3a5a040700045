"""Streams in the RDB format: DUMP byte-identical to redis-server 7.0.15, RESTORE both ways, dump.rdb both ways.

Shapes with explicit IDs (so Redis's bytes depend on nothing but the
commands) are compared byte for byte; groups hold wall-clock times
(delivery, seen), so those are compared after RESTORE both ways, where
the restored side must DUMP the very bytes it was given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from persistence_helpers import Opener, close
from tests.engine.rdb_values import ELEMENTS, reseal
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import persistence_of
from redpocket.engine.persistence.rdb_file import capture, load_rdb, write_rdb_file
from redpocket.engine.persistence.rdb_listpack import build_listpack
from redpocket.engine.persistence.rdb_primitives import encode_length, encode_string

EXAMPLES = int(os.environ.get("REDPOCKET_HYPOTHESIS_EXAMPLES", "60"))
NODE_DEFAULTS = {"stream-node-max-entries": "100", "stream-node-max-bytes": "4096"}


def _adds(count: int, **fields: Any) -> list[list[Any]]:
    return [["XADD", "k", f"{i}-0", *[item for pair in fields.items() for item in (pair[0], f"{pair[1]}{i}")]]
            for i in range(1, count + 1)]


# name -> commands that build stream "k" (explicit IDs only: Redis's bytes are deterministic)
SHAPES: dict[str, list[list[Any]]] = {
    "one-entry": [["XADD", "k", "1-1", "field", "value"]],
    "nodes-by-entries": [["CONFIG", "SET", "stream-node-max-entries", "5"]]
    + [["XADD", "k", f"{i}-{i % 3}", "a", str(i), "b", "x" * (i % 70)] for i in range(1, 40)],
    "nodes-by-bytes": [["CONFIG", "SET", "stream-node-max-bytes", "300"]]
    + [["XADD", "k", f"{i}-0", "f", "v" * i] for i in range(1, 40)],
    "same-and-different-fields": [
        ["XADD", "k", "5-10", "a", "1"], ["XADD", "k", "5-11", "a", "2", "b", "3"], ["XADD", "k", "6-0", "b", "1"],
        ["XADD", "k", "6-1", "a", "x"], ["XADD", "k", "1099511627776-0", "a", "-1"],  # ms delta past 32 bits
        ["XADD", "k", "1099511627777-5", "a", "9223372036854775807", "c", "-9223372036854775808"],
    ],
    "deleted-entries": [["CONFIG", "SET", "stream-node-max-entries", "4"], *_adds(19, f=""),
                        ["XDEL", "k", "2-0", "3-0", "5-0", "6-0", "7-0", "8-0", "19-0"],
                        ["XADD", "k", "20-0", "f", "again"]],
    "trimmed-exactly": [["CONFIG", "SET", "stream-node-max-entries", "4"], *_adds(19, f=""),
                        ["XTRIM", "k", "MAXLEN", "10"], ["XTRIM", "k", "MINID", "12"]],
    "trimmed-approximately": [["CONFIG", "SET", "stream-node-max-entries", "4"], *_adds(19, f=""),
                              ["XTRIM", "k", "MAXLEN", "~", "10"], ["XTRIM", "k", "MINID", "~", "14"]],
    "xadd-with-maxlen": [["CONFIG", "SET", "stream-node-max-entries", "3"]]
    + [["XADD", "k", "MAXLEN", "~", "5", f"{i}-0", "n", str(i)] for i in range(1, 30)],
    "emptied": [["XADD", "k", "1-0", "f", "v"], ["XDEL", "k", "1-0"]],
    "empty-with-counters": [["XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"],
                            ["XSETID", "k", "5-5", "ENTRIESADDED", "9", "MAXDELETEDID", "5-0"],
                            ["XGROUP", "CREATE", "k", "h", "0", "ENTRIESREAD", "3"]],
    "big-and-binary-values": [["XADD", "k", "1-0", "f", "y" * 5000, "g", bytes(range(256)) * 3, "h", "z" * 100]],
    "compressible-listpack": _adds(60, name="the same words again and again ", n=""),
    "groups-without-pending": [*_adds(5, f=""), ["XGROUP", "CREATE", "k", "g", "0"],
                               ["XGROUP", "CREATE", "k", "12345678901", "3-0"], ["XGROUP", "SETID", "k", "g", "2-0"],
                               ["XDEL", "k", "4-0"], ["XGROUP", "CREATE", "k", "after-delete", "$"]],
}

# Groups with PELs and consumers: their times are the clock's, so these are compared after RESTORE.
GROUPS: list[list[Any]] = [
    ["CONFIG", "SET", "stream-node-max-entries", "4"], *_adds(19, f="", g="x"),
    ["XGROUP", "CREATE", "k", "g", "0"], ["XGROUP", "CREATE", "k", "h", "$"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "5", "STREAMS", "k", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "COUNT", "3", "STREAMS", "k", ">"],
    ["XREADGROUP", "GROUP", "g", "noack", "COUNT", "2", "NOACK", "STREAMS", "k", ">"],
    ["XACK", "k", "g", "2-0"], ["XCLAIM", "k", "g", "dave", "0", "3-0", "RETRYCOUNT", "7"],
    ["XAUTOCLAIM", "k", "g", "erin", "0", "0-0", "COUNT", "1"],
    ["XGROUP", "CREATECONSUMER", "k", "h", "idle"], ["XDEL", "k", "10-0"],
    ["XGROUP", "CREATE", "k", "z", "7-0"], ["XGROUP", "SETID", "k", "z", "8-0"],
]


@pytest.fixture
def streams(pair) -> Iterator[Callable[[], tuple[redis.Redis, redis.Redis]]]:
    """Return ``pair`` whose node limits go back to Redis's defaults on both sides afterwards."""
    made: list[redis.Redis] = []

    def make() -> tuple[redis.Redis, redis.Redis]:
        embedded, real = pair()
        made.extend((embedded, real))
        return embedded, real

    yield make
    for client in made:
        for name, value in NODE_DEFAULTS.items():
            client.config_set(name, value)
        client.config_set("sanitize-dump-payload", "no")


def full(client: redis.Redis, key: str) -> Any:
    """Return ``XINFO STREAM key FULL``: everything a stream holds, groups and PELs included."""
    return client.execute_command("XINFO", "STREAM", key, "FULL")


def build_both(embedded: redis.Redis, real: redis.Redis, commands: list[list[Any]]) -> None:
    """Run ``commands`` on both sides, requiring the same replies (times aside)."""
    for argv in commands:
        ours, theirs = run(embedded, *argv), run(real, *argv)
        if argv[0] not in ("XREADGROUP", "XCLAIM", "XAUTOCLAIM"):
            assert ours == theirs, argv


def assert_restores_both_ways(embedded: redis.Redis, real: redis.Redis) -> None:
    """DUMP ``k`` on each side, RESTORE on the other: the same stream, and the same bytes dumped back."""
    for source, target in ((real, embedded), (embedded, real)):
        payload = source.dump("k")
        assert run(target, "RESTORE", "back", 0, payload, "REPLACE") == b"OK"
        assert full(target, "back") == full(source, "k")
        assert target.dump("back") == payload


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_dump_of_a_stream_is_byte_identical_to_redis(streams, shape: str) -> None:
    embedded, real = streams()
    build_both(embedded, real, SHAPES[shape])
    assert embedded.dump("k") == real.dump("k")
    assert full(embedded, "k") == full(real, "k")
    assert_restores_both_ways(embedded, real)


def test_groups_with_pending_entries_and_consumers_restore_both_ways(streams) -> None:
    embedded, real = streams()
    build_both(embedded, real, GROUPS)
    assert [group["pel-count"] for group in real.xinfo_stream("k", full=True)["groups"]] == [7, 0, 0]
    assert_restores_both_ways(embedded, real)
    # A restored group goes on working: its PEL, consumers and counters are live.
    for client in (embedded, real):
        assert client.xpending("back", "g")["consumers"] == [
            {"name": b"alice", "pending": 2}, {"name": b"bob", "pending": 3},
            {"name": b"dave", "pending": 1}, {"name": b"erin", "pending": 1}]
        assert client.xack("back", "g", "1-0", "4-0") == 2
        assert len(client.xreadgroup("g", "frank", {"back": ">"})[0][1]) == 9


def test_migrate_moves_a_stream_with_its_groups_to_redis(streams) -> None:
    embedded, real = streams()
    for argv in GROUPS:
        embedded.execute_command(*argv)
    expected, payload = full(embedded, "k"), embedded.dump("k")
    port = int(real.connection_pool.connection_kwargs["port"])
    assert run(embedded, "MIGRATE", "127.0.0.1", port, "k", 0, 5000) == b"OK"
    assert embedded.exists("k") == 0
    assert full(real, "k") == expected and real.dump("k") == payload


# -- random streams ---------------------------------------------------------------------------------------------------

_FIELD_NAMES = st.sampled_from([b"a", b"b", b"field", b"12", b"-1", b"x" * 70])


@st.composite
def stream_commands(draw: st.DrawFn) -> list[list[Any]]:
    """Draw node limits and a sequence of XADD / XDEL / XTRIM with explicit IDs."""
    commands: list[list[Any]] = [
        ["CONFIG", "SET", "stream-node-max-entries", str(draw(st.integers(0, 12)))],
        ["CONFIG", "SET", "stream-node-max-bytes", str(draw(st.sampled_from([0, 60, 150, 400, 4096])))],
    ]
    ms, seq, added = 1, 0, 0
    for _ in range(draw(st.integers(1, 60))):
        action = draw(st.sampled_from(["add", "add", "add", "add", "del", "trim"]))
        if action == "add" or not added:
            if draw(st.booleans()):
                ms += draw(st.sampled_from([1, 2, 1000, 2**33]))
                seq = draw(st.sampled_from([0, 5, 2**40]))
            else:
                seq += 1
            names = draw(st.lists(_FIELD_NAMES, min_size=1, max_size=3))
            fields = [item for name in names for item in (name, draw(ELEMENTS))]
            commands.append(["XADD", "k", f"{ms}-{seq}", *fields])
            added += 1
        elif action == "del":
            commands.append(["XDEL", "k", f"{draw(st.integers(1, ms))}-{draw(st.sampled_from([0, 1, 5, seq]))}"])
        else:
            exact = draw(st.sampled_from(["=", "~"]))
            if draw(st.booleans()):
                commands.append(["XTRIM", "k", "MAXLEN", exact, str(draw(st.integers(0, added)))])
            else:
                commands.append(["XTRIM", "k", "MINID", exact, f"{draw(st.integers(1, ms))}-0"])
    return commands


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=stream_commands())
def test_random_streams_dump_as_redis_dumps_them(streams, commands: list[list[Any]]) -> None:
    embedded, real = streams()
    embedded.delete("k", "back")
    real.delete("k", "back")
    build_both(embedded, real, commands)
    assert embedded.dump("k") == real.dump("k")
    assert_restores_both_ways(embedded, real)


# -- RDB type 15 (Redis 6.x) -------------------------------------------------------------------------------------------


def stream_body(nodes: list[tuple[bytes, bytes]], length: int, last_id: tuple[int, int],
                groups: list[tuple[bytes, tuple[int, int], list[tuple[bytes, int, int]], list[tuple[bytes, int, list[bytes]]]]],
                counters: tuple[tuple[int, int], tuple[int, int], int] | None = None, entries_read: int = 0) -> bytes:
    """Return a DUMP body of type 19 (``counters`` given: first ID, max deleted ID, entries added) or 15, by hand."""
    parts = [b"\x13" if counters else b"\x0f", encode_length(len(nodes))]
    for key, listpack in nodes:
        parts += [encode_string(key), encode_string(listpack)]
    parts += [encode_length(length), encode_length(last_id[0]), encode_length(last_id[1])]
    if counters:
        (first, deleted, added) = counters
        parts += [encode_length(first[0]), encode_length(first[1]), encode_length(deleted[0]),
                  encode_length(deleted[1]), encode_length(added)]
    parts.append(encode_length(len(groups)))
    for name, group_last, pel, consumers in groups:
        parts += [encode_string(name), encode_length(group_last[0]), encode_length(group_last[1])]
        if counters:
            parts.append(encode_length(entries_read))
        parts.append(encode_length(len(pel)))
        for raw_id, delivered, count in pel:
            parts += [raw_id, delivered.to_bytes(8, "little"), encode_length(count)]
        parts.append(encode_length(len(consumers)))
        for consumer, seen, ids in consumers:
            parts += [encode_string(consumer), seen.to_bytes(8, "little"), encode_length(len(ids)), *ids]
    return b"".join(parts)


def raw(ms: int, seq: int) -> bytes:
    """Return an ID as 16 big-endian bytes."""
    return ms.to_bytes(8, "big") + seq.to_bytes(8, "big")


# One node, master 10-0: entries 10-0 (f=a), 11-2 (f=b, g=c), 12-0 deleted (f=d).
NODE = build_listpack([2, 1, 1, b"f", 0,
                       2, 0, 0, b"a", 4,
                       0, 1, 2, 2, b"f", b"b", b"g", b"c", 8,
                       3, 2, 0, b"d", 4])
GROUP = (b"g", (10, 0), [(raw(10, 0), 1700000000000, 2)], [(b"c", 1700000000500, [raw(10, 0)])])


def test_a_redis_6_stream_payload_restores_as_redis_7_restores_it(streams) -> None:
    embedded, real = streams()
    payload = reseal(stream_body([(raw(10, 0), NODE)], 2, (12, 0), [GROUP]), 9)
    for client in (embedded, real):
        assert run(client, "RESTORE", "k", 0, payload) == b"OK"
    assert full(embedded, "k") == full(real, "k")
    assert embedded.dump("k") == real.dump("k")
    assert embedded.xrange("k") == [(b"10-0", {b"f": b"a"}), (b"11-2", {b"f": b"b", b"g": b"c"})]


def _bad_stream_payloads() -> dict[str, bytes]:
    counters = ((10, 0), (12, 0), 3)
    good = [(raw(10, 0), NODE)]
    wrong_pieces = NODE.replace(b"\x81a\x02\x04", b"\x81a\x02\x05")
    assert wrong_pieces != NODE
    return {
        "node-key-size": stream_body([(raw(10, 0)[:15], NODE)], 2, (12, 0), [], counters),
        "duplicate-node": stream_body(good * 2, 4, (12, 0), [], counters),
        "empty-listpack": stream_body([(raw(10, 0), build_listpack([]))], 0, (12, 0), [], counters),
        "not-a-listpack": stream_body([(raw(10, 0), b"\x00" * 12)], 2, (12, 0), [], counters),
        "wrong-piece-count": stream_body([(raw(10, 0), wrong_pieces)], 2, (12, 0), [], counters),
        "master-counts": stream_body([(raw(10, 0), build_listpack([3, 0, 1, b"f", 0, 2, 0, 0, b"a", 4]))],
                                     3, (12, 0), [], counters),
        "length-without-nodes": stream_body([], 5, (12, 0), [], counters),
        "duplicate-group": stream_body(good, 2, (12, 0), [GROUP, GROUP], counters),
        "consumer-id-not-pending": stream_body(good, 2, (12, 0), [
            (b"g", (10, 0), [], [(b"c", 0, [raw(10, 0)])])], counters),
        "duplicate-consumer": stream_body(good, 2, (12, 0), [
            (b"g", (10, 0), [], [(b"c", 0, []), (b"c", 0, [])])], counters),
        "pending-without-consumer": stream_body(good, 2, (12, 0), [
            (b"g", (10, 0), [(raw(10, 0), 0, 1)], [])], counters),
        "cut-short": stream_body(good, 2, (12, 0), [GROUP], counters)[:-5],
    }


@pytest.mark.parametrize("case", sorted(_bad_stream_payloads()))
def test_corrupt_stream_payloads_are_refused_and_change_nothing(streams, case: str) -> None:
    embedded, real = streams()
    real.config_set("sanitize-dump-payload", "yes")  # the engine always checks a stream as Redis's deep sanitization
    payload = reseal(_bad_stream_payloads()[case])
    for client in (embedded, real):
        client.set("k", "old")
        assert run(client, "RESTORE", "k", 0, payload, "REPLACE") == ("error", "Bad data format")
        assert client.get("k") == b"old"


def test_a_good_hand_built_payload_restores(streams) -> None:
    embedded, real = streams()
    payload = reseal(stream_body([(raw(10, 0), NODE)], 2, (12, 0), [GROUP], ((10, 0), (12, 0), 3), 1))
    for client in (embedded, real):
        assert run(client, "RESTORE", "k", 0, payload) == b"OK"
    assert full(embedded, "k") == full(real, "k")
    assert embedded.dump("k") == real.dump("k") == payload


# -- dump.rdb files --------------------------------------------------------------------------------------------------


def fill_streams(client: redis.Redis) -> None:
    """Write every shape as a stream of its own name, and the groups as ``groups`` (with a TTL)."""
    for name, commands in [*SHAPES.items(), ("groups", GROUPS)]:
        for argv in commands:
            client.execute_command(*[name if item == "k" else item for item in argv])
    client.pexpire("groups", 900_000)


def assert_same_streams(ours: redis.Redis, theirs: redis.Redis) -> None:
    """Compare every key: the same streams, and the same DUMP bytes."""
    keys = sorted(theirs.keys("*"))
    assert sorted(ours.keys("*")) == keys and len(keys) == len(SHAPES) + 1
    for key in keys:
        assert full(ours, key) == full(theirs, key), key
        assert ours.dump(key) == theirs.dump(key), key
    assert ours.pexpiretime("groups") == theirs.pexpiretime("groups")


def test_redis_server_loads_streams_from_the_engines_dump_rdb(open_engine: Opener, tmp_path: Path, server_in) -> None:
    engine, r = open_engine(tmp_path / "engine", appendonly=False)
    fill_streams(r)
    assert r.save() is True
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    shutil.copy(tmp_path / "engine" / "dump.rdb", server_dir / "dump.rdb")
    server = server_in(server_dir)
    assert_same_streams(r, server)
    checker = shutil.which("redis-check-rdb")
    if checker is not None:
        outcome = subprocess.run([checker, str(server_dir / "dump.rdb")], capture_output=True, text=True, timeout=60)
        assert "RDB looks OK!" in outcome.stdout, outcome.stdout + outcome.stderr
    close(engine)
    _engine, r = open_engine(tmp_path / "engine", appendonly=False)
    assert_same_streams(r, server)


def test_the_engine_loads_streams_from_redis_servers_dump_rdb(open_engine: Opener, tmp_path: Path, server_in) -> None:
    source = tmp_path / "server"
    source.mkdir()
    server = server_in(source)
    fill_streams(server)
    assert server.save() is True
    target = tmp_path / "engine"
    target.mkdir()
    shutil.copy(source / "dump.rdb", target / "dump.rdb")
    _engine, r = open_engine(target, appendonly=False)
    assert_same_streams(r, server)


def test_save_files_and_bgsave_keep_streams(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    fill_streams(r)
    before = {key: (full(r, key), r.dump(key)) for key in r.keys("*")}
    source = Engine()
    write_rdb_file(tmp_path / "copy.rdb", capture(engine))
    assert load_rdb(source, (tmp_path / "copy.rdb").read_bytes()).keys == len(before)
    copy = EmbeddedRedis(source)
    assert {key: (full(copy, key), copy.dump(key)) for key in copy.keys("*")} == before
    assert r.bgsave()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.bgsave_thread is not None
    persistence.bgsave_thread.join()
    close(engine)
    _engine, r = open_engine(appendonly=False)
    assert {key: (full(r, key), r.dump(key)) for key in r.keys("*")} == before
