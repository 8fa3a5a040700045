"""DUMP / RESTORE: payloads move both ways between the engine and redis-server, byte for byte where Redis is deterministic."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from tests.engine.rdb_values import VALUES, Bag, build, random_value, read_back, reseal
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.structures import add_structure

EXAMPLES = int(os.environ.get("REDPOCKET_HYPOTHESIS_EXAMPLES", "60"))


@pytest.mark.parametrize("name", sorted(VALUES))
def test_dump_is_byte_identical_to_redis_where_redis_is_deterministic(pair, name: str) -> None:
    embedded, real = pair()
    build(embedded, name)
    build(real, name)
    assert embedded.object("encoding", "k") == real.object("encoding", "k")
    if VALUES[name][1]:
        assert embedded.dump("k") == real.dump("k")


@pytest.mark.parametrize("name", sorted(VALUES))
def test_payloads_restore_both_ways(pair, name: str) -> None:
    embedded, real = pair()
    build(real, name, "source")
    build(embedded, name, "source")
    expected = read_back(real, "source")
    # redis-server -> engine
    assert run(embedded, "RESTORE", "from-redis", 0, real.dump("source")) == b"OK"
    assert read_back(embedded, "from-redis") == expected
    # engine -> redis-server
    assert run(real, "RESTORE", "from-engine", 0, embedded.dump("source")) == b"OK"
    assert read_back(real, "from-engine") == expected
    # A restored value gets the encoding its content calls for, on both sides.
    assert run(real, "RESTORE", "from-redis", 0, real.dump("source")) == b"OK"
    assert embedded.object("encoding", "from-redis") == real.object("encoding", "from-redis")
    assert real.object("encoding", "from-engine") == real.object("encoding", "from-redis")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(value=random_value())
def test_random_values_round_trip_and_match_redis(pair, value) -> None:
    _kind, commands = value
    embedded, real = pair()
    embedded.delete("k", "back")
    real.delete("k", "back")
    for argv in commands:
        assert run(embedded, *argv) == run(real, *argv)
    expected = read_back(real, "k")
    encoding = real.object("encoding", "k")
    assert embedded.object("encoding", "k") == encoding
    ours, theirs = embedded.dump("k"), real.dump("k")
    if encoding != b"hashtable":  # a hash table's order is Redis's own
        assert ours == theirs
    assert run(real, "RESTORE", "back", 0, ours) == b"OK"
    assert read_back(real, "back") == expected
    assert run(embedded, "RESTORE", "back", 0, theirs) == b"OK"
    assert read_back(embedded, "back") == expected


def test_dump_of_a_missing_key_is_nil(r) -> None:
    assert r.dump("missing") is None


def test_restore_options(r) -> None:
    r.set("k", "v")
    payload = r.dump("k")
    assert run(r, "RESTORE", "k", 0, payload) == ("error", "BUSYKEY Target key name already exists.")
    assert run(r, "RESTORE", "k", 0, payload, "REPLACE") == b"OK"
    assert r.ttl("k") == -1
    assert run(r, "RESTORE", "t", 100000, payload) == b"OK"
    assert 99 <= r.ttl("t") <= 100
    when = int(time.time() * 1000) + 50000
    assert run(r, "RESTORE", "a", when, payload, "ABSTTL") == b"OK"
    assert abs(r.pexpiretime("a") - when) <= 1
    assert run(r, "RESTORE", "gone", 1, payload, "ABSTTL") == b"OK"  # already expired: nothing is created
    assert r.exists("gone") == 0
    assert run(r, "RESTORE", "k", 1, payload, "ABSTTL", "REPLACE") == b"OK"  # ... and a replaced key is deleted
    assert r.exists("k") == 0
    assert run(r, "RESTORE", "i", 0, payload, "IDLETIME", 10) == b"OK"
    assert run(r, "RESTORE", "f", 0, payload, "FREQ", 10) == b"OK"
    assert r.get("f") == b"v"


@pytest.mark.parametrize(("args", "error"), [
    (["IDLETIME", -1], "Invalid IDLETIME value, must be >= 0"),
    (["FREQ", 256], "Invalid FREQ value, must be >= 0 and <= 255"),
    (["FREQ", -1], "Invalid FREQ value, must be >= 0 and <= 255"),
    (["IDLETIME", "x"], "value is not an integer or out of range"),
    (["IDLETIME", 1, "FREQ", 1], "syntax error"),
    (["FREQ", 1, "IDLETIME", 1], "syntax error"),
    (["FREQ"], "syntax error"),
    (["NOPE"], "syntax error"),
])
def test_restore_option_errors(r, args, error) -> None:
    r.set("src", "v")
    assert run(r, "RESTORE", "k", 0, r.dump("src"), *args) == ("error", error)
    assert r.exists("k") == 0


def test_restore_checks_in_redis_order(r) -> None:
    r.set("k", "v")
    good = r.dump("k")
    assert run(r, "RESTORE", "k", "x", b"junk") == ("error", "BUSYKEY Target key name already exists.")
    assert run(r, "RESTORE", "n", "x", good) == ("error", "value is not an integer or out of range")
    assert run(r, "RESTORE", "n", -1, good) == ("error", "Invalid TTL value, must be >= 0")
    assert run(r, "RESTORE", "n", 0, b"junk") == ("error", "DUMP payload version or checksum are wrong")


def _bad_payloads(good: bytes) -> dict[str, tuple[bytes, str]]:
    wrong = "DUMP payload version or checksum are wrong"
    bad_format = "Bad data format"
    body = good[:-10]
    return {
        "empty": (b"", wrong),
        "too-short": (good[:9], wrong),
        "truncated": (good[:-1], wrong),
        "flipped-byte": (good[:3] + bytes([good[3] ^ 0xFF]) + good[4:], wrong),
        "bad-checksum": (good[:-1] + bytes([good[-1] ^ 1]), wrong),
        "future-version": (reseal(body, 11), wrong),
        "older-version": (reseal(body, 9), "OK"),
        "unknown-type": (reseal(b"\x08" + body[1:]), bad_format),
        "cut-value": (reseal(body[:-3]), bad_format),
        "empty-list": (reseal(b"\x12\x00"), bad_format),
        "bad-listpack": (reseal(b"\x10" + b"\x0b" + b"\x0b\x00\x00\x00\x02\x00\x81a\x02\x81"), bad_format),
        "odd-hash-listpack": (reseal(b"\x10\x0a\x0a\x00\x00\x00\x01\x00\x81a\x02\xff"), bad_format),
        "bad-intset-width": (reseal(b"\x0b\x0c\x03\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00"), bad_format),
        "intset-size-mismatch": (reseal(b"\x0b\x0c\x02\x00\x00\x00\x03\x00\x00\x00\x05\x00\x01\x00"), bad_format),
        "bad-lzf": (reseal(b"\x00\xc3\x05\x19\x20\x20\x20\x20\x20"), bad_format),
    }


@pytest.mark.parametrize("case", sorted(_bad_payloads(b"\x00\x05hello" + bytes(10))))
def test_bad_payloads_are_refused_and_change_nothing(r, case: str) -> None:
    r.rpush("src", "a", "b", "c")
    payload, error = _bad_payloads(r.dump("src"))[case]
    r.set("k", "old")
    outcome = run(r, "RESTORE", "k", 0, payload, "REPLACE")
    if error == "OK":
        assert outcome == b"OK"
        return
    assert outcome == ("error", error)
    assert r.get("k") == b"old"


def test_restore_emits_its_keyspace_event(r) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    r.set("src", "v")
    payload = r.dump("src")
    pubsub = r.pubsub()
    pubsub.psubscribe("__key*__:*")
    pubsub.get_message(timeout=1)
    assert run(r, "RESTORE", "k", 0, payload) == b"OK"
    events = []
    for _ in range(3):
        message = pubsub.get_message(timeout=1)
        if message:
            events.append((message["channel"], message["data"]))
    assert (b"__keyspace@0__:k", b"restore") in events
    assert (b"__keyevent@0__:restore", b"k") in events
    pubsub.close()
    r.config_set("notify-keyspace-events", "")


def test_custom_structures_dump_as_a_module_type(redis_server) -> None:
    engine = Engine()
    add_structure(engine, Bag)
    client = EmbeddedRedis(engine)
    client.execute_command("BAGADD", "b", "x", "y")
    payload = client.dump("b")
    assert payload[0] == 7  # RDB_TYPE_MODULE_2
    assert run(client, "RESTORE", "copy", 0, payload) == b"OK"
    assert client.execute_command("BAGITEMS", "copy") == [b"x", b"y"]
    other = EmbeddedRedis(Engine())  # an engine without the structure cannot hold it
    assert run(other, "RESTORE", "b", 0, payload) == ("error", "Bad data format")
    real = redis_server.client()
    assert run(real, "RESTORE", "redpocket-bag", 0, payload) == ("error", "Bad data format")
    real.close()


def test_restore_is_logged_with_an_absolute_ttl(tmp_path) -> None:
    from redpocket.engine.persistence import open_persistent_engine, persistence_of

    engine = open_persistent_engine(tmp_path, appendfsync="always")
    client = EmbeddedRedis(engine)
    client.set("src", "v")
    assert run(client, "RESTORE", "k", 100000, client.dump("src")) == b"OK"
    persistence = persistence_of(engine)
    assert persistence is not None
    persistence.close()
    log = b"".join(path.read_bytes() for path in (tmp_path / "appendonlydir").glob("*.aof"))
    assert b"ABSTTL" in log
    reopened = open_persistent_engine(tmp_path)
    again = EmbeddedRedis(reopened)
    assert again.get("k") == b"v"
    assert 99000 <= again.pttl("k") <= 100000
    persistence = persistence_of(reopened)
    assert persistence is not None
    persistence.close()


@pytest.mark.parametrize("depth", [1, 2])
def test_compressed_list_nodes_are_dumped_as_redis_dumps_them(pair, depth: int) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.config_set("list-compress-depth", depth)
    try:
        build(embedded, "list-many-nodes")
        build(real, "list-many-nodes")
        assert embedded.dump("k") == real.dump("k")
        assert run(real, "RESTORE", "back", 0, embedded.dump("k")) == b"OK"
        assert real.lrange("back", 0, -1) == real.lrange("k", 0, -1)
    finally:
        for client in (embedded, real):
            client.config_set("list-compress-depth", 0)
