"""Riding through resharding and failover: MOVED/ASK, CLUSTER FAILOVER and a SIGKILLed master.

The failover tests start private clusters (``cluster_factory``) since they
change which node is a master; the slot migration uses the session's.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from tests.conftest import RedisClusterProcesses

import redpocket
from redpocket import ActiveRecord, attributes


class Order(ActiveRecord):
    customer = attributes.Unicode(index=True)
    total = attributes.Integer(index=True)


def node_id(client: Any) -> str:
    return client.execute_command("CLUSTER", "MYID").decode()


def test_pipelines_follow_ask_and_moved_while_a_slot_migrates(redis_cluster: RedisClusterProcesses, cluster_db: Any) -> None:
    orders = [Order.create(customer=f"c{i % 5}", total=i) for i in range(50)]
    slot = cluster_db.keyslot("{redpocket:Order}")
    source_node = cluster_db.nodes_manager.get_node_from_slot(slot)
    target_port = next(p for p in redis_cluster.masters() if p != source_node.port)
    source, target = redis_cluster.node(source_node.port), redis_cluster.node(target_port)
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(source))
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(target))
    keys = [k.decode() for k in source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)]
    records = sorted(k for k in keys if ":id:" in k)
    moved = records[: len(records) // 2]
    source.execute_command("MIGRATE", "127.0.0.1", target_port, "", 0, 5000, "KEYS", *moved)
    # Half the records answer ASK: a pipelined load follows it (ASKING) and fills every result.
    with redpocket.pipeline() as pipe:
        loaded = Order.objects.get_many([o.id for o in orders], pipe=pipe)
    assert [o.total for o in loaded.result] == list(range(50))
    rest = [k for k in keys if k not in moved]
    source.execute_command("MIGRATE", "127.0.0.1", target_port, "", 0, 5000, "KEYS", *rest)
    for port in redis_cluster.masters():
        redis_cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", node_id(target))
    # The client still routes the slot to the old owner: MOVED, retried transparently.
    with redpocket.pipeline() as pipe:
        for order in orders[:10]:
            order.update(total=order.total + 100, pipe=pipe)
        counted = pipe.scard("{redpocket:Order}:ids")
    assert counted.result == 50
    assert sorted(o.total for o in Order.objects.filter(total__gte=100)) == list(range(100, 110))
    assert Order.objects.filter(customer="c1").count() == 10
    assert Order.objects.check() == []
    assert cluster_db.nodes_manager.get_node_from_slot(slot).port == target_port


class Load:
    """A steady load of ORM saves and reads in a thread, recording what was acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: list[str] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                order = Order.create(customer=f"c{i % 7}", total=i)
                self.acknowledged.append(str(order.id))
                if i % 5 == 0:
                    with redpocket.pipeline() as pipe:
                        batch = [Order.create(customer="bulk", total=i, pipe=pipe) for _ in range(5)]
                    self.acknowledged += [str(o.id) for o in batch]
                if i % 3 == 0:
                    assert Order.objects.get(id=order.id).total == i
                    Order.objects.filter(customer=f"c{i % 7}").count()
            except Exception as error:
                self.errors.append(error)
            i += 1
            time.sleep(0.002)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def patient_client(cluster: RedisClusterProcesses) -> RedisCluster:
    """A client that retries long enough to outlast a failover (node timeout 2 s)."""
    return cluster.client(retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 40), socket_timeout=2, socket_connect_timeout=1)


def wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def test_manual_failover_under_load_loses_nothing(cluster_factory: Any) -> None:
    cluster = cluster_factory()
    client = patient_client(cluster)
    redpocket.connect(client)
    try:
        slot = client.keyslot("{redpocket:Order}")
        master = client.nodes_manager.get_node_from_slot(slot).port
        replica = cluster.replica_of(master)
        with Load() as load:
            wait_for(lambda: len(load.acknowledged) > 100)
            cluster.node(replica).execute_command("CLUSTER", "FAILOVER")
            wait_for(lambda: cluster.node(replica).execute_command("ROLE")[0] == b"master")
            before = len(load.acknowledged)
            wait_for(lambda: len(load.acknowledged) > before + 100)
        assert load.errors == []
        cluster.wait_ok()
        found = Order.objects.get_many(load.acknowledged)
        assert all(record is not None for record in found)
        assert Order.objects.count() == len(load.acknowledged)
        assert Order.objects.check() == []
        assert client.nodes_manager.get_node_from_slot(slot).port == replica
    finally:
        redpocket.disconnect()


def test_sigkill_of_a_master_is_ridden_through(cluster_factory: Any) -> None:
    cluster = cluster_factory()
    client = patient_client(cluster)
    redpocket.connect(client)
    try:
        slot = client.keyslot("{redpocket:Order}")
        master = client.nodes_manager.get_node_from_slot(slot).port
        replica = cluster.replica_of(master)
        with Load() as load:
            wait_for(lambda: len(load.acknowledged) > 100)
            client.execute_command("WAIT", 1, 2000, target_nodes=client.nodes_manager.get_node_from_slot(slot))
            synced = list(load.acknowledged)
            os.kill(cluster.processes[master].pid, signal.SIGKILL)
            wait_for(lambda: cluster.node(replica).execute_command("ROLE")[0] == b"master", timeout=30)
            before = len(load.acknowledged)
            wait_for(lambda: len(load.acknowledged) > before + 100, timeout=30)
        assert load.errors == [], load.errors[:3]
        cluster.wait_ok()
        # Replication is asynchronous: what a replica had acknowledged (WAIT) survives the crash.
        assert all(r is not None for r in Order.objects.get_many(synced))
        after = load.acknowledged[before:]
        assert all(r is not None for r in Order.objects.get_many(after))
        assert Order.objects.check() == []
    finally:
        redpocket.disconnect()


pytestmark = pytest.mark.timeout(120)
