"""Benchmark redpocket.pipeline() against plain redis-py pipelines, same run, same server.

100,000 INCRBY+EXPIRE pairs in batches, sent (a) through nested
``redpocket.pipeline()`` helper calls returning DeferredResults and (b)
through a plain redis-py pipeline, against a redis-server started for the
run and against the embedded engine.  Prints pairs/s and the ratio
plain/redpocket (target: redpocket within 1.3x of plain redis-py).

    python benchmarks/pipeline.py [--pairs 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import redis_server

import redpocket
from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine


def increment_and_expire(key: bytes, pipe: Any = None) -> redpocket.DeferredResult[int]:
    """The RedPipe example: a reusable helper that batches with its caller."""
    with redpocket.pipeline(pipe) as pipe:
        ref = pipe.incrby(key, 1)
        pipe.expire(key, 60)
        return ref


def run_redpocket(pairs: int, batch: int) -> float:
    """Send the pairs through redpocket pipelines; return pairs/s."""
    start = time.perf_counter()
    total = 0
    for base in range(0, pairs, batch):
        with redpocket.pipeline() as pipe:
            refs = [increment_and_expire(b"k:%d" % (i % 5000), pipe=pipe) for i in range(base, base + batch)]
        total += refs[-1].result
    elapsed = time.perf_counter() - start
    assert total > 0
    return pairs / elapsed


def run_plain(client: redis.Redis, pairs: int, batch: int) -> float:
    """Send the pairs through plain redis-py pipelines; return pairs/s."""
    start = time.perf_counter()
    total = 0
    for base in range(0, pairs, batch):
        pipe = client.pipeline(transaction=False)
        for i in range(base, base + batch):
            key = b"k:%d" % (i % 5000)
            pipe.incrby(key, 1)
            pipe.expire(key, 60)
        total += pipe.execute()[-2]
    elapsed = time.perf_counter() - start
    assert total > 0
    return pairs / elapsed


def main() -> None:
    """Run both ways on each backend and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--server-only", action="store_true", help="skip the embedded engine")
    args = parser.parse_args()
    with redis_server() as port:
        backends: dict[str, redis.Redis] = {}
        if port is not None:
            backends["redis-server"] = redis.Redis(port=port)
        if not args.server_only:
            backends["embedded"] = EmbeddedRedis(Engine())
        print(f"{'backend':<14}{'plain pairs/s':>16}{'redpocket pairs/s':>20}{'plain/redpocket':>18}")
        for name, client in backends.items():
            redpocket.connect(client)
            client.flushall()
            run_plain(client, min(args.pairs, 10_000), args.batch)  # warm up
            run_redpocket(min(args.pairs, 10_000), args.batch)
            plain = run_plain(client, args.pairs, args.batch)
            ours = run_redpocket(args.pairs, args.batch)
            ratio = plain / ours
            verdict = "meets" if ratio <= 1.3 else "MISSES"
            print(f"{name:<14}{plain:>16,.0f}{ours:>20,.0f}{ratio:>17.2f}x  (target <= 1.3x: {verdict})", flush=True)
            redpocket.disconnect()


if __name__ == "__main__":
    main()
