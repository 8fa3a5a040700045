"""Benchmark the ORM against hand-written pipelined redis-py doing the same keys and index commands.

N users (indexed name, unique email, indexed age, plain bio): bulk create,
load all by id, 200 equality queries, 50 range queries, update one
attribute on all, delete all.  Every way runs in the same process against a
redis-server started for the run (and, with ``--embedded``, the embedded
engine).  Two hand-written baselines:

- **5-command**: exactly the ORM's key layout (see ``redpocket/orm/keys.py``)
  with plain commands (HSET the record, SADD the id set, SADD the name
  index, ZADD the age index, HSETNX the email claim);
- **4-command**: the plain work without the id set (HSETNX the email
  claim, HSET the record, SADD the name index, ZADD the age index; delete:
  DEL, SREM, ZREM, HDEL).

Prints ops/s per step and ORM / hand-written (target on redis-server: every
step >= 0.67x the 4-command baseline), then, with ``--embedded``, the ORM
on the embedded engine / the ORM on redis-server (target: >= 1.5x).  The
ORM does the same work inside its atomic save script (index diffs, unique
claims checked, expiry and schema bookkeeping), so the ratio is the price of
atomicity, validation and decoding.

With ``--async``, the ORM's sync API and its asyncio API (``apipeline()``,
``aget_many()``, ``afetch()``, on ``connect_async()`` clients) run the same
steps in the same run, on redis-server and the embedded engine, and the
async / sync ratio of each step is printed (target: >= 0.83x, async within
1.2x of sync).

    python benchmarks/orm.py [--users 10000] [--batch 1000] [--rounds 3] [--embedded] [--async]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import redis_server

import redpocket
from redpocket import ActiveRecord, attributes
from redpocket.client import EmbeddedRedis
from redpocket.client_async import AsyncEmbeddedRedis
from redpocket.engine import Engine

NAMES = [f"name{i}" for i in range(500)]
TAG = "{redpocket:BenchUser}"


class BenchUser(ActiveRecord):
    name = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True)
    bio = attributes.Unicode()


def make_rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {"id": uuid.UUID(int=rng.getrandbits(128), version=4), "name": rng.choice(NAMES), "email": f"user{i}@example.com",
         "age": rng.randrange(18, 90), "bio": "a plain biography " * 3}
        for i in range(n)
    ]


# -- the ORM ------------------------------------------------------------------------
def orm_steps(rows: list[dict[str, Any]], batch: int, queries: tuple[list[str], list[int]]) -> dict[str, Callable[[], int]]:
    state: dict[str, Any] = {}

    def create() -> int:
        records = []
        for offset in range(0, len(rows), batch):
            with redpocket.pipeline() as pipe:
                records += [BenchUser.create(pipe=pipe, **row) for row in rows[offset : offset + batch]]
        state["records"] = records
        return len(records)

    def load() -> int:
        loaded = BenchUser.objects.get_many([row["id"] for row in rows])
        assert all(r is not None for r in loaded)
        state["records"] = loaded
        return len(loaded)

    def equality() -> int:
        found = sum(len(BenchUser.objects.filter(name=name)) for name in queries[0])
        assert found > 0
        return len(queries[0])

    def ranges() -> int:
        found = sum(len(BenchUser.objects.filter(age__range=(low, low + 2))) for low in queries[1])
        assert found > 0
        return len(queries[1])

    def update() -> int:
        records = state["records"]
        for offset in range(0, len(records), batch):
            with redpocket.pipeline() as pipe:
                for record in records[offset : offset + batch]:
                    record.update(bio="updated", pipe=pipe)
        return len(records)

    def delete() -> int:
        records = state["records"]
        for offset in range(0, len(records), batch):
            with redpocket.pipeline() as pipe:
                for record in records[offset : offset + batch]:
                    record.delete(pipe=pipe)
        return len(records)

    return {"bulk create": create, "load all by id": load, "equality queries": equality,
            "range queries": ranges, "update one attribute": update, "delete all": delete}


# -- the asyncio ORM: the same steps -----------------------------------------------------
def async_orm_steps(rows: list[dict[str, Any]], batch: int, queries: tuple[list[str], list[int]]) -> dict[str, Callable[[], Any]]:
    state: dict[str, Any] = {}

    async def create() -> int:
        records = []
        for offset in range(0, len(rows), batch):
            async with redpocket.apipeline() as pipe:
                records += [BenchUser.create(pipe=pipe, **row) for row in rows[offset : offset + batch]]
        state["records"] = records
        return len(records)

    async def load() -> int:
        loaded = await BenchUser.objects.aget_many([row["id"] for row in rows])
        assert all(r is not None for r in loaded)
        state["records"] = loaded
        return len(loaded)

    async def equality() -> int:
        found = sum([len(await BenchUser.objects.filter(name=name).afetch()) for name in queries[0]])
        assert found > 0
        return len(queries[0])

    async def ranges() -> int:
        found = sum([len(await BenchUser.objects.filter(age__range=(low, low + 2)).afetch()) for low in queries[1]])
        assert found > 0
        return len(queries[1])

    async def update() -> int:
        records = state["records"]
        for offset in range(0, len(records), batch):
            async with redpocket.apipeline() as pipe:
                for record in records[offset : offset + batch]:
                    record.update(bio="updated", pipe=pipe)
        return len(records)

    async def delete() -> int:
        records = state["records"]
        for offset in range(0, len(records), batch):
            async with redpocket.apipeline() as pipe:
                for record in records[offset : offset + batch]:
                    record.delete(pipe=pipe)
        return len(records)

    return {"bulk create": create, "load all by id": load, "equality queries": equality,
            "range queries": ranges, "update one attribute": update, "delete all": delete}


def run_async_backend(label: str, client: redis.Redis, async_client: Any, users: int, batch: int, rounds: int) -> None:
    """Run every step through the sync and the asyncio ORM on one backend, alternating; print async / sync."""
    redpocket.connect(client)
    client.flushall()
    rows = make_rows(users)
    rng = random.Random(11)
    queries = ([rng.choice(NAMES) for _ in range(200)], [rng.randrange(18, 88) for _ in range(50)])
    BenchUser.create(name="warm", email="warm@up", age=1, bio="").delete()
    sync_rates: dict[str, float] = {}
    async_rates: dict[str, float] = {}

    async def run() -> None:
        redpocket.connect_async(async_client)
        await (await BenchUser.acreate(name="warm", email="warm@up", age=1, bio="")).adelete()
        for _ in range(rounds):
            for name, step in orm_steps(rows, batch, queries).items():
                sync_rates[name] = max(sync_rates.get(name, 0.0), timed(step))
            assert client.dbsize() == 0, "the ORM delete left keys behind"
            for name, async_step in async_orm_steps(rows, batch, queries).items():
                start = time.perf_counter()
                ops = await async_step()
                async_rates[name] = max(async_rates.get(name, 0.0), ops / (time.perf_counter() - start))
            assert client.dbsize() == 0, "the async ORM delete left keys behind"
        await redpocket.disconnect_async()

    asyncio.run(run())
    print(f"\n{label}: {users:,} users, batches of {batch}, best of {rounds} rounds (async / sync: target >= 0.83x)")
    print(f"  {'step':<22} {'sync ops/s':>11} {'async ops/s':>12} {'ratio':>6}")
    for name, rate in sync_rates.items():
        ratio = async_rates[name] / rate
        flag = "" if ratio >= 1 / 1.2 else "  (async more than 1.2x slower)"
        print(f"  {name:<22} {rate:>11,.0f} {async_rates[name]:>12,.0f} {ratio:>5.2f}x{flag}")
    redpocket.disconnect()


# -- hand-written redis-py ------------------------------------------------------------------
def plain_steps(client: redis.Redis, rows: list[dict[str, Any]], batch: int, queries: tuple[list[str], list[int]],
                with_ids: bool = True) -> dict[str, Callable[[], int]]:
    ids_key, age_key, unique_key = f"{TAG}:ids", f"{TAG}:num:age", f"{TAG}:uniq:email"

    def decode(ident: str, raw: dict[bytes, bytes]) -> dict[str, Any]:
        return {"id": uuid.UUID(ident), "name": raw[b"name"].decode(), "email": raw[b"email"].decode(),
                "age": int(raw[b"age"]), "bio": raw[b"bio"].decode()}

    def load_ids(idents: list[str]) -> list[dict[str, Any]]:
        pipe = client.pipeline(transaction=False)
        for ident in idents:
            pipe.hgetall(f"{TAG}:id:{ident}")
        return [decode(i, raw) for i, raw in zip(idents, pipe.execute(), strict=True) if raw]

    def create() -> int:
        for offset in range(0, len(rows), batch):
            pipe = client.pipeline(transaction=False)
            for row in rows[offset : offset + batch]:
                ident = str(row["id"])
                pipe.hset(f"{TAG}:id:{ident}", mapping={"id": ident, "name": row["name"], "email": row["email"],
                                                       "age": str(row["age"]), "bio": row["bio"]})
                if with_ids:
                    pipe.sadd(ids_key, ident)
                pipe.sadd(f"{TAG}:eq:name:{row['name']}", ident)
                pipe.zadd(age_key, {ident: row["age"]})
                pipe.hsetnx(unique_key, row["email"], ident)
            pipe.execute()
        return len(rows)

    def load() -> int:
        return len(load_ids([str(row["id"]) for row in rows]))

    def equality() -> int:
        for name in queries[0]:
            load_ids(sorted(i.decode() for i in client.smembers(f"{TAG}:eq:name:{name}")))
        return len(queries[0])

    def ranges() -> int:
        for low in queries[1]:
            load_ids([i.decode() for i in client.zrange(age_key, low, low + 2, byscore=True)])
        return len(queries[1])

    def update() -> int:
        for offset in range(0, len(rows), batch):
            pipe = client.pipeline(transaction=False)
            for row in rows[offset : offset + batch]:
                pipe.hset(f"{TAG}:id:{row['id']}", "bio", "updated")
            pipe.execute()
        return len(rows)

    def delete() -> int:
        for offset in range(0, len(rows), batch):
            pipe = client.pipeline(transaction=False)
            for row in rows[offset : offset + batch]:
                ident = str(row["id"])
                pipe.delete(f"{TAG}:id:{ident}")
                if with_ids:
                    pipe.srem(ids_key, ident)
                pipe.srem(f"{TAG}:eq:name:{row['name']}", ident)
                pipe.zrem(age_key, ident)
                pipe.hdel(unique_key, row["email"])
            pipe.execute()
        return len(rows)

    return {"bulk create": create, "load all by id": load, "equality queries": equality,
            "range queries": ranges, "update one attribute": update, "delete all": delete}


def timed(step: Callable[[], int]) -> float:
    start = time.perf_counter()
    ops = step()
    return ops / (time.perf_counter() - start)


def run_backend(label: str, client: redis.Redis, users: int, batch: int, rounds: int) -> dict[str, float]:
    """Run every step the three ways on one backend; print the table; return the ORM's ops/s per step."""
    redpocket.connect(client)
    client.flushall()
    rows = make_rows(users)
    rng = random.Random(11)
    queries = ([rng.choice(NAMES) for _ in range(200)], [rng.randrange(18, 88) for _ in range(50)])
    BenchUser.create(name="warm", email="warm@up", age=1, bio="").delete()  # loads the scripts
    five: dict[str, float] = {}
    four: dict[str, float] = {}
    orm_rates: dict[str, float] = {}
    for _ in range(rounds):  # alternate the three, keep each step's best round: less noise
        for name, step in plain_steps(client, rows, batch, queries).items():
            five[name] = max(five.get(name, 0.0), timed(step))
        assert client.dbsize() == 0, "the hand-written delete left keys behind"
        for name, step in plain_steps(client, rows, batch, queries, with_ids=False).items():
            four[name] = max(four.get(name, 0.0), timed(step))
        assert client.dbsize() == 0, "the 4-command delete left keys behind"
        for name, step in orm_steps(rows, batch, queries).items():
            orm_rates[name] = max(orm_rates.get(name, 0.0), timed(step))
        assert client.dbsize() == 0, "the ORM delete left keys behind"
    print(f"\n{label}: {users:,} users, batches of {batch}, best of {rounds} rounds (ORM / hand-written: higher is better)")
    print(f"  {'step':<22} {'ORM ops/s':>10} {'5-command':>10} {'ratio':>6} {'4-command':>10} {'ratio':>6}")
    for name in five:
        ratio5, ratio4 = orm_rates[name] / five[name], orm_rates[name] / four[name]
        flag = "" if ratio4 >= 0.67 else "  (under 0.67x)"
        print(f"  {name:<22} {orm_rates[name]:>10,.0f} {five[name]:>10,.0f} {ratio5:>5.2f}x {four[name]:>10,.0f} {ratio4:>5.2f}x{flag}")
    redpocket.disconnect()
    return orm_rates


