"""The Celery app of the integration tests: broker and result backend at ``INTEGRATION_REDIS_URL``."""

from __future__ import annotations

import os

from celery import Celery

URL = os.environ.get("INTEGRATION_REDIS_URL", "redis://127.0.0.1:6379/0")



def make_app(url: str) -> Celery:
    """Return a Celery app with ``url`` as broker and result backend (the test's client side builds its own)."""
    app = Celery("integration", broker=url, backend=url)
    app.conf.update(
        task_default_queue="integration",
        broker_connection_retry_on_startup=True,
        result_expires=600,
        worker_hijack_root_logger=False,
    )
    return app


app = make_app(URL)


@app.task(name="integration.add")
def add(x: int, y: int) -> int:
    """Return the sum."""
    return x + y


@app.task(name="integration.total")
def total(numbers: list[int]) -> int:
    """Return the sum of a group's results (a chord's callback)."""
    return sum(numbers)
