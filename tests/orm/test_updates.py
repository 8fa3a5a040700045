"""Atomic updates: ``record.incr()``, ``F()`` expressions in ``update()`` and ``QuerySet.update()``."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import redpocket
from redpocket import ActiveRecord, F, UniqueError, ValidationError, attributes
from redpocket.engine import Engine
from redpocket.server import Server


class Tally(ActiveRecord):
    name = attributes.Unicode(index=True)
    views = attributes.Integer(index=True, default=0)
    rank = attributes.Integer(unique=True, null=True)
    level = attributes.Integer(index="equality", default=1)
    ratio = attributes.Float(index="equality", default=0.0)
    note = attributes.Unicode(null=True)


def test_incr_returns_the_new_value_and_keeps_the_numeric_index(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    assert counter.incr("views") == 1
    assert counter.incr("views", 10) == 11
    assert counter.incr("views", -2) == 9
    assert Tally.objects.get(id=counter.id).views == 9
    assert [c.id for c in Tally.objects.filter(views__gte=9)] == [counter.id]
    assert Tally.objects.filter(views__lt=9).count() == 0
    assert Tally.objects.check() == []


def test_incr_counts_an_update_made_elsewhere(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    other = Tally.objects.get(id=counter.id)
    other.incr("views", 5)
    assert counter.views == 0  # this copy is stale ...
    assert counter.incr("views") == 6  # ... but the increment is applied to what is stored


def test_f_arithmetic_on_integers_and_floats(db: redis.Redis) -> None:
    counter = Tally.create(name="a", views=10, ratio=1.5)
    counter.update(views=(F("views") + 4) * 3, ratio=F("ratio") / 3)
    assert (counter.views, counter.ratio) == (42, 0.5)
    counter.update(views=F("views") / 5)  # floor division on an Integer
    assert counter.views == 8
    counter.update(ratio=F("ratio") + 0.1)
    fresh = Tally.objects.get(id=counter.id)
    assert (fresh.views, fresh.ratio) == (8, 0.6)
    # The stored text is Python's repr, so an equality query finds the computed value.
    assert Tally.objects.filter(ratio=0.6).count() == 1
    assert Tally.objects.filter(ratio=0.1 + 0.5).count() == 1
    assert Tally.objects.check() == []


def test_f_equality_index_moves_with_the_value(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    counter.update(level=F("level") + 1)
    assert Tally.objects.filter(level=1).count() == 0
    assert [c.id for c in Tally.objects.filter(level=2)] == [counter.id]
    assert Tally.objects.check() == []


def test_f_on_a_unique_attribute_refuses_a_taken_value_and_writes_nothing(db: redis.Redis) -> None:
    first = Tally.create(name="a", rank=1)
    second = Tally.create(name="b", rank=2)
    with pytest.raises(UniqueError):
        first.update(rank=F("rank") + 1, note="never")
    assert Tally.objects.get(id=first.id).note is None
    assert first.rank == 1
    first.update(rank=F("rank") + 2)
    assert first.rank == 3
    assert Tally.objects.get(rank=3).id == first.id
    assert Tally.objects.filter(rank=1).count() == 0
    second.update(rank=F("rank") - 1)
    assert Tally.objects.check() == []


def test_f_reads_another_attribute(db: redis.Redis) -> None:
    counter = Tally.create(name="a", views=7, level=2)
    counter.update(level=F("views") * 2)
    assert counter.level == 14
    assert Tally.objects.filter(level=14).count() == 1


def test_f_refuses_what_it_cannot_compute_exactly(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    with pytest.raises(ValidationError):
        counter.update(name=F("name") + 1)
    with pytest.raises(ValidationError):
        counter.update(views=F("views") + 0.5)
    with pytest.raises(ValidationError):
        counter.update(views=F("ratio") + 1)
    with pytest.raises(ValidationError):
        counter.update(views=F("missing") + 1)
    with pytest.raises(TypeError):
        F("views") + "1"
    with pytest.raises(ZeroDivisionError):
        F("views") / 0
    with pytest.raises(ValidationError):
        counter.update(views=F("views") + 2**53)
    counter.update(views=F("views") + (2**53 - 1))
    with pytest.raises(ValidationError):  # the result leaves the exact range: refused, nothing written
        counter.update(views=F("views") + 1)
    assert Tally.objects.get(id=counter.id).views == 2**53 - 1


def test_incr_of_a_deleted_record_raises_does_not_exist(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    Tally.objects.get(id=counter.id).delete()
    with pytest.raises(Tally.DoesNotExist):
        counter.incr("views")
    assert Tally.objects.count() == 0
    assert db.exists(counter.keys()["hash"]) == 0


def test_queryset_update_returns_the_count_and_keeps_indexes(db: redis.Redis) -> None:
    for n in range(6):
        Tally.create(name="even" if n % 2 == 0 else "odd", views=n)
    assert Tally.objects.filter(name="even").update(views=F("views") + 100, note="bumped") == 3
    assert sorted(c.views for c in Tally.objects.filter(views__gte=100)) == [100, 102, 104]
    assert Tally.objects.filter(name="odd", views__gte=100).count() == 0
    assert Tally.objects.filter(name="nobody").update(views=1) == 0
    assert Tally.objects.filter(views__gte=100).update(name="moved") == 3
    assert Tally.objects.filter(name="even").count() == 0
    assert Tally.objects.filter(name="moved").count() == 3
    assert Tally.objects.update(level=F("level") * 5) == 6
    assert Tally.objects.filter(level=5).count() == 6
    assert {c.note for c in Tally.objects.filter(name="moved")} == {"bumped"}
    assert Tally.objects.check() == []


def test_queryset_update_validates_before_writing(db: redis.Redis) -> None:
    Tally.create(name="a")
    with pytest.raises(ValidationError):
        Tally.objects.update(views="many")
    with pytest.raises(redpocket.QueryError):
        Tally.objects.update(nope=1)
    assert Tally.objects.get(name="a").views == 0


def test_incr_in_a_pipeline_gives_a_deferred_value(db: redis.Redis) -> None:
    counter = Tally.create(name="a")
    with redpocket.pipeline() as pipe:
        first = counter.incr("views", 2, pipe=pipe)
        second = Tally.objects.get(id=counter.id).incr("views", 3, pipe=pipe)
    assert (first.result, second.result) == (2, 5)
    assert Tally.objects.get(id=counter.id).views == 5


# -- 4 processes x 1,000 increments --------------------------------------------------------
PROCESSES = 4
INCREMENTS = 1000


def _incrementer(make: Callable[[], Any], ident: str, start: Any) -> None:
    redpocket.connect(make())
    counter = Tally.objects.get(id=ident)
    start.wait()
    for n in range(INCREMENTS):
        if n % 2:
            counter.incr("views")
        else:
            counter.update(views=F("views") + 1)


@pytest.fixture
def shared_client(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """A factory of clients other processes can use: redpocket's own served engine, redis-server or the cluster."""
    if backend == "embedded":
        context = Server(port=0, engine=Engine()).run_in_thread()
        server = context.__enter__()
        port = server.port
        yield lambda: redis.Redis(port=port)
        context.__exit__(None, None, None)
    elif backend == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.client().flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
        host, port = cluster.host, cluster.ports[0]
        yield lambda: redis.cluster.RedisCluster(host=host, port=port)
    else:
        server = request.getfixturevalue("redis_server")
        server.client().flushall()
        yield server.client


def test_processes_incrementing_one_counter_lose_nothing(shared_client: Callable[[], Any]) -> None:
    redpocket.connect(shared_client())
    try:
        counter = Tally.create(name="shared")
        context = multiprocessing.get_context("fork")
        start = context.Barrier(PROCESSES)
        workers = [context.Process(target=_incrementer, args=(shared_client, str(counter.id), start)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
            assert worker.exitcode == 0
        assert counter.refresh().views == PROCESSES * INCREMENTS
        assert Tally.objects.filter(views=PROCESSES * INCREMENTS).count() == 1
        assert Tally.objects.check() == []
    finally:
        redpocket.disconnect()