def main() -> None:
    """Run the steps both ways and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embedded", action="store_true", help="also run against the embedded engine")
    parser.add_argument("--async", dest="asynchronous", action="store_true",
                        help="compare the asyncio ORM with the sync one (redis-server and embedded)")
    args = parser.parse_args()
    if args.asynchronous:
        with redis_server() as port:
            if port is not None:
                run_async_backend("redis-server", redis.Redis(port=port), redis.asyncio.Redis(port=port),
                                  args.users, args.batch, args.rounds)
            engine = Engine()
            run_async_backend("embedded", EmbeddedRedis(engine), AsyncEmbeddedRedis(engine), args.users, args.batch, args.rounds)
        return
    with redis_server() as port:
        server_rates: dict[str, float] = {}
        if port is None:
            print("redis-server is not installed; running the embedded engine only")
        else:
            server_rates = run_backend("redis-server", redis.Redis(port=port), args.users, args.batch, args.rounds)
        if args.embedded or port is None:
            embedded_rates = run_backend("embedded", EmbeddedRedis(Engine()), args.users, args.batch, args.rounds)
            if server_rates:
                print("\nthe ORM on the embedded engine / the ORM on redis-server (target >= 1.5x)")
                for name, rate in embedded_rates.items():
                    ratio = rate / server_rates[name]
                    print(f"  {name:<22} {ratio:>5.2f}x{'' if ratio >= 1.5 else '  (under 1.5x)'}")


if __name__ == "__main__":
    main()
