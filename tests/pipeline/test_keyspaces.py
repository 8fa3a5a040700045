"""Typed keyspaces over one key each (RedPipe's Followers example and friends), through the sync and asyncio APIs.

``await mode.call(visits.incr)`` is ``visits.incr()`` in sync mode and
``await visits.aincr()`` in async mode (see tests/modes.py).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import redis

import redpocket


@pytest.fixture
def default(r: redis.Redis, mode: Any):
    """Make a client of the mode the default connection; yield a sync client of the same backend, for checks."""
    mode.connect()
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


async def test_readme_followers(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        f1 = Followers("1", pipe=pipe)
        f2 = Followers("2", pipe=pipe)
        f1.zadd("a", score=1)
        f2.zadd("a", score=2)
        f1_members = f1.zrange(0, -1)
        f2_members = f2.zrange(0, -1, withscores=True)
    assert f1_members.result == [b"a"]
    assert f2_members.result == [(b"a", 2.0)]
    assert default.zscore("F{1}", "a") == 1.0


async def test_without_a_pipe_executes_at_once(mode: Any, default: redis.Redis) -> None:
    visits = Visits("home")
    assert visits.key == "V{home}"
    assert (await mode.call(visits.incr)).result == 1
    assert (await mode.call(visits.incr, 5)).result == 6
    assert (await mode.call(visits.get)).result == 6
    assert (await mode.call(visits.set, 10)).result is True
    assert (await mode.call(visits.get)).result == 10
    with pytest.raises(TypeError, match="integer value expected"):
        await mode.call(visits.set, "ten")


async def test_awaited_methods_join_the_pipe_they_were_given(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        visits = Visits("joined", pipe=pipe)
        first = await mode.call(visits.incr)
        second = await mode.call(visits.incr)
        assert not first.ready and default.exists("V{joined}") == 0
    assert (first.result, second.result) == (1, 2)


async def test_typed_hash_fields(mode: Any, default: redis.Redis) -> None:
    profile = Profile("42")
    await mode.call(profile.hset, mapping={"name": "Harry", "age": 17, "admin": False, "tags": ["wizard", "seeker"], "height": 1.8})
    assert default.hgetall("P{42}") == {b"name": b"Harry", b"age": b"17", b"admin": b"0",
                                        b"tags": b'["wizard","seeker"]', b"height": b"1.8"}
    assert (await mode.call(profile.hget, "age")).result == 17
    assert (await mode.call(profile.hget, "name")).result == "Harry"
    everything = (await mode.call(profile.hgetall)).result
    assert everything[b"tags"] == ["wizard", "seeker"] and everything[b"admin"] is False
    assert (await mode.call(profile.hmget, "age", "height")).result == [17, 1.8]
    assert (await mode.call(profile.hget, "missing")).result is None


async def test_list_set_and_hll(mode: Any, default: redis.Redis) -> None:
    queue = Queue("jobs")
    await mode.call(queue.rpush, {"id": 1}, {"id": 2})
    assert (await mode.call(queue.lrange, 0, -1)).result == [{"id": 1}, {"id": 2}]
    assert (await mode.call(queue.lpop)).result == {"id": 1}
    tags = Tags("post")
    assert (await mode.call(tags.sadd, "a", "b")).result == 2
    assert (await mode.call(tags.smembers)).result == {"a", "b"}
    assert (await mode.call(tags.sismember, "a")).result is True
    uniques = Uniques("day")
    await mode.call(uniques.pfadd, "x", "y", "x")
    assert (await mode.call(uniques.pfcount)).result == 2


async def test_key_commands_and_errors_are_deferred(mode: Any, default: redis.Redis) -> None:
    default.set("F{9}", "not a zset")
    async with mode.pipeline() as pipe:
        broken = Followers("9", pipe=pipe).zadd("a", score=1)
        ttl = Visits("x", pipe=pipe).ttl()
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        _ = broken.result
    assert ttl.result == -2
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        _ = (await mode.call(Followers("9").zcard)).result


@pytest.mark.not_cluster("a second database (db=3); a cluster has db 0 only")
async def test_named_connection(mode: Any, make_client) -> None:
    mode.connect(name="stats", db=3)
    other = make_client(db=3)

    class Hits(redpocket.String):
        namespace = "H"
        connection = "stats"

    try:
        await mode.call(Hits("a").incr)
        assert other.get("H{a}") == b"1"
    finally:
        redpocket.disconnect()


def test_every_method_has_an_async_form() -> None:
    for cls in (redpocket.String, redpocket.Hash, redpocket.List, redpocket.Set, redpocket.SortedSet, redpocket.HyperLogLog):
        for name in dir(cls):
            method = getattr(cls, name)
            if not name.startswith("_") and callable(method) and not inspect.iscoroutinefunction(method):
                assert callable(getattr(cls, "a" + name, None)), f"{cls.__name__}.a{name}"
    assert Followers.azadd.__name__ == "azadd"


def test_namespace_is_required() -> None:
    with pytest.raises(redpocket.ConfigurationError, match="must set a namespace"):
        redpocket.String("x")


async def test_concurrent_increments_give_exact_totals(mode: Any, default: redis.Redis) -> None:
    workers = 100 if mode.asynchronous else 10  # asyncio tasks, or threads

    async def worker(n: int) -> None:
        visits = Visits("total")
        for _ in range(100):
            await mode.call(visits.incr)
            async with mode.pipeline() as pipe:
                Visits(f"worker:{n}", pipe=pipe).incr()

    await mode.concurrently(*[lambda n=n: worker(n) for n in range(workers)])
    assert default.get("V{total}") == str(workers * 100).encode()
    assert {default.get(f"V{{worker:{n}}}") for n in range(workers)} == {b"100"}
