"""Concurrent F() increments through the sync and the asyncio ORM: every one counts.

100 asyncio tasks (``async`` mode; 10 threads in ``sync`` mode, within a
client's connection pool) each make 100 changes to one record, alternating ``record.incr()`` and
``QuerySet.update(F() + 1)``; the totals are exact.
"""

from __future__ import annotations

import pytest
from tests.conftest import BACKENDS

import redpocket
from redpocket import ActiveRecord, F, attributes

TASKS = 100
THREADS = 10
CHANGES = 100


class TaskTally(ActiveRecord):
    name = attributes.Unicode(unique=True)
    hits = attributes.Integer(default=0, index="numeric")
    total = attributes.Integer(default=0)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The embedded engine and redis-server (the cluster runs the rest of the suite)."""
    return str(request.param)


async def test_concurrent_increments_give_exact_totals(mode: object) -> None:
    mode.connect()  # type: ignore[attr-defined]
    workers = TASKS if mode.asynchronous else THREADS  # type: ignore[attr-defined]
    expected = workers * CHANGES // 2
    try:
        tally = await mode.call(TaskTally.create, name="page")  # type: ignore[attr-defined]

        async def worker() -> None:
            mine = await mode.call(TaskTally.objects.get, id=tally.id)  # type: ignore[attr-defined]
            query = TaskTally.objects.filter(name="page")
            for n in range(CHANGES):
                if n % 2:
                    await mode.call(mine.incr, "hits")  # type: ignore[attr-defined]
                else:
                    assert await mode.call(query.update, total=F("total") + 1) == 1  # type: ignore[attr-defined]

        await mode.concurrently(*[worker] * workers)  # type: ignore[attr-defined]
        stored = await mode.call(TaskTally.objects.get, id=tally.id)  # type: ignore[attr-defined]
        assert (stored.hits, stored.total) == (expected, expected)
        assert await mode.call(TaskTally.objects.filter(hits=expected).count) == 1  # type: ignore[attr-defined]
    finally:
        redpocket.disconnect()
