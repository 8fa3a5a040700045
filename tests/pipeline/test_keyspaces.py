"""Typed keyspaces over one key each (RedPipe's Followers example and friends)."""

from __future__ import annotations

import pytest
import redis

import redpocket


@pytest.fixture
def default(r: redis.Redis):
    redpocket.connect(r)
    yield r
    redpocket.disconnect()


class Followers(redpocket.SortedSet):
    namespace = "F"


class Visits(redpocket.String):
    namespace = "V"
    value_type = "integer"


class Profile(redpocket.Hash):
    namespace = "P"
    value_type = "text"
    field_types = {"age": "integer", "admin": "boolean", "tags": "json", "height": "float"}


class Queue(redpocket.List):
    namespace = "Q"
    value_type = "json"


class Tags(redpocket.Set):
    namespace = "T"
    value_type = "text"


class Uniques(redpocket.HyperLogLog):
    namespace = "U"


def test_readme_followers(default: redis.Redis) -> None:
    with redpocket.pipeline() as pipe:
        f1 = Followers("1", pipe=pipe)
        f2 = Followers("2", pipe=pipe)
        f1.zadd("a", score=1)
        f2.zadd("a", score=2)
        f1_members = f1.zrange(0, -1)
        f2_members = f2.zrange(0, -1, withscores=True)
    assert f1_members.result == [b"a"]
    assert f2_members.result == [(b"a", 2.0)]
    assert default.zscore("F{1}", "a") == 1.0


def test_without_a_pipe_executes_at_once(default: redis.Redis) -> None:
    visits = Visits("home")
    assert visits.key == "V{home}"
    assert visits.incr().result == 1
    assert visits.incr(5).result == 6
    assert visits.get().result == 6
    assert visits.set(10).result is True
    assert visits.get().result == 10
    with pytest.raises(TypeError, match="integer value expected"):
        visits.set("ten")


def test_typed_hash_fields(default: redis.Redis) -> None:
    profile = Profile("42")
    profile.hset(mapping={"name": "Harry", "age": 17, "admin": False, "tags": ["wizard", "seeker"], "height": 1.8})
    assert default.hgetall("P{42}") == {b"name": b"Harry", b"age": b"17", b"admin": b"0",
                                        b"tags": b'["wizard","seeker"]', b"height": b"1.8"}
    assert profile.hget("age").result == 17
    assert profile.hget("name").result == "Harry"
    everything = profile.hgetall().result
    assert everything[b"tags"] == ["wizard", "seeker"] and everything[b"admin"] is False
    assert profile.hmget("age", "height").result == [17, 1.8]
    assert profile.hget("missing").result is None


def test_list_set_and_hll(default: redis.Redis) -> None:
    queue = Queue("jobs")
    queue.rpush({"id": 1}, {"id": 2})
    assert queue.lrange(0, -1).result == [{"id": 1}, {"id": 2}]
    assert queue.lpop().result == {"id": 1}
    tags = Tags("post")
    assert tags.sadd("a", "b").result == 2
    assert tags.smembers().result == {"a", "b"}
    assert tags.sismember("a").result is True
    uniques = Uniques("day")
    uniques.pfadd("x", "y", "x")
    assert uniques.pfcount().result == 2


def test_key_commands_and_errors_are_deferred(default: redis.Redis) -> None:
    default.set("F{9}", "not a zset")
    with redpocket.pipeline() as pipe:
        broken = Followers("9", pipe=pipe).zadd("a", score=1)
        ttl = Visits("x", pipe=pipe).ttl()
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        _ = broken.result
    assert ttl.result == -2


@pytest.mark.not_cluster("a second database (db=3); a cluster has db 0 only")
def test_named_connection(make_client) -> None:
    other = redpocket.connect(make_client(db=3), name="stats")

    class Hits(redpocket.String):
        namespace = "H"
        connection = "stats"

    try:
        Hits("a").incr()
        assert other.get("H{a}") == b"1"
    finally:
        redpocket.disconnect()


def test_namespace_is_required() -> None:
    with pytest.raises(redpocket.ConfigurationError, match="must set a namespace"):
        redpocket.String("x")
