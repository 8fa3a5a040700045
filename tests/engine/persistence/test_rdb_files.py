"""dump.rdb files move both ways: redis-server 7.0.15 loads the engine's, the engine loads redis-server's."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from persistence_helpers import Opener, close
from tests.conftest import start_redis_server
from tests.engine.rdb_values import VALUES, Bag, build, random_value, read_back

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import CorruptFileError, persistence_of
from redpocket.engine.persistence.rdb_file import capture, load_rdb, write_capture, write_rdb_file


def fill(client: redis.Redis, database: int = 0) -> None:
    """Write every value of the catalogue, some with TTLs, plus a few hundred small keys."""
    for name in VALUES:
        build(client, name, name)
    client.pexpire("string-short", 900_000)
    client.pexpire("zset-skiplist", 800_000)
    client.set("gone", "x", px=1)
    for i in range(300):
        client.set(f"small:{i}", i * 7)
    client.hset("numbers", mapping={str(i): str(-i) for i in range(20)})
    time.sleep(0.01)


def contents(client: redis.Redis) -> dict[bytes, tuple[Any, ...]]:
    """Return every key of the client's database: its value, encoding and expiry."""
    found = {}
    for key in client.keys("*"):
        name = key.decode()
        found[key] = (*read_back(client, name), client.object("encoding", name), client.pexpiretime(name))
    return found


def assert_same_keys(engine_client: redis.Redis, server_client: redis.Redis) -> None:
    """Compare every key of the two databases, and their DUMP bytes where Redis's encoding is deterministic."""
    ours, theirs = contents(engine_client), contents(server_client)
    assert ours == theirs
    for key, (_kind, _value, encoding, _expiry) in theirs.items():
        if encoding != b"hashtable":
            assert engine_client.dump(key) == server_client.dump(key), key


def test_redis_server_loads_the_engines_dump_rdb(open_engine: Opener, tmp_path: Path, server_in) -> None:
    engine, r = open_engine(tmp_path / "engine", appendonly=False)
    fill(r)
    fill(EmbeddedRedis(engine, db=3))
    assert r.save() is True
    copy = tmp_path / "server"
    copy.mkdir()
    shutil.copy(tmp_path / "engine" / "dump.rdb", copy / "dump.rdb")
    server = server_in(copy)
    assert server.exists("gone") == 0  # expired before the save: left out, or dropped by the load
    # Both load the same file: same keys, values, TTLs, encodings (a load recomputes them) and DUMP bytes.
    close(engine)
    engine, r = open_engine(tmp_path / "engine", appendonly=False)
    assert_same_keys(r, server)
    assert_same_keys(EmbeddedRedis(engine, db=3), redis.Redis(port=server.connection_pool.connection_kwargs["port"], db=3))


def test_the_engine_loads_redis_servers_dump_rdb(open_engine: Opener, tmp_path: Path, server_in) -> None:
    source = tmp_path / "server"
    source.mkdir()
    server = server_in(source)
    fill(server)
    fill(redis.Redis(port=server.connection_pool.connection_kwargs["port"], db=3))
    server.execute_command("DEBUG", "RELOAD")  # saves, then loads its own file: encodings as a load sets them
    target = tmp_path / "engine"
    target.mkdir()
    shutil.copy(source / "dump.rdb", target / "dump.rdb")
    engine, r = open_engine(target, appendonly=False)
    assert_same_keys(r, server)
    assert_same_keys(EmbeddedRedis(engine, db=3), redis.Redis(port=server.connection_pool.connection_kwargs["port"], db=3))


def test_connect_file_url_opens_a_redis_dump(tmp_path: Path, server_in) -> None:
    import redpocket

    server = server_in(tmp_path)
    server.rpush("list", "a", "b")
    server.set("n", 10)
    server.save()
    server.shutdown(nosave=True)
    client = redpocket.connect(f"file://{tmp_path}")
    try:
        assert client.lrange("list", 0, -1) == [b"a", b"b"]
        assert client.get("n") == b"10"
    finally:
        engine = client.connection_pool.connection_kwargs.get("engine")
        if isinstance(engine, Engine):
            persistence = persistence_of(engine)
            if persistence is not None:
                persistence.close()


