"""connect() to a Redis Cluster, named cluster connections and pipelines grouped by node."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from tests.conftest import RedisClusterProcesses

import redpocket


def test_connect_url_gives_a_cluster_client(redis_cluster: RedisClusterProcesses, cluster_db: Any) -> None:
    client = redpocket.connect(redis_cluster.url, name="c")
    try:
        assert isinstance(client, RedisCluster)
        assert redpocket.get_client("c") is client
        assert {n.port for n in client.get_primaries()} == set(redis_cluster.masters())
        client.set("x", "1")
        assert cluster_db.get("x") == b"1"
        first = redis_cluster.ports[0]
        one = redpocket.connect(f"redis+cluster://127.0.0.1:{first}?decode_responses=true", name="d")
        assert one.get("x") == "1"  # discovers the whole cluster from one node
    finally:
        redpocket.disconnect("c")
        redpocket.disconnect("d")


def test_connect_takes_a_redis_cluster_client(cluster_db: Any) -> None:
    assert redpocket.get_client() is cluster_db
    with pytest.raises(redpocket.ConfigurationError, match="database 0 only"):
        redpocket.connect("redis+cluster://127.0.0.1:1?db=2", name="bad")
    with pytest.raises(redpocket.ConfigurationError, match="host:port"):
        redpocket.connect("redis+cluster://127.0.0.1", name="bad")


def test_named_connections_on_one_cluster(redis_cluster: RedisClusterProcesses, cluster_db: Any) -> None:
    redpocket.connect(redis_cluster.client(), name="users")
    with redpocket.pipeline(name="users") as pipe:
        pipe.hset("u{1}", "name", "joe")
        with redpocket.pipeline(pipe) as other:
            other.hset("m{1}", "body", "hi there")
        count = pipe.hlen("u{1}")
    assert count.result == 1
    assert cluster_db.hget("m{1}", "body") == b"hi there"
    redpocket.disconnect("users")


def test_pipeline_sends_one_batch_per_node_and_fills_every_result(cluster_db: Any, node_sends: list[str]) -> None:
    keys = [f"key:{i}" for i in range(300)]
    owners = {cluster_db.nodes_manager.get_node_from_slot(cluster_db.keyslot(k)).name for k in keys}
    assert len(owners) == 3
    with redpocket.pipeline() as pipe:
        results = [pipe.incrby(k, i) for i, k in enumerate(keys)]
        unions = pipe.zunionstore("{z}:out", ["{z}:a", "{z}:b"])  # keys after numkeys: no COMMAND GETKEYS round trip
    assert sorted(node_sends) == sorted(owners | {cluster_db.nodes_manager.get_node_from_slot(cluster_db.keyslot("{z}")).name}) or len(node_sends) == 3
    assert len(node_sends) == len(set(node_sends))  # one batch per node
    assert [r.result for r in results] == list(range(300))
    assert unions.result == 0


def test_transactions_need_one_slot_and_fail_before_sending(cluster_db: Any, node_sends: list[str]) -> None:
    with redpocket.pipeline(transaction=True) as pipe:
        a = pipe.incr("{user:1}:visits")
        b = pipe.incr("{user:1}:visits")
        c = pipe.zinterstore("{user:1}:both", ["{user:1}:x", "{user:1}:y"])
    assert (a.result, b.result, c.result) == (1, 2, 0)
    sent = len(node_sends)
    with pytest.raises(redpocket.PipelineError, match="needs every key in one slot"), redpocket.pipeline(transaction=True) as pipe:
        pipe.set("{user:1}:name", "a")
        pipe.set("{user:2}:name", "b")
    assert len(node_sends) == sent  # nothing was sent
    assert cluster_db.exists("{user:1}:name", "{user:2}:name") == 0


def test_cross_slot_multi_key_command_is_an_error_of_that_command(cluster_db: Any) -> None:
    with redpocket.pipeline() as pipe:
        bad = pipe.execute_command("SUNIONSTORE", "a", "b", "c")
        good = pipe.set("a", "1")
    with pytest.raises(redis.RedisClusterException, match="same"):
        _ = bad.result
    assert good.result is True


def test_keyspaces_keep_one_member_in_one_slot(cluster_db: Any) -> None:
    class Followers(redpocket.SortedSet):
        namespace = "F"

    class Seen(redpocket.Set):
        namespace = "F"

    f1 = Followers("1")
    assert f1.key == "F{1}"
    with redpocket.pipeline() as pipe:
        followers = Followers("1", pipe=pipe)
        followers.zadd("a", score=1)
        followers.zadd("b", score=2)
        members = followers.zrange(0, -1)
    assert members.result == [b"a", b"b"]
    # Multi-key commands between two keys of one member stay in one slot.
    assert cluster_db.keyslot("F{1}") == cluster_db.keyslot("Fcopy{1}")
    with redpocket.pipeline(transaction=True) as pipe:
        pipe.zunionstore("Fcopy{1}", ["F{1}"])
        copy = pipe.zcard("Fcopy{1}")
    assert copy.result == 2
    assert Seen("2").sadd("x").result == 1
