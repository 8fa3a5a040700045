"""Celery: a solo worker subprocess, with Redis as broker and result backend: tasks, a group and a chord.

Served and redis-server only: Celery (kombu) builds its Redis clients from
the broker URL, so it cannot be handed an embedded client.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest
from integration_helpers import HERE, SCALE, Outcomes, Target, Timings, executable, library, subprocess_env

celery = library("celery")

TASKS = 100 * SCALE


@pytest.fixture
def celery_app(target: Target) -> Iterator[object]:
    """The integration Celery app on this backend, and a solo worker subprocess serving it."""
    if target.embedded:
        pytest.skip("Celery builds its clients from the broker URL: it runs on redpocket serve, not in-process")
    from celery_app import make_app

    app = make_app(target.url)
    env = subprocess_env()
    env["INTEGRATION_REDIS_URL"] = target.url
    worker = subprocess.Popen(
        [executable("celery"), "-A", "celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "integration"],
        cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        yield app
    finally:
        worker.send_signal(signal.SIGTERM)  # a warm shutdown
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        app.close()
        if worker.returncode not in (0, -signal.SIGTERM):
            output = worker.stdout.read().decode() if worker.stdout else ""
            pytest.fail(f"celery worker exited with {worker.returncode}:\n{output[-3000:]}")


def test_celery_tasks_group_and_chord(celery_app, target: Target, timings: Timings, outcomes: Outcomes) -> None:
    from celery import chord, group

    def add(*args: int) -> object:
        return celery_app.signature("integration.add", args=args)

    assert add(1, 1).delay().get(timeout=60) == 2  # (the worker has started)
    with timings.measure(f"celery: {TASKS} tasks sent, then their results", target.backend):
        results = [add(i, i).delay() for i in range(TASKS)]
        values = [result.get(timeout=60) for result in results]
    grouped = group(add(i, 1) for i in range(10)).apply_async().get(timeout=60)
    chorded = chord(add(i, i) for i in range(10))(celery_app.signature("integration.total")).get(timeout=60)
    outcome = {"results": values, "group": grouped, "chord": chorded}
    assert outcome == {"results": [2 * i for i in range(TASKS)], "group": [i + 1 for i in range(10)], "chord": 90}
    outcomes.check("celery", target.backend, outcome)
