"""ORM fixtures: the backend's client as the default connection, and a round-trip counter.

The ORM suite runs on three backends: the embedded engine, redis-server and
a Redis Cluster (``backend`` is overridden with ``LAYER_BACKENDS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from tests.conftest import LAYER_BACKENDS

import redpocket
from redpocket.orm import unit


@pytest.fixture(params=[*LAYER_BACKENDS, "embedded-lua"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend under test: ``"embedded"``, ``"redis"`` or ``"cluster"``.

    ``embedded-lua`` is the embedded engine saving through ``scripts/apply.lua``
    instead of its native ``REDPOCKET.APPLY``: the two are one specification.
    """
    if request.param == "embedded-lua":
        monkeypatch.setattr(unit, "NATIVE_SAVES", False)
        return "embedded"
    return str(request.param)


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
    """Return a context manager counting round trips made inside it (connection handshakes excluded).

    On a cluster a round trip is one batch sent to one node: a batch spread
    over three nodes counts three (they are sent concurrently).
    """
    if isinstance(db, redis.cluster.RedisCluster):
        connection_class = db.get_default_node().redis_connection.connection_pool.connection_class
    else:
        connection_class = db.connection_pool.connection_class
    original = connection_class.send_packed_command
    counter = RoundTrips()
    active = [False]
    handshaking = [False]

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        if active[0] and not handshaking[0]:
            counter.count += 1
        original(self, command, check_health)

    def quiet(method: Any) -> Any:
        # A new connection's handshake (HELLO, CLIENT SETINFO) is the pool's cost, not the code's under test.
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            handshaking[0] = True
            try:
                return method(self, *args, **kwargs)
            finally:
                handshaking[0] = False

        return wrapper

    monkeypatch.setattr(connection_class, "send_packed_command", counting)
    for name in ("on_connect", "on_connect_check_health"):
        if hasattr(connection_class, name):
            monkeypatch.setattr(connection_class, name, quiet(getattr(connection_class, name)))

    @contextmanager
    def measure() -> Iterator[RoundTrips]:
        counter.count = 0
        active[0] = True
        try:
            yield counter
        finally:
            active[0] = False

    return measure
