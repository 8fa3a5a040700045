"""The engine's differential suite through TCP: a redpocket server vs redis-server, both over sockets.

The command strategies and the reply comparison are those of
``tests/engine/test_differential.py``; here the redpocket side is a
redis-py client of a :class:`~redpocket.server.Server`, so every reply also
goes through the server's parser, its hot path and its RESP2/RESP3 encoder.

It runs 30% as many sequences as the engine suite (300 per protocol by
default; ``REDPOCKET_DIFF_EXAMPLES`` scales both), derandomized under CI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import SERVER_SETTINGS, RedisServer
from tests.engine.test_differential import ALL_COMMANDS, EXAMPLES, outcome

from redpocket.engine import Engine
from redpocket.server import Server

TCP_EXAMPLES = max(1, EXAMPLES * 3 // 10)


@pytest.fixture(scope="module")
def pocket() -> Iterator[Server]:
    """One redpocket server for the module, configured as the real server is."""
    with Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread() as server:
        yield server


@pytest.fixture
def tcp_pair(pocket: Server, redis_server: RedisServer) -> Iterator[Callable[[int], tuple[redis.Redis, redis.Redis]]]:
    """Return the (redpocket over TCP, redis-server) client pair of a protocol, made once per test."""
    pairs: dict[int, tuple[redis.Redis, redis.Redis]] = {}

    def make(protocol: int) -> tuple[redis.Redis, redis.Redis]:
        if protocol not in pairs:
            ours = redis.Redis(port=pocket.port, socket_timeout=10, protocol=protocol)
            real = redis_server.client(socket_timeout=10, protocol=protocol)
            for client in (ours, real):
                client.script_flush()
            pairs[protocol] = (ours, real)
        return pairs[protocol]

    yield make
    for pair in pairs.values():
        for client in pair:
            client.close()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=TCP_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(ALL_COMMANDS, min_size=1, max_size=25))
def test_random_sequences_match_redis_over_tcp(
    tcp_pair: Callable[[int], tuple[redis.Redis, redis.Redis]], protocol: int, commands: list[list[bytes]]
) -> None:
    ours, real = tcp_pair(protocol)
    ours.flushall()
    real.flushall()
    for argv in commands:
        expected = outcome(real, argv)
        got = outcome(ours, argv)
        assert got == expected, f"{argv!r}: redpocket over TCP {got!r} != redis {expected!r}"
