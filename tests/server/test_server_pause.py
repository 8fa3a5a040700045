"""CLIENT PAUSE, UNPAUSE and UNBLOCK over TCP: the engine suite's tests, against `redpocket serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.engine import test_clients as suite

from redpocket.server import Server


@pytest.fixture
def make_client(server: Server) -> Iterator[Callable[..., redis.Redis]]:
    """Build redis-py clients of the test's server (the suite's fixture, over TCP)."""
    clients: list[redis.Redis] = []

    def make(**kwargs: Any) -> redis.Redis:
        client = redis.Redis(port=server.port, socket_timeout=30, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


test_write_pause_holds_writes_not_reads = suite.test_write_pause_holds_writes_not_reads
test_all_pause_holds_reads_too = suite.test_all_pause_holds_reads_too
test_held_client_counts_as_blocked_and_unpause_releases_it = (
    suite.test_held_client_counts_as_blocked_and_unpause_releases_it
)
test_write_pause_holds_exec_only_when_it_writes = suite.test_write_pause_holds_exec_only_when_it_writes
test_write_pause_holds_scripts_and_publish = suite.test_write_pause_holds_scripts_and_publish
test_a_longer_pause_wins = suite.test_a_longer_pause_wins
test_unblock = suite.test_unblock
test_unblock_of_unknown_or_idle_clients = suite.test_unblock_of_unknown_or_idle_clients


def test_pipelined_requests_behind_a_held_one_keep_their_order(server: Server) -> None:
    admin = redis.Redis(port=server.port)
    other = redis.Redis(port=server.port)
    other.ping()
    admin.client_pause(60_000, all=False)
    pipe = other.pipeline(transaction=False)
    pipe.get("k")
    pipe.set("k", "1")
    pipe.incr("k")
    pipe.get("k")
    pending = suite.Timed(pipe.execute)
    suite.wait_blocked(admin, 1)
    admin.client_unpause()
    assert pending.outcome() == [None, True, 2, b"2"]
