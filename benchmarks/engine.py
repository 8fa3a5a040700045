"""Benchmark the embedded engine against redis-server on loopback and fakeredis.

Each workload runs through redis-py, one call at a time and pipelined in
batches of 100, against (a) the embedded engine, (b) a redis-server started
for this run on a free loopback port and (c) fakeredis in-process when it is
installed.  Prints ops/s for each and the ratios embedded/redis-server and
embedded/fakeredis.  Targets (issue 2): one call at a time embedded >= 3x
redis-server; pipelined >= 1.0x redis-server; both >= 3x fakeredis.

    python benchmarks/engine.py [--ops 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import redis_server

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

BATCH = 100

Workload = Callable[[Any, int], None]


def w_set(c: Any, i: int) -> None:
    c.set(b"key:%d" % (i % 1000), b"value-%d" % i)


def w_get(c: Any, i: int) -> None:
    c.get(b"key:%d" % (i % 1000))


def w_hset(c: Any, i: int) -> None:
    c.hset(b"hash:%d" % (i % 100), b"field:%d" % (i % 50), b"v%d" % i)


def w_hgetall(c: Any, i: int) -> None:
    c.hgetall(b"hash:%d" % (i % 100))


def w_zadd(c: Any, i: int) -> None:
    c.zadd(b"zset:%d" % (i % 10), {b"member:%d" % (i % 5000): float(i)})


def w_lpush(c: Any, i: int) -> None:
    c.lpush(b"list:%d" % (i % 10), b"item-%d" % i)


WORKLOADS: list[tuple[str, Workload]] = [
    ("SET", w_set),
    ("GET", w_get),
    ("HSET", w_hset),
    ("HGETALL", w_hgetall),
    ("ZADD", w_zadd),
    ("LPUSH", w_lpush),
]


def single(client: Any, workload: Workload, ops: int) -> float:
    """Run ``ops`` calls one at a time; return ops/s."""
    start = time.perf_counter()
    for i in range(ops):
        workload(client, i)
    return ops / (time.perf_counter() - start)


def pipelined(client: Any, workload: Workload, ops: int) -> float:
    """Run ``ops`` calls in pipelines of ``BATCH``; return ops/s."""
    start = time.perf_counter()
    for base in range(0, ops, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(base, base + BATCH):
            workload(pipe, i)
        pipe.execute()
    return ops / (time.perf_counter() - start)


def fakeredis_client() -> Any:
    """Return a fakeredis client, or ``None`` when fakeredis is not installed."""
    try:
        import fakeredis
    except ImportError:
        return None
    return fakeredis.FakeRedis()


def main() -> None:
    """Run every workload on every backend and print the table of ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=20000, help="operations per workload and mode")
    args = parser.parse_args()
    ops = args.ops - args.ops % BATCH

    with redis_server() as port:
        backends: dict[str, Any] = {"embedded": EmbeddedRedis(Engine())}
        if port is not None:
            backends["redis-server"] = redis.Redis(port=port)
        fake = fakeredis_client()
        if fake is not None:
            backends["fakeredis"] = fake
        names = list(backends)
        header = f"{'workload':<20}" + "".join(f"{n + ' ops/s':>20}" for n in names)
        ratio_names = [n for n in names if n != "embedded"]
        header += "".join(f"{'emb/' + n:>18}" for n in ratio_names)
        print(header)
        worst: dict[str, dict[str, float]] = {"single": {}, "pipelined": {}}
        for mode, runner in (("single", single), ("pipelined", pipelined)):
            for label, workload in WORKLOADS:
                rates: dict[str, float] = {}
                for name, client in backends.items():
                    client.flushall()
                    runner(client, workload, min(ops, 2000))  # warm up
                    rates[name] = runner(client, workload, ops)
                line = f"{label + ' ' + mode:<20}" + "".join(f"{rates[n]:>20,.0f}" for n in names)
                for other in ratio_names:
                    ratio = rates["embedded"] / rates[other]
                    worst[mode][other] = min(worst[mode].get(other, ratio), ratio)
                    line += f"{ratio:>17.2f}x"
                print(line, flush=True)
        print()
        targets = {("single", "redis-server"): 3.0, ("pipelined", "redis-server"): 1.0,
                   ("single", "fakeredis"): 3.0, ("pipelined", "fakeredis"): 3.0}
        for (mode, other), target in targets.items():
            if other in worst[mode]:
                value = worst[mode][other]
                verdict = "meets" if value >= target else "MISSES"
                print(f"worst {mode:<9} embedded/{other:<12} {value:6.2f}x  (target >= {target}x: {verdict})")


if __name__ == "__main__":
    main()
