"""arq: jobs enqueued and run by an in-process burst ``Worker``, on every backend.

Embedded: ``ArqRedis(redis.asyncio.ConnectionPool(connection_class=
redpocket.AsyncEmbeddedConnection, engine=engine))`` (``ArqRedis`` is a
``redis.asyncio.Redis``; its first argument is the pool).  Over TCP:
``create_pool(RedisSettings(port=...))`` as arq documents.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from integration_helpers import SCALE, Outcomes, Target, Timings, library

from redpocket import AsyncEmbeddedConnection

arq = library("arq")
from arq.connections import ArqRedis, RedisSettings, create_pool  # noqa: E402
from arq.jobs import Job, JobStatus  # noqa: E402
from arq.worker import Retry, Worker  # noqa: E402

JOBS = 200 * SCALE


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    """Return the sum: the plain job."""
    return x + y


async def flaky(ctx: dict[str, Any], tries: int) -> int:
    """Ask arq to retry until the ``tries``-th attempt, then return the attempt number."""
    if ctx["job_try"] < tries:
        raise Retry(defer=0.05)
    return int(ctx["job_try"])


async def fail(ctx: dict[str, Any], message: str) -> None:
    """Raise, so the job's result is the exception."""
    raise ValueError(message)


async def _pool(target: Target) -> ArqRedis:
    if target.embedded:
        return ArqRedis(redis.asyncio.ConnectionPool(connection_class=AsyncEmbeddedConnection, engine=target.engine))
    return await create_pool(RedisSettings(port=target.port))


def _worker(pool: ArqRedis) -> Worker:
    return Worker(functions=[add, flaky, fail], redis_pool=pool, burst=True, poll_delay=0.01, max_tries=5,
                  handle_signals=False, keep_result=3600)


async def _run(target: Target, timings: Timings) -> dict[str, Any]:
    pool = await _pool(target)
    try:
        with timings.measure(f"arq: {JOBS} jobs through a burst worker", target.backend):
            jobs = [await pool.enqueue_job("add", i, i, _job_id=f"add-{i}") for i in range(JOBS)]
            await _worker(pool).main()
            results = [await job.result(timeout=20) for job in jobs if job is not None]
        deferred = await pool.enqueue_job("add", 20, 22, _job_id="deferred", _defer_by=0.3)
        flaky_job = await pool.enqueue_job("flaky", 3, _job_id="flaky")
        failing = await pool.enqueue_job("fail", "boom", _job_id="failing")
        duplicate = await pool.enqueue_job("add", 1, 1, _job_id="deferred")  # (the id is taken: None)
        assert deferred is not None and flaky_job is not None and failing is not None
        queued = {job.job_id: (await job.status()).value for job in (deferred, flaky_job, failing)}
        assert (await deferred.info()) is not None
        worker = _worker(pool)
        await worker.main()
        with pytest.raises(ValueError, match="boom") as failure:
            await failing.result(timeout=20)
        deferred_info = await deferred.result_info()
        assert deferred_info is not None
        waited = (deferred_info.start_time - deferred_info.enqueue_time).total_seconds()
        outcome = {
            "results": results,
            "queued": queued,
            "duplicate": duplicate,
            "deferred": (await deferred.result(timeout=20), waited >= 0.25),
            "flaky": (await flaky_job.result(timeout=20), (await flaky_job.result_info()).job_try),  # type: ignore[union-attr]
            "failure": str(failure.value),
            "worker": (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed),
            "statuses": [(await Job(job_id, pool).status()).value for job_id in ("deferred", "flaky", "failing", "none")],
            # (not all_job_results(): it reads every result at once, more than redis-py 8's 100-connection pool)
            "results kept": len([key async for key in pool.scan_iter(match="arq:result:*", count=1000)]),
            "queue left": await pool.zcard("arq:queue"),
        }
    finally:
        await pool.aclose()
    return outcome


def test_arq_jobs_deferred_retried_failed(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    outcome = asyncio.run(_run(target, timings))
    assert outcome == {
        "results": [2 * i for i in range(JOBS)],
        "queued": {"deferred": JobStatus.deferred.value, "flaky": JobStatus.queued.value, "failing": JobStatus.queued.value},
        "duplicate": None,
        "deferred": (42, True),
        "flaky": (3, 3),
        "failure": "boom",
        "worker": (2, 2, 1),
        "statuses": [JobStatus.complete.value] * 3 + [JobStatus.not_found.value],
        "results kept": JOBS + 3,
        "queue left": 0,
    }
    outcomes.check("arq", target.backend, outcome)
