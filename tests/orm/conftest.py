"""ORM fixtures: the backend's client as the default connection, and a round-trip counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

import redpocket


@pytest.fixture
def db(r: redis.Redis) -> Iterator[redis.Redis]:
    """Make the backend's client the default connection; yield it for raw checks."""
    redpocket.connect(r)
    yield r
    redpocket.disconnect()


class RoundTrips:
    """Counts the batches of commands sent to the backend (one per round trip)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(db: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a context manager counting round trips made inside it."""
    connection_class = db.connection_pool.connection_class
    original = connection_class.send_packed_command
    counter = RoundTrips()
    active = [False]

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        if active[0]:
            counter.count += 1
        original(self, command, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", counting)

    @contextmanager
    def measure() -> Iterator[RoundTrips]:
        counter.count = 0
        active[0] = True
        try:
            yield counter
        finally:
            active[0] = False

    return measure
