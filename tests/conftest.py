"""Fixtures shared by every test: a real redis-server and clients for both backends.

``r`` is the fixture most tests use: a redis-py client, parametrized over
the embedded engine and a real ``redis-server``, so one test checks one
behaviour on both.  ``make_client(**kwargs)`` builds more clients of the
same backend (same engine or server), e.g. ``protocol=2`` or
``decode_responses=True``; ``pair`` gives one client of each backend for
differential tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

BACKENDS = ["embedded", "redis"]
# The same settings for both backends: the real server is started with them too.
SERVER_SETTINGS = {"enable-debug-command": "local"}


def free_port() -> int:
    """Return a TCP port on the loopback interface that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process started for the test session."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a new redis-py client of this server."""
        return redis.Redis(host=self.host, port=self.port, **kwargs)


def start_redis_server(directory: Path, *extra: str) -> RedisServer:
    """Start ``redis-server`` on a free loopback port in ``directory`` and wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--daemonize", "no",
         *[arg for name, value in SERVER_SETTINGS.items() for arg in (f"--{name}", value)], "--logfile", str(directory / "redis.log"), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return RedisServer("127.0.0.1", port, process)
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Start one real redis-server for the session; skip (never in CI) when it cannot be had."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; CI must test against a real server")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``"embedded"`` or ``"redis"``."""
    return str(request.param)


@pytest.fixture
def make_client(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., redis.Redis]]:
    """Build clients of the current backend; all clients of one test share one engine or server."""
    clients: list[redis.Redis] = []
    if backend == "embedded":
        engine = Engine(config=SERVER_SETTINGS)

        def make(**kwargs: Any) -> redis.Redis:
            client = EmbeddedRedis(engine, **kwargs)
            clients.append(client)
            return client
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        admin = server.client()
        admin.flushall()
        admin.script_flush()
        admin.config_resetstat()

        def make(**kwargs: Any) -> redis.Redis:
            client = server.client(**kwargs)
            clients.append(client)
            return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def r(make_client: Callable[..., redis.Redis]) -> redis.Redis:
    """A redis-py client (bytes replies, redis-py's default protocol) on the current backend."""
    return make_client()


@pytest.fixture
def engine() -> Engine:
    """A fresh engine, for tests of engine internals."""
    return Engine(config=SERVER_SETTINGS)


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[Callable[..., tuple[redis.Redis, redis.Redis]]]:
    """Return a factory of (embedded, real) client pairs for differential tests."""
    engine = Engine(config=SERVER_SETTINGS)
    admin = redis_server.client()
    admin.flushall()
    admin.script_flush()
    clients: list[redis.Redis] = []

    def make(**kwargs: Any) -> tuple[redis.Redis, redis.Redis]:
        embedded = EmbeddedRedis(engine, **kwargs)
        real = redis_server.client(**kwargs)
        clients.extend((embedded, real))
        return embedded, real

    yield make
    for client in clients:
        client.close()


def run(client: redis.Redis, *args: Any) -> Any:
    """Execute a raw command and return its reply or the error it raised (for comparisons)."""
    try:
        return client.execute_command(*args)
    except redis.ResponseError as error:
        return ("error", str(error))
