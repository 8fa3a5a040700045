"""Stream commands on every backend: replies, errors, events, MULTI, Lua, blocking reads, COMMAND INFO."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.helpers import wait_blocked

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def raw(client: redis.Redis) -> redis.Redis:
    """Drop redis-py's reply callbacks so a test sees the server's reply as sent."""
    client.response_callbacks = {}
    return client


def error_of(client: redis.Redis, *args: Any) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        client.execute_command(*args)
    return str(caught.value)


class Reader(threading.Thread):
    """Run one (blocking) command in a thread and keep its reply or error."""

    def __init__(self, client: redis.Redis, *args: Any) -> None:
        super().__init__(daemon=True)
        self.client, self.args = client, args
        self.reply: Any = None
        self.error: str | None = None
        self.start()

    def run(self) -> None:
        try:
            self.reply = self.client.execute_command(*self.args)
        except redis.ResponseError as error:
            self.error = str(error)

    def result(self, timeout: float = 5) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.args} still blocked"
        return ("error", self.error) if self.error is not None else self.reply


# -- XADD, ranges, XLEN, XDEL, XTRIM -------------------------------------------------------------------


def test_xadd_ids_and_ranges(r: redis.Redis) -> None:
    assert r.xadd("s", {"f": "1"}, id="1-1") == b"1-1"
    assert r.xadd("s", {"f": "2"}, id="1-*") == b"1-2"
    assert r.xadd("s", {"f": "3"}, id="5") == b"5-0"
    generated = r.xadd("s", {"f": "4"})
    assert int(generated.split(b"-")[0]) > 5
    assert r.xlen("s") == 4
    assert [i for i, _ in r.xrange("s", "1-2", "5")] == [b"1-2", b"5-0"]
    assert [i for i, _ in r.xrange("s", "(1-1", "(5-0")] == [b"1-2"]
    assert r.xrevrange("s", "+", "-", count=1) == [(generated, {b"f": b"4"})]
    assert r.type("s") == b"stream"
    assert r.object("encoding", "s") == b"stream"


def test_xadd_errors(r: redis.Redis) -> None:
    r.xadd("s", {"f": "v"}, id="5-5")
    assert error_of(r, "XADD", "s", "5-5", "f", "v") == (
        "The ID specified in XADD is equal or smaller than the target stream top item")
    assert error_of(r, "XADD", "s", "0-0", "f", "v") == "The ID specified in XADD must be greater than 0-0"
    assert error_of(r, "XADD", "s", "x", "f", "v") == "Invalid stream ID specified as stream command argument"
    assert error_of(r, "XADD", "s", "*", "f") == "wrong number of arguments for 'xadd' command"
    assert error_of(r, "XADD", "s", "MAXLEN", "-1", "*", "f", "v") == "The MAXLEN argument must be >= 0."
    assert error_of(r, "XADD", "s", "MAXLEN", "1", "LIMIT", "5", "*", "f", "v") == (
        "syntax error, LIMIT cannot be used without the special ~ option")
    assert error_of(r, "XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "f", "v") == (
        "syntax error, MAXLEN and MINID options at the same time are not compatible")
    r.set("str", "x")
    assert error_of(r, "XADD", "str", "*", "f", "v") == WRONGTYPE
    assert r.xadd("missing", {"f": "v"}, nomkstream=True) is None
    assert r.exists("missing") == 0


def test_xdel_and_xtrim(r: redis.Redis) -> None:
    for ms in range(1, 11):
        r.xadd("s", {"f": ms}, id=f"{ms}-0")
    assert r.xdel("s", "1-0", "2-0", "99-0") == 2
    assert r.xtrim("s", maxlen=5, approximate=False) == 3
    assert r.xtrim("s", minid="8-0", approximate=False) == 2
    assert [i for i, _ in r.xrange("s")] == [b"8-0", b"9-0", b"10-0"]
    assert r.xtrim("s", maxlen=2, approximate=True) == 0  # one node of 100 entries: nothing to drop whole
    assert error_of(r, "XTRIM", "s", "LIMIT", "1") == "syntax error, LIMIT cannot be used without specifying a trimming strategy"
    assert error_of(r, "XTRIM", "s", "FOO", "1") == "syntax error"
    assert r.xdel("nothing", "1-0") == 0


def test_rq_usage_transaction_with_approximate_maxlen(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        for n in range(15):
            pipe.xadd("rq:results", {"status": "ok", "n": n}, maxlen=10, approximate=True)
        ids = pipe.execute()
    assert len(ids) == 15 and len(set(ids)) == 15
    assert r.xlen("rq:results") == 15  # "~" trims whole nodes only: none is full yet
    last = r.xrevrange("rq:results", "+", "-", count=1)
    assert last == [(ids[-1], {b"status": b"ok", b"n": b"14"})]


# -- consumer groups --------------------------------------------------------------------------------


def test_consumer_group_flow(r: redis.Redis) -> None:
    for ms in range(1, 4):
        r.xadd("s", {"n": ms}, id=f"{ms}-0")
    assert r.xgroup_create("s", "g", id="0") is True
    assert error_of(r, "XGROUP", "CREATE", "s", "g", "0") == "BUSYGROUP Consumer Group name already exists"
    read = r.xreadgroup("g", "alice", {"s": ">"}, count=2)
    assert read == [[b"s", [(b"1-0", {b"n": b"1"}), (b"2-0", {b"n": b"2"})]]]
    assert r.xreadgroup("g", "bob", {"s": ">"}) == [[b"s", [(b"3-0", {b"n": b"3"})]]]
    summary = r.xpending("s", "g")
    assert summary["pending"] == 3 and summary["min"] == b"1-0" and summary["max"] == b"3-0"
    assert summary["consumers"] == [{"name": b"alice", "pending": 2}, {"name": b"bob", "pending": 1}]
    assert r.xack("s", "g", "1-0", "9-0") == 1
    claimed = r.xclaim("s", "g", "bob", 0, ["2-0"], justid=True)
    assert claimed == [b"2-0"]
    detail = r.xpending_range("s", "g", "-", "+", 10)
    assert [(d["message_id"], d["consumer"], d["times_delivered"]) for d in detail] == [
        (b"2-0", b"bob", 1), (b"3-0", b"bob", 1)]
    assert r.xautoclaim("s", "g", "carol", 0, "0-0", count=1) == [b"3-0", [(b"2-0", {b"n": b"2"})], []]
    groups = r.xinfo_groups("s")
    assert groups == [{"name": b"g", "consumers": 3, "pending": 2, "last-delivered-id": b"3-0",
                       "entries-read": 3, "lag": 0}]
    assert r.xgroup_delconsumer("s", "g", "carol") == 1
    assert r.xgroup_destroy("s", "g") == 1
    assert r.xinfo_groups("s") == []


def test_history_of_a_deleted_entry_is_its_id_and_nil(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client(protocol=2)
    r.xadd("s", {"f": "v"}, id="1-0")
    r.xadd("s", {"f": "w"}, id="2-0")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"})
    r.xdel("s", "1-0")
    assert raw(r).execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [
        [b"s", [[b"1-0", None], [b"2-0", [b"f", b"w"]]]]]
    assert r.execute_command("XAUTOCLAIM", "s", "g", "c", "0", "0") == [b"0-0", [[b"2-0", [b"f", b"w"]]], [b"1-0"]]


def test_group_errors(r: redis.Redis) -> None:
    assert error_of(r, "XGROUP", "CREATE", "nokey", "g", "$") == (
        "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM "
        "option to create an empty stream automatically.")
    assert r.xgroup_create("s", "g", id="$", mkstream=True) is True
    assert error_of(r, "XGROUP", "SETID", "s", "nope", "0") == "NOGROUP No such consumer group 'nope' for key name 's'"
    assert error_of(r, "XREADGROUP", "GROUP", "nope", "c", "STREAMS", "s", ">") == (
        "NOGROUP No such key 's' or consumer group 'nope' in XREADGROUP with GROUP option")
    assert error_of(r, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$").startswith(
        "The $ ID is meaningless in the context of XREADGROUP")
    assert error_of(r, "XREAD", "STREAMS", "s", ">").startswith("The > ID can be specified only")
    assert error_of(r, "XGROUP", "FOO") == "unknown subcommand 'FOO'. Try XGROUP HELP."
    assert error_of(r, "XCLAIM", "s", "g", "c", "x", "1-0") == "Invalid min-idle-time argument for XCLAIM"
    assert error_of(r, "XCLAIM", "s", "g", "c", "0", "1-0", "BOGUS") == "Unrecognized XCLAIM option 'BOGUS'"
    assert error_of(r, "XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0") == "COUNT must be > 0"
    assert error_of(r, "XSETID", "nokey", "1-0") == "no such key"
    assert error_of(r, "XINFO", "STREAM", "nokey") == "no such key"


def test_xsetid_and_info(r: redis.Redis) -> None:
    r.xadd("s", {"f": "v"}, id="5-0")
    r.xdel("s", "5-0")
    assert r.execute_command("XSETID", "s", "9-0", "ENTRIESADDED", "7", "MAXDELETEDID", "6-0") in (True, b"OK")
    info = raw(r).execute_command("XINFO", "STREAM", "s")
    flat = info if isinstance(info, list) else [x for pair in info.items() for x in pair]
    fields = dict(zip(flat[::2], flat[1::2], strict=True))
    assert fields[b"length"] == 0 and fields[b"last-generated-id"] == b"9-0"
    assert fields[b"entries-added"] == 7 and fields[b"max-deleted-entry-id"] == b"6-0"
    assert fields[b"first-entry"] is None
    assert error_of(r, "XSETID", "s", "8-0", "MAXDELETEDID", "9-0") == (
        "The ID specified in XSETID is smaller than the provided max_deleted_entry_id")


def test_group_reads_do_not_touch_watch_but_xadd_does(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client()
    r.xadd("s", {"f": "v"}, id="1-0")
    r.xgroup_create("s", "g", id="0")
    with r.pipeline() as pipe:
        pipe.watch("s")
        r.xreadgroup("g", "c", {"s": ">"})  # Redis does not signal the key modified
        r.xack("s", "g", "1-0")
        pipe.multi()
        pipe.xlen("s")
        assert pipe.execute() == [1]
    with r.pipeline() as pipe:
        pipe.watch("s")
        r.xadd("s", {"f": "w"}, id="2-0")
        pipe.multi()
        pipe.xlen("s")
        with pytest.raises(redis.WatchError):
            pipe.execute()


def test_keyspace_events(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client()
    r.config_set("notify-keyspace-events", "Et")
    try:
        sub = make_client().pubsub()
        sub.psubscribe("__keyevent@0__:*")
        assert sub.get_message(timeout=1)["type"] == "psubscribe"
        r.xadd("s", {"f": "v"}, id="1-0", maxlen=0)
        r.xgroup_create("s", "g", id="0")
        r.xgroup_createconsumer("s", "g", "c")
        r.xgroup_setid("s", "g", id="0")
        r.xgroup_delconsumer("s", "g", "c")
        r.xadd("s", {"f": "v"}, id="2-0")
        r.xdel("s", "2-0")
        r.execute_command("XSETID", "s", "3-0")
        r.xgroup_destroy("s", "g")
        events = []
        while (message := sub.get_message(timeout=0.5)) is not None:
            events.append(message["channel"].split(b":", 1)[1])
        assert events == [b"xadd", b"xtrim", b"xgroup-create", b"xgroup-createconsumer", b"xgroup-setid",
                          b"xgroup-delconsumer", b"xadd", b"xdel", b"xsetid", b"xgroup-destroy"]
        sub.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# -- blocking reads -----------------------------------------------------------------------------------------


def test_xread_block_wakes_on_xadd_with_dollar(make_client: Callable[..., redis.Redis]) -> None:
    reader, writer = make_client(), make_client()
    writer.xadd("s", {"old": "1"}, id="1-0")
    waiting = Reader(reader, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    wait_blocked(writer)
    writer.xadd("s", {"new": "2"}, id="2-0")
    assert waiting.result() == [[b"s", [(b"2-0", {b"new": b"2"})]]]


def test_xread_block_times_out_with_nil(r: redis.Redis) -> None:
    started = time.monotonic()
    assert r.xread({"s": "$"}, block=100) in (None, [], {})
    assert 0.09 <= time.monotonic() - started < 3


def test_blocked_group_readers_are_served_in_order(make_client: Callable[..., redis.Redis]) -> None:
    writer = make_client()
    writer.xgroup_create("s", "g", id="$", mkstream=True)
    first = Reader(make_client(), "XREADGROUP", "GROUP", "g", "a", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer, 1)
    second = Reader(make_client(), "XREADGROUP", "GROUP", "g", "b", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer, 2)
    writer.xadd("s", {"n": "1"}, id="1-0")
    assert first.result() == [[b"s", [(b"1-0", {b"n": b"1"})]]]
    time.sleep(0.1)
    assert second.is_alive()  # the first reader took the entry
    writer.xadd("s", {"n": "2"}, id="2-0")
    assert second.result() == [[b"s", [(b"2-0", {b"n": b"2"})]]]
    assert writer.xpending("s", "g")["consumers"] == [{"name": b"a", "pending": 1}, {"name": b"b", "pending": 1}]


def test_blocked_group_reader_gets_an_error_when_the_group_or_key_goes(make_client: Callable[..., redis.Redis]) -> None:
    writer = make_client()
    writer.xgroup_create("s", "g", id="$", mkstream=True)
    waiting = Reader(make_client(), "XREADGROUP", "GROUP", "g", "a", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer)
    writer.xgroup_destroy("s", "g")
    assert waiting.result() == ("error", "NOGROUP the consumer group this client was blocked on no longer exists")
    writer.xgroup_create("s", "g", id="$")
    waiting = Reader(make_client(), "XREADGROUP", "GROUP", "g", "a", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer)
    writer.delete("s")
    assert waiting.result() == ("error", "UNBLOCKED the stream key no longer exists")


def test_blocked_group_reader_fails_when_flushall_removes_its_stream(make_client: Callable[..., redis.Redis]) -> None:
    writer = make_client()
    writer.xgroup_create("s", "g", id="$", mkstream=True)
    waiting = Reader(make_client(), "XREADGROUP", "GROUP", "g", "a", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer)
    writer.flushall()
    assert waiting.result() == ("error", "UNBLOCKED the stream key no longer exists")


@pytest.mark.parametrize("other_value", [None, "list"])
def test_blocked_group_reader_fails_when_swapdb_takes_its_stream(
    make_client: Callable[..., redis.Redis], other_value: str | None
) -> None:
    writer, other_db = make_client(db=0), make_client(db=1)
    other_db.flushdb()
    if other_value is not None:
        other_db.lpush("s", "e1")
    writer.xgroup_create("s", "g", id="$", mkstream=True)
    waiting = Reader(make_client(db=0), "XREADGROUP", "GROUP", "g", "a", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(writer)
    writer.swapdb(0, 1)
    assert waiting.result() == ("error", "UNBLOCKED the stream key no longer exists")
    other_db.flushdb()


def test_blocked_list_pop_wakes_when_swapdb_brings_data(make_client: Callable[..., redis.Redis]) -> None:
    # Every key of both databases is ready after SWAPDB, not only the first one.
    writer, other_db = make_client(db=0), make_client(db=1)
    other_db.flushdb()
    other_db.mset({"a": "1", "b": "2"})
    other_db.rpush("k", "v")
    waiting = Reader(make_client(db=0), "BLPOP", "k", "5")
    wait_blocked(writer)
    writer.swapdb(0, 1)
    assert list(waiting.result()) == [b"k", b"v"]
    other_db.flushdb()


def test_block_in_multi_and_lua(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.xread({"s": "$"}, block=0)
        assert pipe.execute() == [[]]  # a client in MULTI may not block: the timeout reply (nil) at once
    assert r.eval("return redis.call('XADD', KEYS[1], '1-0', 'f', 'v')", 1, "s") == b"1-0"
    assert r.eval("return redis.call('XRANGE', KEYS[1], '-', '+')", 1, "s") == [[b"1-0", [b"f", b"v"]]]
    with pytest.raises(redis.ResponseError, match="xread command is not allowed with BLOCK option from scripts"):
        r.eval("return redis.call('xread', 'BLOCK', 0, 'STREAMS', KEYS[1], '$')", 1, "s")


# -- resp3 shapes, command table --------------------------------------------------------------------------


def test_resp3_maps(make_client: Callable[..., redis.Redis]) -> None:
    r = raw(make_client(protocol=3))
    r.execute_command("XADD", "s", "1-0", "f", "v")
    assert r.execute_command("XREAD", "STREAMS", "s", "0") == {b"s": [[b"1-0", [b"f", b"v"]]]}
    info = r.execute_command("XINFO", "STREAM", "s")
    assert info[b"length"] == 1 and info[b"first-entry"] == [b"1-0", [b"f", b"v"]]
    assert r.execute_command("XRANGE", "s", "-", "+", "COUNT", "0") is None


@pytest.mark.parametrize("name", [
    "xadd", "xrange", "xrevrange", "xlen", "xdel", "xtrim", "xread", "xreadgroup", "xack", "xpending", "xclaim",
    "xautoclaim", "xsetid", "xgroup", "xinfo"])
def test_command_info_matches_redis(pair: Callable[..., tuple[redis.Redis, redis.Redis]], name: str) -> None:
    embedded, real = (raw(client) for client in pair(protocol=3))

    def info(client: redis.Redis) -> Any:
        [reply] = client.execute_command("COMMAND", "INFO", name)
        return [*reply[:9], sorted(reply[9], key=lambda sub: sub[0])]  # Redis lists subcommands in hash order

    assert info(embedded) == info(real)
    assert embedded.execute_command("COMMAND", "DOCS", name) == real.execute_command("COMMAND", "DOCS", name)
    keys = ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]
    assert embedded.execute_command("COMMAND", "GETKEYS", *keys) == real.execute_command("COMMAND", "GETKEYS", *keys)
