"""Concurrent writers against a real redis-server: indexes stay consistent, unique values stay unique."""

from __future__ import annotations

import multiprocessing
import random
from typing import Any

import pytest
import redis

import redpocket
from redpocket import ActiveRecord, UniqueError, attributes

RECORDS = 25
PROCESSES = 4
UPDATES = 2000
HOUSES = ["Gryffindor", "Slytherin", "Ravenclaw", "Hufflepuff"]
EMAILS = [f"user{i}@x" for i in range(40)]


class Racer(ActiveRecord):
    house = attributes.Unicode(index=True)
    name = attributes.Unicode(index="prefix")
    email = attributes.Unicode(unique=True, null=True)
    age = attributes.Integer(index=True)


def _updater(port: int, seed: int, ids: list[str], results: Any) -> None:
    redpocket.connect(redis.Redis(port=port))
    rng = random.Random(seed)
    # Records loaded once and then updated without reloading: most saves start stale.
    records = Racer.objects.get_many(ids)
    conflicts = 0
    for _ in range(UPDATES):
        record = rng.choice(records)
        if rng.random() < 0.1:
            record = Racer.objects.get(id=record.id)
            records[ids.index(str(record.id))] = record
        choice = rng.random()
        try:
            if choice < 0.3:
                record.update(house=rng.choice(HOUSES))
            elif choice < 0.5:
                record.update(age=rng.randrange(100))
            elif choice < 0.6:
                record.update(name=rng.choice(HOUSES) + str(rng.randrange(5)))
            elif choice < 0.9:
                record.update(email=rng.choice(EMAILS))
            else:
                record.house = rng.choice(HOUSES)
                record.email = None if rng.random() < 0.5 else rng.choice(EMAILS)
                record.age = rng.randrange(100)
                record.save()
        except UniqueError:
            conflicts += 1
            record._dirty.clear()
            records[ids.index(str(record.id))] = Racer.objects.get(id=record.id)
    results.put(conflicts)


def _claimer(port: int, barrier: Any, results: Any) -> None:
    redpocket.connect(redis.Redis(port=port))
    barrier.wait()
    try:
        Racer.create(house="x", name="racer", email="same@x", age=1)
        results.put("won")
    except UniqueError:
        results.put("lost")


@pytest.fixture
def server_db(redis_server: Any) -> Any:
    client = redis_server.client()
    client.flushall()
    redpocket.connect(client)
    yield client
    redpocket.disconnect()


def test_concurrent_updates_keep_indexes_consistent(redis_server: Any, server_db: redis.Redis) -> None:
    ids = [str(Racer.create(house="Gryffindor", name=f"r{i}", email=EMAILS[i], age=i).id) for i in range(RECORDS)]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_updater, args=(redis_server.port, seed, ids, results)) for seed in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    conflicts = sum(results.get(timeout=5) for _ in workers)
    assert conflicts > 0  # the workload did contend for unique values
    assert Racer.objects.check() == []
    emails = [r.email for r in Racer.objects.all() if r.email is not None]
    assert len(emails) == len(set(emails))
    claims = server_db.hgetall("{redpocket:Racer}:uniq:email")
    assert len(claims) == len(emails)
    for house in HOUSES:
        assert Racer.objects.filter(house=house).count() == sum(r.house == house for r in Racer.objects.all())


def test_racing_creates_of_one_unique_value(redis_server: Any, server_db: redis.Redis) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(8)
    results = context.Queue()
    workers = [context.Process(target=_claimer, args=(redis_server.port, barrier, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == ["lost"] * 7 + ["won"]
    assert Racer.objects.filter(email="same@x").count() == 1
    assert Racer.objects.count() == 1
    assert Racer.objects.check() == []
