"""connect(), named connections, REDPOCKET_URL and Repocket's configure spelling."""

from __future__ import annotations

import pytest
import redis

import redpocket
from redpocket.client import EmbeddedRedis
from redpocket.connections import configure


@pytest.fixture(autouse=True)
def _forget_connections():
    yield
    redpocket.disconnect()


def test_default_connection_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDPOCKET_URL", raising=False)
    client = redpocket.get_client()
    assert isinstance(client, EmbeddedRedis)
    client.set("x", "1")
    assert redpocket.get_client().get("x") == b"1"


def test_memory_urls_name_engines() -> None:
    a = redpocket.connect("memory://alpha", name="a")
    b = redpocket.connect("memory://beta", name="b")
    again = redpocket.connect("memory://alpha", name="c")
    a.set("k", "1")
    assert b.get("k") is None
    assert again.get("k") == b"1"


def test_redis_url(redis_server) -> None:
    client = redpocket.connect(f"redis://127.0.0.1:{redis_server.port}/2", name="srv")
    assert isinstance(client, redis.Redis) and not isinstance(client, EmbeddedRedis)
    assert redpocket.get_client("srv").ping()


def test_env_url(monkeypatch: pytest.MonkeyPatch, redis_server) -> None:
    monkeypatch.setenv("REDPOCKET_URL", f"redis://127.0.0.1:{redis_server.port}/0")
    assert redpocket.connect().connection_pool.connection_kwargs["port"] == redis_server.port


def test_bring_your_own_client() -> None:
    mine = EmbeddedRedis()
    assert redpocket.connect(mine, name="users") is mine
    assert redpocket.get_client("users") is mine


def test_unknown_name_and_bad_url() -> None:
    with pytest.raises(redpocket.ConfigurationError, match="no connection named 'nope'"):
        redpocket.get_client("nope")
    with pytest.raises(redpocket.ConfigurationError, match="unsupported connection URL"):
        redpocket.connect("ftp://example")


def test_repocket_configure(redis_server) -> None:
    configure.connection_pool(hostname="127.0.0.1", port=redis_server.port, db=0)
    assert configure.get_connection().ping()


def test_file_url_persists_across_engines(tmp_path) -> None:
    from redpocket.engine.persistence.manager import open_persistent_engine

    client = redpocket.connect(f"file://{tmp_path}/db?appendfsync=always", name="disk")
    client.set("greeting", "hello")
    client.hset("h", "f", "v")
    client.engine.close()
    reopened = open_persistent_engine(tmp_path / "db")
    try:
        assert EmbeddedRedis(reopened).get("greeting") == b"hello"
        assert EmbeddedRedis(reopened).hgetall("h") == {b"f": b"v"}
    finally:
        reopened.close()


def test_structures_option_registers_commands() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from fifo import FIFO

    client = redpocket.connect("memory://with-fifo", structures=[FIFO], name="fifo")
    client.execute_command("FIFOADD", "q", "a", "b")
    assert client.execute_command("FIFOPOP", "q") == b"a"
    assert client.type("q") == b"fifo"


def test_implicit_in_memory_engine_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("REDPOCKET_URL", raising=False)
    redpocket.disconnect()
    with caplog.at_level("WARNING", logger="redpocket"):
        redpocket.get_client().set("k", "v")
        redpocket.get_client().get("k")
    warnings = [r for r in caplog.records if r.name == "redpocket" and r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "in-memory" in warnings[0].getMessage() and "file:///" in warnings[0].getMessage()


def test_explicit_connection_does_not_warn(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("REDPOCKET_URL", raising=False)
    with caplog.at_level("WARNING", logger="redpocket"):
        redpocket.connect("memory://")
        redpocket.get_client()
    assert not [r for r in caplog.records if r.name == "redpocket"]


def test_relative_file_urls_resolve_against_the_working_directory(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, directory in (("file:rel/db", "rel/db"), ("file:./dot/db", "dot/db")):
        client = redpocket.connect(url, name="disk")
        client.set("k", "v")
        client.save()
        assert (tmp_path / directory).is_dir(), url
    with pytest.raises(redpocket.ConfigurationError, match="host"):
        redpocket.connect("file://relative/dir", name="bad")
    assert not (tmp_path / "dir").exists()
