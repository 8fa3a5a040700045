"""rq (Redis Queue): 200 jobs, the failed-job registry and ``enqueue_in``, on every backend.

Embedded: ``Queue(connection=EmbeddedRedis(engine))`` and a ``SimpleWorker``
in this process (rq's default ``Worker`` forks a work horse per job, and a
forked child works on a copy of an in-process engine).  Served and
redis-server: an ``rq worker --burst --with-scheduler`` subprocess.  Both
use :class:`integration_jobs.BurstWorker`, a ``SimpleWorker`` whose pub/sub
thread does not make every burst last 60 s (see there).

rq writes each job's result with ``XADD`` (and reads it with
``XREVRANGE``): on redpocket these tests skip while its engine has no
streams, and run by themselves once it does.
"""

from __future__ import annotations

import time
from datetime import timedelta

import integration_jobs
from integration_helpers import SCALE, Outcomes, Target, Timings, executable, library, run_worker

rq = library("rq")
from rq.job import JobStatus  # noqa: E402
from rq.registry import FailedJobRegistry, ScheduledJobRegistry  # noqa: E402

JOBS = 200 * SCALE


def _work(target: Target, queue: rq.Queue) -> None:
    """Run every job on the queue, and the scheduled ones that are due, then return."""
    if target.embedded:
        worker = integration_jobs.BurstWorker([queue], connection=queue.connection)
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
    else:
        run_worker([executable("rq"), "worker", "--burst", "--with-scheduler", "--url", target.url,
                    "--worker-class", "integration_jobs.BurstWorker", "--logging_level", "WARNING", queue.name])


def test_rq_jobs_results_failures_and_scheduled_jobs(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    target.require_streams()
    client = target.client()
    queue = rq.Queue("integration", connection=client)
    due = time.monotonic() + 1.05
    scheduled = queue.enqueue_in(timedelta(seconds=1), integration_jobs.add, 1000, 1)
    assert scheduled.id in ScheduledJobRegistry(queue=queue)
    jobs = [queue.enqueue(integration_jobs.add, i, i) for i in range(JOBS)]
    failing = queue.enqueue(integration_jobs.fail, "boom")
    time.sleep(max(0.0, due - time.monotonic()))  # the burst's scheduler enqueues the jobs that are due
    with timings.measure(f"rq: {JOBS} jobs through a burst worker", target.backend):
        _work(target, queue)
    for job in jobs:
        job.refresh()
    failing.refresh()
    scheduled.refresh()
    outcome = {
        "results": [job.return_value() for job in jobs],
        "statuses": sorted({job.get_status() for job in jobs}),
        "failed": (failing.get_status(), failing.id in FailedJobRegistry(queue=queue),
                   "ValueError: boom" in (failing.latest_result().exc_string or "")),
        "scheduled": (scheduled.get_status(), scheduled.return_value()),
        "left in queue": queue.count,
    }
    assert outcome == {
        "results": [2 * i for i in range(JOBS)],
        "statuses": [JobStatus.FINISHED],
        "failed": (JobStatus.FAILED, True, True),
        "scheduled": (JobStatus.FINISHED, 1001),
        "left in queue": 0,
    }
    outcomes.check("rq", target.backend, outcome)


def test_rq_enqueue_and_scheduler_without_a_worker(target: Target) -> None:
    """What rq does before a worker writes a result needs no streams: enqueueing, the registries, the scheduler.

    The scheduler rebuilds its client from the queue's pool
    (``type(connection)(connection_pool=...)``), which this checks on the
    embedded client.
    """
    from rq.scheduler import RQScheduler

    client = target.client()
    queue = rq.Queue("plain", connection=client)
    job = queue.enqueue(integration_jobs.add, 1, 2, job_id="first")
    later = queue.enqueue_in(timedelta(seconds=1), integration_jobs.add, 3, 4)
    assert queue.count == 1 and queue.job_ids == ["first"]
    assert rq.job.Job.fetch("first", connection=client).args == (1, 2)
    assert job.get_status() == JobStatus.QUEUED
    assert later.get_status() == JobStatus.SCHEDULED
    scheduler = RQScheduler([queue], connection=client)
    assert type(scheduler.connection) is type(client)
    assert scheduler.acquire_locks() == {"plain"}
    time.sleep(1.05)
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    assert queue.job_ids == ["first", later.id]
    assert later.get_status() == JobStatus.QUEUED
    assert later.id not in ScheduledJobRegistry(queue=queue)
    queue.empty()
    assert queue.count == 0
