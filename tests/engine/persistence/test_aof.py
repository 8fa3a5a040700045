"""The append-only file: logging, fsync policies, transactions, truncation, corruption, rewrite."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest
import redis
from persistence_helpers import Opener, aof_bytes, aof_file, close, dataset

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import CorruptFileError, PersistenceError, persistence_of
from redpocket.engine.persistence.records import RecordStream, encode, parse_records


def records(directory: Path) -> list[list[bytes]]:
    """Return the commands of the append-only file (no snapshot preamble expected)."""
    return [argv for _offset, _end, argv in parse_records(aof_bytes(directory))]


def test_writes_are_logged_and_replayed(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("name", "value")
    r.hset("hash", mapping={"a": "1", "b": "2"})
    r.rpush("list", "x", "y")
    r.sadd("set", "m")
    r.delete("set")
    r.get("name")  # reads are not logged
    assert records(tmp_path) == [
        [b"SELECT", b"0"],
        [b"SET", b"name", b"value"],
        [b"HSET", b"hash", b"a", b"1", b"b", b"2"],
        [b"RPUSH", b"list", b"x", b"y"],
        [b"SADD", b"set", b"m"],
        [b"DEL", b"set"],
    ]
    before = dataset(engine)
    close(engine)
    engine, r = open_engine()
    assert dataset(engine) == before


def test_failed_and_no_op_writes_are_not_logged(open_engine: Opener, tmp_path: Path) -> None:
    _engine, r = open_engine(appendfsync="always")
    r.set("s", "1")
    with pytest.raises(redis.ResponseError):
        r.lpush("s", "x")  # WRONGTYPE
    r.delete("missing")
    r.srem("nothing", "m")
    assert records(tmp_path) == [[b"SELECT", b"0"], [b"SET", b"s", b"1"]]


def test_select_is_written_when_the_database_changes(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r3 = EmbeddedRedis(engine, db=3)
    r.set("a", "0")
    r3.set("a", "3")
    r3.set("b", "3")
    r.set("b", "0")
    assert records(tmp_path) == [
        [b"SELECT", b"0"], [b"SET", b"a", b"0"],
        [b"SELECT", b"3"], [b"SET", b"a", b"3"], [b"SET", b"b", b"3"],
        [b"SELECT", b"0"], [b"SET", b"b", b"0"],
    ]
    close(engine)
    engine, _r = open_engine()
    assert engine.databases[3].data == {b"a": b"3", b"b": b"3"}
    assert engine.databases[0].data == {b"a": b"0", b"b": b"0"}


def test_transactions_are_wrapped_in_multi_exec(open_engine: Opener, tmp_path: Path) -> None:
    _engine, r = open_engine(appendfsync="always")
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").incr("counter").get("a").execute()
    with r.pipeline(transaction=True) as pipe:
        pipe.set("single", "1").get("single").execute()  # one write: no MULTI needed
    assert records(tmp_path) == [
        [b"MULTI"], [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"INCRBY", b"counter", b"1"], [b"EXEC"],
        [b"SET", b"single", b"1"],
    ]


def test_script_writes_are_logged_as_one_transaction(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    if b"eval" not in engine.commands:
        pytest.skip("scripting not landed")
    r.eval("redis.call('SET', KEYS[1], 'x'); redis.call('SET', KEYS[2], 'y')", 2, "k1", "k2")
    assert records(tmp_path) == [
        [b"MULTI"], [b"SELECT", b"0"], [b"SET", b"k1", b"x"], [b"SET", b"k2", b"y"], [b"EXEC"],
    ]


def test_an_expired_key_is_logged_as_del(open_engine: Opener, tmp_path: Path) -> None:
    _engine, r = open_engine(appendfsync="always")
    r.set("k", "v", px=20)
    time.sleep(0.05)
    assert r.get("k") is None
    assert records(tmp_path)[-1] == [b"DEL", b"k"]


# -- fsync policies ------------------------------------------------------------------------


def test_always_writes_before_the_reply(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("k", "v")
    assert aof_bytes(tmp_path).endswith(encode([b"SET", b"k", b"v"]))
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None and not aof._unsynced


def test_everysec_fsyncs_within_a_second(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="everysec")
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    r.set("k", "v")
    assert aof._unsynced  # written to the OS, fsync pending
    assert aof_bytes(tmp_path).endswith(encode([b"SET", b"k", b"v"]))
    deadline = time.monotonic() + 1.5
    while aof._unsynced and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not aof._unsynced


def test_appendfsync_can_change_at_runtime(open_engine: Opener) -> None:
    engine, r = open_engine(appendfsync="no")
    r.config_set("appendfsync", "always")
    r.set("k", "v")
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None and not aof._unsynced


# -- damaged files --------------------------------------------------------------------------


def write_commands(directory: Path, *commands: list[bytes]) -> bytes:
    data = b"".join(encode(argv) for argv in commands)
    (directory / "appendonly.aof").write_bytes(data)
    return data


def test_a_command_cut_short_is_dropped_with_a_warning(
    open_engine: Opener, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("a", "1")
    r.set("b", "2")
    r.set("c", "3")
    close(engine)
    data = aof_bytes(tmp_path)
    last = encode([b"SET", b"c", b"3"])
    for cut in (1, 5, len(last) - 1):  # inside the count, a length, the final CRLF
        aof_file(tmp_path).write_bytes(data[: len(data) - cut])
        with caplog.at_level(logging.WARNING, logger="redpocket.persistence"):
            engine, r = open_engine()
        assert r.mget("a", "b", "c") == [b"1", b"2", None]
        assert "cut short" in caplog.text
        caplog.clear()
        # The tail was cut off the file, so appending after it keeps the file loadable.
        assert aof_bytes(tmp_path) == data[: len(data) - len(last)]
        r.set("d", "4")
        close(engine)
        engine, r = open_engine()
        assert r.mget("a", "b", "c", "d") == [b"1", b"2", None, b"4"]
        close(engine)
        r.connection_pool.disconnect()


def test_a_transaction_cut_short_is_dropped_whole(open_engine: Opener, tmp_path: Path) -> None:
    data = write_commands(
        tmp_path,
        [b"SELECT", b"0"], [b"SET", b"before", b"1"],
        [b"MULTI"], [b"SET", b"t1", b"1"], [b"SET", b"t2", b"2"], [b"EXEC"],
    )
    (tmp_path / "appendonly.aof").write_bytes(data[: -len(encode([b"EXEC"]))])
    _engine, r = open_engine()
    assert r.mget("before", "t1", "t2") == [b"1", None, None]


def test_corruption_in_the_middle_refuses_to_start_naming_the_offset(open_engine: Opener, tmp_path: Path) -> None:
    data = write_commands(tmp_path, [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"SET", b"c", b"3"])
    offset = data.index(b"*3\r\n$3\r\nSET\r\n$1\r\nb")
    damaged = data[:offset] + b"#" + data[offset + 1 :]
    (tmp_path / "appendonly.aof").write_bytes(damaged)
    with pytest.raises(CorruptFileError) as raised:
        open_engine()
    assert raised.value.offset == offset
    assert f"offset {offset}" in str(raised.value)
    # Nothing was changed: the file (moved into the append-only directory, as Redis 7 does) is left for repair.
    assert str(aof_file(tmp_path)) in str(raised.value)
    assert aof_file(tmp_path).read_bytes() == damaged


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d.replace(b"$1\r\nb", b"$x\r\nb", 1), "malformed"),
        (lambda d: d.replace(b"$1\r\nb", b"$2\r\nb", 1), "CRLF"),
        (lambda d: d.replace(b"*3\r\n$3\r\nSET\r\n$1\r\nb", b"*4\r\n$3\r\nSET\r\n$1\r\nb", 1), "expected"),
        (lambda d: d.replace(b"*3\r\n$3\r\nSET\r\n$1\r\nb", b"*0\r\n$3\r\nSET\r\n$1\r\nb", 1), "empty"),
    ],
)
def test_other_damage_is_refused(open_engine: Opener, tmp_path: Path, damage: object, reason: str) -> None:
    data = write_commands(tmp_path, [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"SET", b"c", b"3"])
    (tmp_path / "appendonly.aof").write_bytes(damage(data))  # type: ignore[operator]
    with pytest.raises(CorruptFileError, match=reason):
        open_engine()


def test_an_unknown_command_refuses_to_start(open_engine: Opener, tmp_path: Path) -> None:
    write_commands(tmp_path, [b"SET", b"a", b"1"], [b"FIFOADD", b"q", b"1"])
    offset = len(encode([b"SET", b"a", b"1"]))
    with pytest.raises(PersistenceError, match=f"unknown command 'FIFOADD' at offset {offset}"):
        open_engine()


def test_record_stream_reports_the_valid_end() -> None:
    data = encode([b"SET", b"a", b"1"]) + encode([b"MULTI"]) + encode([b"SET", b"b", b"2"])
    stream = RecordStream(data, 0, "<test>")
    assert [argv for _offset, argv in stream] == [[b"SET", b"a", b"1"]]
    assert stream.valid_end == len(encode([b"SET", b"a", b"1"]))
    assert stream.dropped_at == stream.valid_end
    with pytest.raises(CorruptFileError, match="ends inside"):
        list(RecordStream(data[:-3], 0, "<test>", tolerate_truncation=False))


# -- rewriting ----------------------------------------------------------------------------------


def test_bgrewriteaof_compacts_the_file(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    for i in range(200):
        r.set("counter", i)
    size = len(aof_bytes(tmp_path))
    assert r.bgrewriteaof()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.aof is not None
    persistence.aof.rewrite_thread.join()  # type: ignore[union-attr]
    assert len(aof_bytes(tmp_path)) < size / 4
    assert aof_bytes(tmp_path).startswith(b"REDIS0010")  # an RDB preamble, then commands
    r.set("after", "1")
    close(engine)
    engine, r = open_engine()
    assert r.mget("counter", "after") == [b"199", b"1"]


def test_writes_during_a_rewrite_are_kept(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="everysec")
    for i in range(2000):
        r.hset("big", f"field{i}", "x" * 50)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            r.rpush("log", i)
            written.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(3):
            assert r.bgrewriteaof()
            aof = persistence_of(engine).aof  # type: ignore[union-attr]
            assert aof is not None
            aof.rewrite_thread.join()  # type: ignore[union-attr]
            assert aof.last_rewrite_ok
    finally:
        stop.set()
        thread.join()
    expected = dataset(engine)
    close(engine)
    engine, r = open_engine()
    assert dataset(engine) == expected
    assert r.lrange("log", 0, -1) == [b"%d" % i for i in written]


def test_a_rewrite_already_running_is_refused(open_engine: Opener) -> None:
    engine, r = open_engine()
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    with engine.lock:
        assert r.bgrewriteaof()
        with pytest.raises(redis.ResponseError, match="already in progress"):
            r.bgrewriteaof()
    aof.rewrite_thread.join()  # type: ignore[union-attr]


def test_bgrewriteaof_inside_a_transaction_is_scheduled_after_it(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    with r.pipeline(transaction=True) as pipe:
        pipe.incr("n").execute_command("BGREWRITEAOF").incr("n")
        assert pipe.execute() == [1, True, 2]  # "Background append only file rewriting scheduled"
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    aof.rewrite_thread.join()  # type: ignore[union-attr]
    assert aof.rewrites == 1
    close(engine)
    _engine, r = open_engine()
    assert r.get("n") == b"2"  # logged once, not also copied into the rewrite


def test_automatic_rewrite_by_growth(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="no")
    r.config_set("auto-aof-rewrite-min-size", "4096")
    r.config_set("auto-aof-rewrite-percentage", "100")
    for i in range(300):
        r.set("k", "v" * 40 + str(i))
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    deadline = time.monotonic() + 3
    while aof.rewrites == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert aof.rewrites >= 1
    aof.rewrite_thread.join()  # type: ignore[union-attr]
    assert len(aof_bytes(tmp_path)) < 4096


def test_appendonly_can_be_turned_on_at_runtime(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.set("before", "1")
    assert not (tmp_path / "appendonlydir").exists()
    r.config_set("appendonly", "yes")
    deadline = time.monotonic() + 3
    persistence = persistence_of(engine)
    assert persistence is not None
    while (persistence.aof is None or persistence.aof.fd is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    r.set("after", "2")
    close(engine)
    _engine, r = open_engine()
    assert r.mget("before", "after") == [b"1", b"2"]


def test_a_directory_opens_in_one_engine_at_a_time(open_engine: Opener, tmp_path: Path) -> None:
    engine, _r = open_engine()
    with pytest.raises(PersistenceError, match="in use"):
        open_engine()
    close(engine)
    open_engine()


def test_a_closed_engine_stops_logging(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.set("a", "1")
    close(engine)
    size = os.path.getsize(aof_file(tmp_path))
    r.set("b", "2")
    assert os.path.getsize(aof_file(tmp_path)) == size
    assert persistence_of(engine) is None
    assert isinstance(engine, Engine)


def test_close_from_a_thread_holding_the_engine_lock(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    for i in range(3000):
        r.hset("big", f"f{i}", "x" * 100)
    persistence = persistence_of(engine)
    assert persistence is not None
    with engine.lock:  # as a SHUTDOWN handler would
        assert r.bgrewriteaof()
        persistence.close()
    assert not any(path.name.startswith("temp-") for path in tmp_path.iterdir())
    engine, r = open_engine()
    assert r.hlen("big") == 3000


def test_open_persistence_is_the_servers_spelling(tmp_path: Path) -> None:
    from redpocket.engine.persistence import open_persistence

    engine = Engine()
    persistence = open_persistence(engine, dir=str(tmp_path), appendonly=True, appendfsync="no")
    EmbeddedRedis(engine).set("k", "v")
    persistence.tick()  # the server's cron may tick too: extra calls are harmless
    persistence.close()
    assert aof_bytes(tmp_path).endswith(encode([b"SET", b"k", b"v"]))
