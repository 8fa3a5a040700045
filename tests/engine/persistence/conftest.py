"""Fixtures for persistence tests: engines opened on a temporary directory, closed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from persistence_helpers import Opener
from tests.conftest import start_redis_server

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import open_persistent_engine, persistence_of


@pytest.fixture
def open_engine(tmp_path: Path) -> Iterator[Opener]:
    """Return ``open(directory=tmp_path, **options) -> (engine, client)``; every engine is closed afterwards."""
    opened: list[Engine] = []

    def open_(directory: Path | None = None, **options: Any) -> tuple[Engine, EmbeddedRedis]:
        engine = open_persistent_engine(directory or tmp_path, **options)
        opened.append(engine)
        return engine, EmbeddedRedis(engine)

    yield open_
    for engine in opened:
        persistence = persistence_of(engine)
        if persistence is not None:
            persistence.close()


@pytest.fixture
def server_in() -> Iterator[Callable[..., redis.Redis]]:
    """Return ``start(directory, *options) -> client`` for redis-servers started on a directory, stopped afterwards."""
    started = []

    def start(directory: Path, *extra: str) -> redis.Redis:
        server = start_redis_server(directory, *extra)
        started.append(server)
        return server.client()

    yield start
    for server in started:
        server.process.terminate()
        server.process.wait(timeout=10)
