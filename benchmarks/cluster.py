"""Benchmark the ORM on a Redis Cluster next to a single redis-server, in the same run.

The ORM benchmark's create / load / query steps (see ``benchmarks/orm.py``):
N users (indexed name, unique email, indexed age) created in pipelined
batches, loaded by id, 200 equality queries and 50 range queries.  Three
setups: one redis-server; a cluster of 3 masters + 3 replicas with an
unpartitioned model (all its keys in one slot: one node does the work); the
same cluster with ``Meta.partition`` over 16 tenants (the records spread
over the 3 masters; the queries fan out to every partition).  Prints ops/s
per step and each cluster setup's ratio to the single server (>1: faster).

    python benchmarks/cluster.py [--users 10000] [--batch 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _servers import redis_server  # noqa: E402
from tests.conftest import flush_cluster, start_redis_cluster  # noqa: E402

import redpocket  # noqa: E402
from redpocket import ActiveRecord, attributes  # noqa: E402

NAMES = [f"name{i}" for i in range(500)]
TENANTS = [f"tenant{i}" for i in range(16)]


class ClusterUser(ActiveRecord):
    tenant = attributes.Unicode()
    name = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True)


class TenantUser(ActiveRecord):
    tenant = attributes.Unicode()
    name = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True)

    class Meta:
        partition = "tenant"


def make_rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {"id": uuid.UUID(int=rng.getrandbits(128), version=4), "tenant": TENANTS[i % len(TENANTS)], "name": rng.choice(NAMES),
         "email": f"user{i}@example.com", "age": rng.randrange(18, 90)}
        for i in range(n)
    ]


def steps(model: Any, rows: list[dict[str, Any]], batch: int, queries: tuple[list[str], list[int]]) -> dict[str, Callable[[], int]]:
    def create() -> int:
        for offset in range(0, len(rows), batch):
            with redpocket.pipeline() as pipe:
                for row in rows[offset : offset + batch]:
                    model.create(pipe=pipe, **row)
        return len(rows)

    def load() -> int:
        loaded = model.objects.get_many([row["id"] for row in rows])
        assert all(r is not None for r in loaded)
        return len(loaded)

    def equality() -> int:
        found = sum(len(model.objects.filter(name=name)) for name in queries[0])
        assert found > 0
        return len(queries[0])

    def ranges() -> int:
        for low in queries[1]:
            model.objects.filter(age__gte=low, age__lt=low + 3).count()
        return len(queries[1])

    return {"create": create, "load": load, "equality query": equality, "range query": ranges}


def run(label: str, client: Any, model: Any, rows: list[dict[str, Any]], batch: int, rounds: int) -> dict[str, float]:
    rng = random.Random(3)
    queries = ([rng.choice(NAMES) for _ in range(200)], [rng.randrange(18, 88) for _ in range(50)])
    best: dict[str, float] = {}
    for _ in range(rounds):
        if hasattr(client, "get_primaries"):
            flush_cluster(client)
        else:
            client.flushall()
        redpocket.connect(client)
        for name, step in steps(model, rows, batch, queries).items():
            start = time.perf_counter()
            count = step()
            rate = count / (time.perf_counter() - start)
            best[name] = max(best.get(name, 0.0), rate)
    print(f"{label:<34}" + "".join(f"{best[name]:>16,.0f}" for name in best))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    rows = make_rows(options.users)
    import redis

    with redis_server() as port, tempfile.TemporaryDirectory() as directory:
        if port is None:
            sys.exit("redis-server is not installed")
        cluster = start_redis_cluster(Path(directory))
        try:
            print(f"{options.users} users, batches of {options.batch}, best of {options.rounds} (ops/s)")
            print(f"{'':<34}" + "".join(f"{name:>16}" for name in ("create", "load", "equality query", "range query")))
            single = run("redis-server", redis.Redis(port=port), ClusterUser, rows, options.batch, options.rounds)
            plain = run("cluster, unpartitioned", cluster.client(), ClusterUser, rows, options.batch, options.rounds)
            spread = run("cluster, partitioned (16 tenants)", cluster.client(), TenantUser, rows, options.batch, options.rounds)
            print("\nratio to redis-server (ops/s cluster / ops/s single; >1 is faster)")
            for label, figures in (("cluster, unpartitioned", plain), ("cluster, partitioned (16 tenants)", spread)):
                print(f"{label:<34}" + "".join(f"{figures[name] / single[name]:>16.2f}" for name in single))
        finally:
            redpocket.disconnect()
            cluster.stop()


if __name__ == "__main__":
    main()
