"""One data directory, either server: the append-only directory of either opens in the other."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis
from persistence_helpers import Opener, close
from tests.conftest import start_redis_server
from tests.engine.rdb_values import VALUES, build, read_back

from redpocket.engine.persistence import PersistenceError, persistence_of
from redpocket.engine.persistence.aof_manifest import parse_manifest


def contents(client: redis.Redis) -> dict[bytes, tuple[Any, ...]]:
    """Return every key: its value and absolute expiry."""
    return {key: (*read_back(client, key.decode()), client.pexpiretime(key)) for key in client.keys("*")}


def wait_for_rewrite(client: redis.Redis) -> None:
    """Wait until redis-server's background rewrite is over."""
    deadline = time.monotonic() + 30
    while client.info("persistence")["aof_rewrite_in_progress"] or client.info("persistence")["aof_rewrite_scheduled"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_two_servers_take_turns_on_one_directory(open_engine: Opener, tmp_path: Path) -> None:
    # 1. redis-server writes a multi-part directory: an RDB base, then incremental commands.
    server = start_redis_server(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    real = server.client()
    for name in sorted(VALUES)[: len(VALUES) // 2]:
        build(real, name, name)
    real.bgrewriteaof()
    wait_for_rewrite(real)
    for name in sorted(VALUES)[len(VALUES) // 2 :]:
        build(real, name, name)
    real.set("ttl", "v", px=700_000)
    real.incr("counter", 5)
    expected = contents(real)
    server.process.terminate()
    server.process.wait(timeout=10)
    manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
    parts = parse_manifest(manifest)
    assert parts.base is not None and parts.base.name.endswith(".base.rdb") and parts.increments

    # 2. redpocket opens it and appends to redis-server's last incremental file.
    engine, r = open_engine(tmp_path)
    assert contents(r) == expected
    r.incr("counter")
    r.rpush("list-small", "added")
    expected = contents(r)
    close(engine)
    assert parse_manifest(manifest).files == parts.files

    # 3. redis-server loads that, appends, rewrites: a new RDB base and incremental file.
    server = start_redis_server(tmp_path, "--appendonly", "yes")
    real = server.client()
    assert contents(real) == expected
    real.set("from-redis", "1")
    expected = contents(real)
    server.process.terminate()
    server.process.wait(timeout=10)

    # 4. redpocket again, with a rewrite of its own: one base (RDB preamble, then commands).
    engine, r = open_engine(tmp_path)
    assert contents(r) == expected
    assert r.bgrewriteaof()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.aof is not None and persistence.aof.rewrite_thread is not None
    persistence.aof.rewrite_thread.join()
    r.set("after-rewrite", "1")
    expected = contents(r)
    close(engine)
    rewritten = parse_manifest(manifest)
    assert rewritten.base is not None and rewritten.base.name.endswith(".base.aof") and not rewritten.increments
    assert sorted(path.name for path in manifest.parent.iterdir()) == sorted([manifest.name, rewritten.base.name])

    # 5. ... which redis-server loads too.
    server = start_redis_server(tmp_path, "--appendonly", "yes")
    try:
        assert contents(server.client()) == expected
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


def test_an_old_single_file_is_moved_into_the_directory(open_engine: Opener, tmp_path: Path) -> None:
    (tmp_path / "appendonly.aof").write_bytes(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
    engine, r = open_engine(tmp_path)
    assert r.get("k") == b"v"
    r.set("k2", "v2")
    close(engine)
    assert not (tmp_path / "appendonly.aof").exists()
    parts = parse_manifest(tmp_path / "appendonlydir" / "appendonly.aof.manifest")
    assert [path.name for path in parts.files] == ["appendonly.aof"]
    engine, r = open_engine(tmp_path)
    assert r.mget("k", "k2") == [b"v", b"v2"]


def test_a_bad_manifest_is_refused(open_engine: Opener, tmp_path: Path) -> None:
    directory = tmp_path / "appendonlydir"
    directory.mkdir()
    manifest = directory / "appendonly.aof.manifest"
    for text, message in [
        ("", "empty AOF manifest"),
        ("file a seq 1\n", "Invalid AOF manifest file format"),
        ("file ../a seq 1 type b\n", "just a filename"),
        ("file a seq 1 type b\nfile b seq 1 type b\n", "duplicate base"),
        ("file a seq 2 type i\nfile b seq 1 type i\n", "non-monotonic"),
        ("file a seq 1 type x\n", "Unknown AOF file type"),
        ("file missing.aof seq 1 type b\n", "does not exist"),
    ]:
        manifest.write_text(text)
        with pytest.raises(PersistenceError, match=message):
            open_engine(tmp_path)
