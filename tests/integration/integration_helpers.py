"""Helpers of the integration tests: the backends (``Target``), timings, outcomes and worker subprocesses."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from redpocket.client import EmbeddedConnection, EmbeddedRedis
from redpocket.engine import Engine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Run first, so redis-server's outcome is known when redpocket's backends are checked against it.
INTEGRATION_BACKENDS = ["redis", "served", "embedded"]
# Multiplies the size of each test's main job, to measure with less noise (REDPOCKET_INTEGRATION_SCALE=10).
SCALE = max(1, int(os.environ.get("REDPOCKET_INTEGRATION_SCALE", "1")))


def free_port() -> int:
    """Return a loopback TCP port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env() -> dict[str, str]:
    """The environment for worker subprocesses: this checkout's redpocket and the job modules importable."""
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(HERE)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def wait_for_server(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Wait until something answers PING on ``port``."""
    deadline = time.monotonic() + 20
    while True:
        try:
            if redis.Redis(port=port, socket_connect_timeout=0.2).ping():
                return
        except redis.ConnectionError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


@dataclass
class ServedRedpocket:
    """A ``redpocket serve`` subprocess."""

    port: int
    process: subprocess.Popen[bytes]


@dataclass
class Target:
    """One backend for a library: clients of it, and its URL when it is reached over TCP."""

    backend: str
    engine: Engine | None = None
    port: int | None = None
    clients: list[redis.Redis] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.engine is not None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the server (embedded: a URL whose host the embedded connection ignores)."""
        return f"redis://127.0.0.1:{self.port}/0" if self.port else "redis://localhost:6379/0"

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a new client of this backend."""
        client = EmbeddedRedis(self.engine, **kwargs) if self.engine is not None else redis.Redis(port=self.port, **kwargs)
        self.clients.append(client)
        return client

    def pool(self, **kwargs: Any) -> redis.ConnectionPool:
        """Return a new connection pool of this backend (embedded: ``connection_class=EmbeddedConnection``)."""
        if self.engine is not None:
            return redis.ConnectionPool(connection_class=EmbeddedConnection, engine=self.engine, **kwargs)
        return redis.ConnectionPool(port=self.port, **kwargs)

    def answers(self, command: str) -> bool:
        """Tell whether this backend knows ``command`` (``COMMAND INFO``)."""
        pool = self.pool()
        connection = pool.get_connection()
        try:  # (on a connection: redis-py's COMMAND INFO callback fails on an unknown command's nil)
            connection.send_command("COMMAND", "INFO", command)
            info = connection.read_response()
        finally:
            pool.release(connection)
            pool.disconnect()
        return bool(info) and info[0] is not None

    def require_streams(self) -> None:
        """Skip on redpocket while its engine has no streams (rq writes job results with XADD)."""
        if not self.answers("xadd"):
            pytest.skip("streams not in this engine yet")


class Timings:
    """The main job's time of each library on each backend, printed at the end of the run."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}

    def record(self, job: str, backend: str, seconds: float) -> None:
        self.rows.setdefault(job, {})[backend] = seconds

    @contextlib.contextmanager
    def measure(self, job: str, backend: str) -> Iterator[None]:
        """Time the block as ``job`` on ``backend``."""
        started = time.perf_counter()
        yield
        self.record(job, backend, time.perf_counter() - started)

    def table(self) -> list[str]:
        lines = [f"{'main job':<52}" + "".join(f"{b:>12}" for b in INTEGRATION_BACKENDS)]
        for job, row in self.rows.items():
            cells = "".join(f"{row[b]:>11.3f}s" if b in row else f"{'-':>12}" for b in INTEGRATION_BACKENDS)
            lines.append(f"{job:<52}{cells}")
        return lines


class Outcomes:
    """Each library's outcome on redis-server, which redpocket's backends must reproduce."""

    def __init__(self) -> None:
        self.reference: dict[str, Any] = {}

    def check(self, library: str, backend: str, outcome: Any) -> None:
        """Keep redis-server's outcome; compare redpocket's with it (when redis-server's test ran)."""
        if backend == "redis":
            self.reference[library] = outcome
        elif library in self.reference:
            assert outcome == self.reference[library], f"{library} on {backend} differs from redis-server"


def run_worker(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a worker command (``rq worker --burst``, ``celery worker``) to completion; fail with its output if it fails."""
    completed = subprocess.run(argv, env=subprocess_env(), capture_output=True, text=True, timeout=timeout, cwd=HERE)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def library(name: str) -> Any:
    """Import a library of the ``[integration]`` extra; skip without it, except in CI, where it must be there."""
    if os.environ.get("CI"):
        import importlib

        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed: pip install -e '.[integration]'")


def executable(name: str) -> str:
    """Return the path of a console script installed next to this Python (``rq``, ``celery``)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[integration]'")
    return found
