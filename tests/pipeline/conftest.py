"""Pipeline and keyspace fixtures: these suites run on the embedded engine, redis-server and a Redis Cluster."""

from __future__ import annotations

import pytest
from tests.conftest import LAYER_BACKENDS


@pytest.fixture(params=LAYER_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``"embedded"``, ``"redis"`` or ``"cluster"``."""
    return str(request.param)
