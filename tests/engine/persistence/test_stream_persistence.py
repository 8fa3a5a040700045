"""Streams in the append-only file and in rewrites: reopened, a stream is the same, groups and PELs included."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from persistence_helpers import Opener, aof_bytes, close

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import persistence_of
from redpocket.engine.types.stream import Stream


def stream_state(engine: Engine, key: bytes) -> dict[str, Any]:
    """Return what a stream holds: entries, counters, groups with their PELs and consumers (not seen-times)."""
    stream = engine.databases[0].data[key]
    assert isinstance(stream, Stream)
    return {
        "entries": list(stream.entries.items()),
        "last_id": stream.last_id,
        "entries_added": stream.entries_added,
        "max_deleted_id": stream.max_deleted_id,
        "groups": {
            name: {
                "last_id": group.last_id,
                "entries_read": group.entries_read,
                "pending": {stream_id: (nack.consumer.name, nack.delivery_time, nack.delivery_count)
                            for stream_id, nack in group.pending.items()},
                "consumers": {consumer_name: sorted(consumer.pending) for consumer_name, consumer in group.consumers.items()},
            }
            for name, group in stream.groups.items()
        },
    }


def build(r: Any) -> None:
    """Write a stream through every kind of stream write."""
    r.config_set("stream-node-max-entries", "4")
    for n in range(30):
        r.xadd("s", {"n": n, "kind": "job"}, maxlen=20, approximate=True)
    r.xadd("s", {"n": "explicit"}, id="99999999999999-*")
    r.xdel("s", r.xrange("s", count=3)[1][0])
    r.xtrim("s", maxlen=18, approximate=False)
    r.xgroup_create("s", "g", id="0")
    r.xgroup_create("s", "h", id="$")
    r.xreadgroup("g", "alice", {"s": ">"}, count=5)
    r.xreadgroup("g", "bob", {"s": ">"}, count=3, noack=True)
    r.xreadgroup("g", "carol", {"s": ">"}, count=2)
    first_ids = [entry_id for entry_id, _ in r.xrange("s", count=5)]
    r.xack("s", "g", first_ids[0])
    r.xclaim("s", "g", "dave", 0, [first_ids[1]], idle=5000, retrycount=7)
    r.xautoclaim("s", "g", "erin", 0, "0-0", count=1)
    r.xgroup_createconsumer("s", "h", "idle-one")
    r.xgroup_createconsumer("s", "h", "gone")
    r.xgroup_delconsumer("s", "h", "gone")
    r.xgroup_setid("s", "h", id="0", entries_read=0)
    r.xgroup_create("empty", "g", id="$", mkstream=True)
    r.execute_command("XSETID", "empty", "5-5", "ENTRIESADDED", "9", "MAXDELETEDID", "5-0")


def test_a_stream_comes_back_from_the_append_only_file(open_engine: Opener) -> None:
    engine, r = open_engine(appendfsync="always")
    build(r)
    before = {key: stream_state(engine, key) for key in (b"s", b"empty")}
    close(engine)
    engine, r = open_engine()
    assert {key: stream_state(engine, key) for key in (b"s", b"empty")} == before


def test_a_stream_comes_back_from_a_rewrite(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    build(r)
    assert r.bgrewriteaof()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.aof is not None
    persistence.aof.rewrite_thread.join()  # type: ignore[union-attr]
    assert aof_bytes(tmp_path).startswith(b"REDIS0010")  # an RDB preamble holding the streams
    before = {key: stream_state(engine, key) for key in (b"s", b"empty")}
    close(engine)
    engine, r = open_engine()
    assert {key: stream_state(engine, key) for key in (b"s", b"empty")} == before
    assert r.type("empty") == b"stream" and r.xlen("empty") == 0


def test_the_file_holds_what_redis_propagates(open_engine: Opener, tmp_path: Path) -> None:
    _engine, r = open_engine(appendfsync="always")
    generated = r.xadd("s", {"f": "v"}, maxlen=10, approximate=True)
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"})
    r.xreadgroup("g", "c", {"s": "0"})  # history: not propagated
    data = aof_bytes(tmp_path)
    assert b"*8\r\n$4\r\nXADD\r\n$1\r\ns\r\n$6\r\nMAXLEN\r\n$1\r\n=\r\n$1\r\n1\r\n$%d\r\n%s\r\n$1\r\nf\r\n$1\r\nv\r\n" % (
        len(generated), generated) in data
    assert b"$6\r\nXCLAIM\r\n" in data and b"$6\r\nJUSTID\r\n" in data
    assert data.count(b"XCLAIM") == 1
    assert b"XREADGROUP" not in data


def test_a_blocked_group_read_served_by_xadd_is_logged(open_engine: Opener) -> None:
    engine, r = open_engine(appendfsync="always")
    r.xgroup_create("s", "g", id="$", mkstream=True)
    replies: list[Any] = []
    reader = threading.Thread(target=lambda: replies.append(
        EmbeddedRedis(engine).xreadgroup("g", "c", {"s": ">"}, block=5000)))
    reader.start()
    deadline = time.monotonic() + 5
    while r.info("clients")["blocked_clients"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r.xadd("s", {"f": "v"}, id="1-0")
    reader.join(5)
    assert replies and replies[0] in ([[b"s", [(b"1-0", {b"f": b"v"})]]], {b"s": [[(b"1-0", {b"f": b"v"})]]})
    before = stream_state(engine, b"s")
    assert list(before["groups"][b"g"]["pending"]) == [(1, 0)]
    close(engine)
    engine, r = open_engine()
    assert stream_state(engine, b"s") == before