def test_bgsave_and_shutdown_write_rdb_files(open_engine: Opener, tmp_path: Path, server_in) -> None:
    engine, r = open_engine(tmp_path / "engine", appendonly=False)
    r.set("a", "1")
    r.bgsave()
    persistence = persistence_of(engine)
    assert persistence is not None and persistence.bgsave_thread is not None
    persistence.bgsave_thread.join()
    r.set("b", "2")
    persistence.close(save=True)
    server = server_in(tmp_path / "engine")
    assert server.mget("a", "b") == [b"1", b"2"]


def test_a_corrupt_or_truncated_file_is_refused_with_the_offset(open_engine: Opener, tmp_path: Path) -> None:
    engine, r = open_engine(appendonly=False)
    r.rpush("list", *[f"item{i}" for i in range(100)])
    r.set("last", "value")
    r.execute_command("SAVE")
    close(engine)
    data = (tmp_path / "dump.rdb").read_bytes()
    for cut in (9, 30, len(data) // 2, len(data) - 9):
        (tmp_path / "dump.rdb").write_bytes(data[:cut])
        with pytest.raises(CorruptFileError, match=r"at offset \d+"):
            open_engine(appendonly=False)
    # A wrong byte inside a value, with the checksum disabled (0): the format error names where.
    index = data.index(b"last") - 1
    damaged = data[:index] + b"\x3f" + data[index + 1 : -8] + bytes(8)
    (tmp_path / "dump.rdb").write_bytes(damaged)
    with pytest.raises(CorruptFileError, match=r"at offset \d+"):
        open_engine(appendonly=False)


def test_checksum_zero_is_accepted_and_nothing_loads_from_a_bad_file(tmp_path: Path) -> None:
    source = Engine()
    EmbeddedRedis(source).set("k", "v")
    path = tmp_path / "dump.rdb"
    with open(path, "wb") as handle:
        write_capture(handle, capture(source), checksum=False)
    data = path.read_bytes()
    assert data.endswith(bytes(8))
    target = Engine()
    assert load_rdb(target, data).keys == 1
    broken = Engine()
    with pytest.raises(Exception, match="offset"):
        load_rdb(broken, data[:-12] + data[-9:])
    assert all(not db.data for db in broken.databases)


@settings(max_examples=int(os.environ.get("REDPOCKET_RDB_FILE_EXAMPLES", "8")), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))
@given(values=st.lists(random_value(), min_size=1, max_size=8))
def test_random_datasets_load_in_redis_server_unchanged(tmp_path_factory, values) -> None:
    directory = tmp_path_factory.mktemp("random-rdb")
    engine = Engine()
    client = EmbeddedRedis(engine)
    for index, (_kind, commands) in enumerate(values):
        for argv in commands:
            client.execute_command(argv[0], f"key{index}", *argv[2:])
    write_rdb_file(directory / "dump.rdb", capture(engine))
    server = start_redis_server(directory)
    try:
        real = server.client()
        assert contents(real) == contents(client)
        for key in real.keys("*"):
            if real.object("encoding", key) != b"hashtable":
                assert real.dump(key) == client.dump(key)
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


def test_redis_check_rdb_accepts_the_engines_file(open_engine: Opener, tmp_path: Path) -> None:
    checker = shutil.which("redis-check-rdb")
    if checker is None:
        pytest.skip("redis-check-rdb is not installed")
    _engine, r = open_engine(appendonly=False)
    fill(r)
    r.save()
    outcome = subprocess.run([checker, str(tmp_path / "dump.rdb")], capture_output=True, text=True, timeout=60)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "RDB looks OK!" in outcome.stdout


def test_redis_server_refuses_a_file_with_custom_structures(tmp_path: Path) -> None:
    from redpocket.engine.structures import add_structure

    engine = Engine()
    add_structure(engine, Bag)
    EmbeddedRedis(engine).execute_command("BAGADD", "b", "x")
    write_rdb_file(tmp_path / "dump.rdb", capture(engine))
    with pytest.raises(RuntimeError, match="did not start"):
        start_redis_server(tmp_path)
    log = (tmp_path / "redis.log").read_text()
    assert "The RDB file contains module data I can't load: no matching module type 'redpocket'" in log
    reloaded = Engine()
    add_structure(reloaded, Bag)
    assert load_rdb(reloaded, (tmp_path / "dump.rdb").read_bytes()).keys == 1
    assert EmbeddedRedis(reloaded).execute_command("BAGITEMS", "b") == [b"x"]
