"""Cluster-only fixtures: the session's Redis Cluster, flushed, as the default connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.conftest import RedisClusterProcesses, flush_cluster

import redpocket


@pytest.fixture
def cluster_db(redis_cluster: RedisClusterProcesses) -> Iterator[Any]:
    """Flush the session cluster and make a ``RedisCluster`` client of it the default connection."""
    client = redis_cluster.client()
    flush_cluster(client)
    redpocket.connect(client)
    yield client
    redpocket.disconnect()


@pytest.fixture
def node_sends(cluster_db: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the node (``host:port``) of every batch of commands sent, once the fixture is requested."""
    connection_class = cluster_db.get_default_node().redis_connection.connection_pool.connection_class
    original = connection_class.send_packed_command
    sent: list[str] = []

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(f"{self.host}:{self.port}")
        original(self, command, check_health)

    cluster_db.ping(target_nodes=redis.cluster.RedisCluster.ALL_NODES)  # connect to every node first
    monkeypatch.setattr(connection_class, "send_packed_command", counting)
    return sent
