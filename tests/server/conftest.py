"""Fixtures for the TCP server tests: a server in a background thread and raw sockets to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from server_helpers import Raw

from redpocket.engine import Engine
from redpocket.server import Server


@pytest.fixture
def make_server() -> Iterator[Callable[..., Server]]:
    """Start servers in background threads (``make_server(requirepass="pw")``); stop them after the test."""
    stack: list[Any] = []

    def make(**kwargs: Any) -> Server:
        kwargs.setdefault("port", 0)
        kwargs.setdefault("engine", Engine(config={"enable-debug-command": "local"}))
        context = Server(**kwargs).run_in_thread()
        server = context.__enter__()
        stack.append(context)
        return server

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    """A running server with default settings."""
    return make_server()


@pytest.fixture
def raw(server: Server) -> Iterator[Callable[[], Raw]]:
    """Open raw sockets to ``server``."""
    sockets: list[Raw] = []

    def make() -> Raw:
        conn = Raw(server.port)
        sockets.append(conn)
        return conn

    yield make
    for conn in sockets:
        conn.close()


@pytest.fixture
def client(server: Server) -> Iterator[redis.Redis]:
    """A redis-py client of ``server``."""
    r = redis.Redis(port=server.port, socket_timeout=10)
    yield r
    r.close()
