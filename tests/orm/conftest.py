"""ORM fixtures: the backend's client as the default connection, and a round-trip counter.

The ORM suite runs on four backends: the embedded engine (saving with its
native ``REDPOCKET.APPLY``, and as ``embedded-lua`` through the Lua script),
redis-server and a Redis Cluster (``backend`` is overridden with
``LAYER_BACKENDS`` plus ``embedded-lua``), and in
two modes (``orm_mode``): ``sync``, and ``async``, where every ORM call of
a test body goes through the method's ``a``-form (``save()`` through
``await asave()``, iteration through ``afetch()``, pointers through
``arelated()``) on the backend's ``redis.asyncio`` client, awaited in an
event loop of the test's own (:class:`tests.modes.Portal`).  One set of
test functions checks both APIs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import redis.asyncio.connection
from tests.conftest import LAYER_BACKENDS, MODES
from tests.modes import Portal, route_to_async_forms

import redpocket
from redpocket.connections import DEFAULT
from redpocket.orm import unit
from redpocket.orm.registry import models


@pytest.fixture(params=[*LAYER_BACKENDS, "embedded-lua"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend under test: ``"embedded"``, ``"redis"`` or ``"cluster"`` (``embedded-lua`` runs as ``"embedded"``).

    ``embedded-lua`` is the embedded engine saving through ``scripts/apply.lua``
    instead of its native ``REDPOCKET.APPLY``: the two are one specification.
    """
    if request.param == "embedded-lua":
        monkeypatch.setattr(unit, "NATIVE_SAVES", False)
        return "embedded"
    return str(request.param)


@pytest.fixture(params=MODES)
def orm_mode(request: pytest.FixtureRequest) -> str:
    """The ORM API under test: ``"sync"`` or ``"async"``."""
    return str(request.param)


@pytest.fixture
def portal(orm_mode: str, make_async_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Portal | None]:
    """In ``async`` mode: the event loop the ORM's a-forms run in, the asyncio connection made, the sync methods routed."""
    if orm_mode != "async":
        yield None
        return
    portal = Portal()

    async def connect() -> None:
        client = redpocket.connect_async(make_async_client())
        await client.ping()  # (a cluster client reads its slot table now, not in a measured call)

    try:
        portal.call(connect())
        route_to_async_forms(monkeypatch, portal)
        yield portal
    finally:
        portal.call(redpocket.disconnect_async())
        portal.close()


@pytest.fixture
def db(r: redis.Redis, portal: Portal | None) -> Iterator[redis.Redis]:
    """Make the backend's client the default connection (and, in async mode, its asyncio client); yield it for raw checks."""
    redpocket.connect(r)
    yield r
    redpocket.disconnect()


class RoundTrips:
    """Counts the batches of commands sent to the backend (one per round trip)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(db: redis.Redis, portal: Portal | None, monkeypatch: pytest.MonkeyPatch) -> Any:
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

    def counting_async(send: Any) -> Any:
        async def wrapper(self: Any, command: Any, check_health: bool = True) -> None:
            if active[0] and not handshaking[0]:
                counter.count += 1
            await send(self, command, check_health)

        return wrapper

    def quiet_async(method: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            handshaking[0] = True
            try:
                return await method(self, *args, **kwargs)
            finally:
                handshaking[0] = False

        return wrapper

    monkeypatch.setattr(connection_class, "send_packed_command", counting)
    for name in ("on_connect", "on_connect_check_health"):
        if hasattr(connection_class, name):
            monkeypatch.setattr(connection_class, name, quiet(getattr(connection_class, name)))

    if portal is not None:  # the asyncio clients' connections count too
        from redpocket.client_async import AsyncEmbeddedConnection

        for async_class in (AsyncEmbeddedConnection, redis.asyncio.connection.AbstractConnection):
            monkeypatch.setattr(async_class, "send_packed_command", counting_async(async_class.send_packed_command))
            for name in ("on_connect", "on_connect_check_health"):
                if name in vars(async_class):
                    monkeypatch.setattr(async_class, name, quiet_async(getattr(async_class, name)))

    @contextmanager
    def measure() -> Iterator[RoundTrips]:
        if portal is not None:
            # Async mode: an ORM call with no a-form (a ByteStream's append) may be the sync client's first
            # use, whose schema comparison is not a cost of the call measured.
            for model in models.classes():
                if model._meta.connection == DEFAULT and model._meta._async_schema_client is not None:
                    model._meta.client()
        counter.count = 0
        active[0] = True
        try:
            yield counter
        finally:
            active[0] = False

    return measure
