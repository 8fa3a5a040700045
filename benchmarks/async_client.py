"""Benchmark the embedded asyncio client's single-call latency against redis.asyncio on redis-server, same run.

Awaits ``--calls`` single commands one after another (a SET and a GET per
pair, as a request handler does) through (a) ``redpocket.connect_async()``
on the in-process engine and (b) ``redis.asyncio.Redis`` against a
redis-server started for the run; also the sync embedded client as a
reference.  Prints microseconds per call and the ratio server/embedded
(target: the embedded async client at least 3x faster per call).

    python benchmarks/async_client.py [--calls 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import redis_server

from redpocket.client import EmbeddedRedis
from redpocket.client_async import AsyncEmbeddedRedis
from redpocket.engine import Engine


async def per_call_async(client: Any, calls: int) -> float:
    """Await ``calls`` single commands on ``client``; return microseconds per call."""
    await client.set("warm", "up")  # connect outside the timing
    start = time.perf_counter()
    for i in range(calls // 2):
        await client.set("key", i)
        await client.get("key")
    elapsed = time.perf_counter() - start
    return elapsed / (calls // 2 * 2) * 1e6


def per_call_sync(client: Any, calls: int) -> float:
    """The same with a sync client; return microseconds per call."""
    client.set("warm", "up")
    start = time.perf_counter()
    for i in range(calls // 2):
        client.set("key", i)
        client.get("key")
    elapsed = time.perf_counter() - start
    return elapsed / (calls // 2 * 2) * 1e6


async def measure(port: int | None, calls: int, rounds: int) -> dict[str, float]:
    """Return the best microseconds per call of each client over ``rounds`` rounds."""
    embedded = AsyncEmbeddedRedis(Engine())
    server = redis.asyncio.Redis(port=port) if port is not None else None
    sync = EmbeddedRedis(Engine())
    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            figures = {"embedded async": await per_call_async(embedded, calls), "embedded sync": per_call_sync(sync, calls)}
            if server is not None:
                figures["redis.asyncio + redis-server"] = await per_call_async(server, calls)
            for name, value in figures.items():
                best[name] = min(value, best.get(name, value))
    finally:
        await embedded.aclose()
        if server is not None:
            await server.aclose()
    return best


def main() -> None:
    """Run the benchmark and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with redis_server() as port:
        best = asyncio.run(measure(port, arguments.calls, arguments.rounds))
    for name, micros in best.items():
        print(f"{name:32s} {micros:8.1f} us/call")
    if "redis.asyncio + redis-server" in best:
        ratio = best["redis.asyncio + redis-server"] / best["embedded async"]
        print(f"embedded async is {ratio:.1f}x faster per call than redis.asyncio on redis-server (target: >= 3x)")
    else:
        print("redis-server is not installed: no ratio")


if __name__ == "__main__":
    main()
