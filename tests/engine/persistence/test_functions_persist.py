"""Function libraries survive a restart: through the append-only file, its rewrite and snapshots."""

from __future__ import annotations

from pathlib import Path

from persistence_helpers import Opener, close

from redpocket.engine.persistence import persistence_of

LIB = "#!lua name=lib\nredis.register_function('f', function(keys, args) return redis.call('incr', keys[1]) end)"
LIB2 = "#!lua name=lib2\nredis.register_function{function_name='g', callback=function() return 2 end, flags={'no-writes'}}"


def test_the_append_only_file_replays_function_commands(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.function_load(LIB)
    r.function_load(LIB2)
    assert r.fcall("f", 1, "counter") == 1
    r.function_delete("lib2")
    r.function_load(LIB.replace("incr", "decr"), replace=True)
    assert r.fcall("f", 1, "counter") == 0
    close(engine)
    engine, r = open_engine()
    assert [lib[1] for lib in r.function_list()] == [b"lib"]
    assert r.get("counter") == b"0"
    assert r.fcall("f", 1, "counter") == -1


def test_a_rewrite_keeps_the_libraries(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendfsync="always")
    r.function_load(LIB)
    r.function_load(LIB2)
    assert r.bgrewriteaof()
    aof = persistence_of(engine).aof  # type: ignore[union-attr]
    assert aof is not None
    aof.rewrite_thread.join()  # type: ignore[union-attr]
    r.function_delete("lib2")
    close(engine)
    engine, r = open_engine()
    assert r.fcall("f", 1, "k") == 1
    assert [lib[1] for lib in r.function_list()] == [b"lib"]


def test_a_snapshot_keeps_the_libraries(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.function_load(LIB)
    r.function_load(LIB2)
    r.execute_command("SAVE")
    close(engine)
    engine, r = open_engine(appendonly=False)
    assert sorted(lib[1] for lib in r.function_list()) == [b"lib", b"lib2"]
    assert r.fcall_ro("g", 0) == 2
    close(engine)
    # Switching the append-only file on starts it from the snapshot, libraries included.
    engine, r = open_engine(appendfsync="always")
    close(engine)
    (tmp_path / "dump.rdb").unlink()
    engine, r = open_engine()
    assert r.fcall("f", 1, "k") == 1
