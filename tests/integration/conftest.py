"""Fixtures for the integration tests: the libraries people run on Redis, on every backend redpocket offers.

``target`` is parametrized over three backends, and each library's test runs
the same job on each:

- ``"redis"``: a real ``redis-server`` (the reference outcome),
- ``"served"``: ``redpocket serve`` in a subprocess, reached over TCP like any Redis,
- ``"embedded"``: an in-process engine, through the setting the README gives
  for that library (a client, a pool or a connection class).

A library that cannot take a client (Celery builds its own from a URL)
skips ``"embedded"`` with its reason.  Each test records the time of its
main job (``timings.record``) and its outcome (``outcomes.check``): the
outcome on redpocket must equal the one on redis-server, and the times are
printed at the end of the run as a table library x backend (the machine is
shared, so treat them as indicative).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from integration_helpers import (
    INTEGRATION_BACKENDS,
    Outcomes,
    ServedRedpocket,
    Target,
    Timings,
    free_port,
    subprocess_env,
    wait_for_server,
)

from redpocket.engine import Engine


@pytest.fixture(scope="session")
def redpocket_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRedpocket]:
    """Start ``redpocket serve`` in a subprocess for the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("redpocket-serve") / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "redpocket", "serve", "--port", str(port), "--logfile", str(log), "--loglevel", "warning"],
        env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_server(port, process, "redpocket serve")
    yield ServedRedpocket(port, process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(params=INTEGRATION_BACKENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The backend a library runs on: ``redis`` (redis-server), ``served`` (redpocket serve) or ``embedded``."""
    backend = str(request.param)
    if backend == "embedded":
        target = Target(backend, engine=Engine())
    else:
        if backend == "redis":
            port = request.getfixturevalue("redis_server").port
        else:
            port = request.getfixturevalue("redpocket_server").port
        admin = redis.Redis(port=port)
        admin.flushall()
        admin.script_flush()
        admin.close()
        target = Target(backend, port=port)
    yield target
    for client in target.clients:
        with contextlib.suppress(redis.RedisError):
            client.close()


_TIMINGS = Timings()
_OUTCOMES = Outcomes()


@pytest.fixture
def timings() -> Timings:
    """Record the main job's time (``timings.measure(job, backend)``)."""
    return _TIMINGS


@pytest.fixture
def outcomes() -> Outcomes:
    """Compare a library's outcome with redis-server's (``outcomes.check(library, backend, outcome)``)."""
    return _OUTCOMES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS.rows:
        terminalreporter.section("integration: main job times (indicative: shared machine)")
        for line in _TIMINGS.table():
            terminalreporter.write_line(line)
