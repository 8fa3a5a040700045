"""Dramatiq: a Redis broker and the Redis results backend, with an in-process worker, on every backend.

Embedded: ``RedisBroker(client=EmbeddedRedis(engine))`` and
``RedisBackend(client=...)``; the worker's threads share the engine.
"""

from __future__ import annotations

import integration_jobs
import pytest
from integration_helpers import SCALE, Outcomes, Target, Timings, library

dramatiq = library("dramatiq")
from dramatiq.brokers.redis import RedisBroker  # noqa: E402
from dramatiq.results import ResultFailure, Results  # noqa: E402
from dramatiq.results.backends.redis import RedisBackend  # noqa: E402

MESSAGES = 200 * SCALE


def _broker(target: Target) -> tuple[RedisBroker, RedisBackend]:
    if target.embedded:
        broker = RedisBroker(client=target.client(), namespace="integration")
        backend = RedisBackend(client=target.client())
    else:
        broker = RedisBroker(url=target.url, namespace="integration")
        backend = RedisBackend(url=target.url)
    broker.add_middleware(Results(backend=backend))
    return broker, backend


def test_dramatiq_messages_results_groups_and_pipelines(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    broker, backend = _broker(target)
    add = dramatiq.actor(integration_jobs.add, broker=broker, actor_name="add", store_results=True, max_retries=0)
    fail = dramatiq.actor(integration_jobs.fail, broker=broker, actor_name="fail", store_results=True, max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    try:
        with timings.measure(f"dramatiq: {MESSAGES} messages and results", target.backend):
            messages = [add.send(i, i) for i in range(MESSAGES)]
            results = [message.get_result(backend=backend, block=True, timeout=20_000) for message in messages]
        group = dramatiq.group([add.message(i, 1) for i in range(5)], broker=broker).run()
        group_results = list(group.get_results(block=True, timeout=20_000))
        pipeline = dramatiq.pipeline([add.message(1, 2), add.message(3), add.message(4)], broker=broker).run()
        pipeline_result = pipeline.get_result(block=True, timeout=20_000)
        failed = fail.send("boom")
        with pytest.raises(ResultFailure) as failure:
            failed.get_result(backend=backend, block=True, timeout=20_000)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    outcome = {
        "results": results,
        "group": group_results,
        "pipeline": pipeline_result,
        "failure": (failure.value.orig_exc_type, failure.value.orig_exc_msg),
    }
    assert outcome == {
        "results": [2 * i for i in range(MESSAGES)],
        "group": [i + 1 for i in range(5)],
        "pipeline": 10,
        "failure": ("ValueError", "boom"),
    }
    outcomes.check("dramatiq", target.backend, outcome)
