"""redis-py's ``Lock`` and python-redis-lock under contention, on every backend.

Eight threads each take the lock 25 times and, holding it, read a counter
from the store, yield, and write it back incremented: the lock must keep
them apart (no lost update, never two holders at once).  Embedded: the
threads share one ``EmbeddedRedis`` (``Lock(client, ...)`` /
``redis_lock.Lock(client, ...)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import redis
from integration_helpers import SCALE, Outcomes, Target, Timings, library

THREADS = 8
ROUNDS = 25 * SCALE


def _contend(client: redis.Redis, make_lock: Callable[[], AbstractContextManager[Any]]) -> dict[str, Any]:
    holders = 0
    most_holders = 0
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        nonlocal holders, most_holders
        try:
            lock = make_lock()
            for _ in range(ROUNDS):
                with lock:
                    with guard:
                        holders += 1
                        most_holders = max(most_holders, holders)
                    value = int(client.get("counter") or 0)
                    time.sleep(0)  # let another thread run while the lock is held
                    client.set("counter", value + 1)
                    with guard:
                        holders -= 1
        except BaseException as error:  # (reported below, with the outcome)
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return {"counter": int(client.get("counter") or 0), "most holders": most_holders,
            "errors": [repr(error) for error in errors], "stuck": sum(thread.is_alive() for thread in threads)}


EXPECTED = {"counter": THREADS * ROUNDS, "most holders": 1, "errors": [], "stuck": 0}


def test_redis_py_lock_under_contention(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    client = target.client()
    with timings.measure(f"redis-py Lock: {THREADS * ROUNDS} acquisitions, {THREADS} threads", target.backend):
        outcome = _contend(client, lambda: client.lock("resource", timeout=10, sleep=0.001, blocking_timeout=30))
    assert outcome == EXPECTED
    lock = client.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not client.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.owned() and lock.extend(5) and lock.locked()
    stolen = client.lock("resource", timeout=10)
    client.delete("resource")  # (its time ran out, say)
    assert stolen.acquire(blocking=False)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    stolen.release()
    assert not lock.locked()
    outcomes.check("redis-py lock", target.backend, outcome)


def test_python_redis_lock_under_contention(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    redis_lock = library("redis_lock")
    client = target.client()
    with timings.measure(f"python-redis-lock: {THREADS * ROUNDS} acquisitions, {THREADS} threads", target.backend):
        outcome = _contend(client, lambda: redis_lock.Lock(client, "resource", expire=10))
    assert outcome == EXPECTED
    first = redis_lock.Lock(client, "single", expire=10, id="first")
    second = redis_lock.Lock(client, "single", expire=10, id="second")
    assert first.acquire(blocking=False)
    assert not second.acquire(blocking=False)
    assert second.get_owner_id() == "first"
    first.extend(20)
    started = time.monotonic()
    releaser = threading.Timer(0.2, first.release)
    releaser.start()
    assert second.acquire(timeout=5)  # woken by the release (BLPOP on the lock's signal list)
    waited = time.monotonic() - started
    releaser.join()
    second.release()
    assert waited < 2
    redis_lock.reset_all(client)
    outcomes.check("python-redis-lock", target.backend, outcome)
