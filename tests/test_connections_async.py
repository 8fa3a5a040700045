"""connect_async(): the asyncio connections, for every URL connect() takes, sharing engines with the sync ones."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster

import redpocket
from redpocket.client_async import AsyncEmbeddedRedis


@pytest.fixture(autouse=True)
def _forget_sync_connections():
    yield
    redpocket.disconnect()


async def test_default_is_the_embedded_engine_of_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDPOCKET_URL", raising=False)
    client = redpocket.connect_async()
    assert isinstance(client, AsyncEmbeddedRedis)
    assert client.engine is redpocket.connect().engine
    await client.set("x", "1")
    assert redpocket.get_client().get("x") == b"1"
    assert redpocket.get_async_client() is client


async def test_memory_and_file_urls_share_the_engine_and_db_of_sync_clients(tmp_path) -> None:
    sync = redpocket.connect("memory://shared?db=3", name="s")
    client = redpocket.connect_async("memory://shared?db=3", name="s", decode_responses=True)
    sync.set("k", "from sync")
    assert await client.get("k") == "from sync"
    assert await redpocket.connect_async("memory://other", name="o").get("k") is None

    url = f"file://{tmp_path}"
    stored = redpocket.connect(url, name="f")
    persistent = redpocket.connect_async(url, name="f")
    await persistent.set("durable", "yes")
    assert stored.get("durable") == b"yes"
    assert persistent.engine is stored.engine


async def test_server_and_cluster_urls_give_redis_asyncio_clients(redis_server, redis_cluster) -> None:
    client = redpocket.connect_async(f"redis://127.0.0.1:{redis_server.port}/2", name="srv")
    assert type(client) is redis.asyncio.Redis
    assert await redpocket.get_async_client("srv").ping()
    cluster = redpocket.connect_async(redis_cluster.url, name="cluster")
    assert isinstance(cluster, redis.asyncio.cluster.RedisCluster)
    await cluster.set("{a}k", "v")
    assert await cluster.get("{a}k") == b"v"


async def test_the_default_async_connection_follows_an_embedded_sync_default() -> None:
    sync = redpocket.connect("memory://followed?db=2")
    await redpocket.get_async_client().set("k", "v")
    assert sync.get("k") == b"v"


async def test_unknown_names_bad_urls_and_bad_targets() -> None:
    with pytest.raises(redpocket.ConfigurationError, match="no asyncio connection named 'nope'"):
        redpocket.get_async_client("nope")
    with pytest.raises(redpocket.ConfigurationError, match="unsupported connection URL"):
        redpocket.connect_async("ftp://x")
    with pytest.raises(redpocket.ConfigurationError, match="connect_async"):
        redpocket.connect_async(redis.Redis())  # type: ignore[arg-type]
    with pytest.raises(redpocket.ConfigurationError, match="options apply to URLs only"):
        redpocket.connect_async(AsyncEmbeddedRedis(), decode_responses=True)


async def test_disconnect_async_closes_and_forgets() -> None:
    client = redpocket.connect_async("memory://gone", name="gone")
    await client.ping()
    await redpocket.disconnect_async("gone")
    with pytest.raises(redpocket.ConfigurationError):
        redpocket.get_async_client("gone")
