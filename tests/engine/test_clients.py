"""CLIENT PAUSE, UNPAUSE and UNBLOCK on both backends (and, through tests/server, over TCP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.helpers import run


class Timed(threading.Thread):
    """Run one client call in a thread; keep its result (or error) and how long it took."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.seconds = -1.0
        self.start()

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.result = self.call()
        except redis.RedisError as error:
            self.result = error
        self.seconds = time.monotonic() - started

    def outcome(self, timeout: float = 10) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "the call never returned"
        return self.result


def blocked_clients(client: redis.Redis) -> int:
    return int(client.info("clients")["blocked_clients"])


def wait_blocked(client: redis.Redis, count: int) -> None:
    deadline = time.monotonic() + 5
    while blocked_clients(client) != count:
        assert time.monotonic() < deadline, f"blocked_clients never reached {count}"
        time.sleep(0.01)


def test_write_pause_holds_writes_not_reads(make_client: Callable[..., redis.Redis]) -> None:
    admin, other = make_client(), make_client()
    admin.set("k", "before")
    assert admin.client_pause(400, all=False)
    started = time.monotonic()
    assert other.get("k") == b"before"
    assert time.monotonic() - started < 0.3
    writer = Timed(lambda: other.set("k", "after"))
    assert writer.outcome() is True
    assert writer.seconds >= 0.25
    assert admin.get("k") == b"after"


def test_all_pause_holds_reads_too(make_client: Callable[..., redis.Redis]) -> None:
    admin, other = make_client(), make_client()
    other.ping()
    admin.client_pause(400)
    reader = Timed(lambda: other.get("k"))
    assert reader.outcome() is None
    assert reader.seconds >= 0.25


def test_held_client_counts_as_blocked_and_unpause_releases_it(make_client: Callable[..., redis.Redis]) -> None:
    admin, other = make_client(), make_client()
    other.ping()
    admin.client_pause(60_000, all=False)
    writer = Timed(lambda: other.incr("counter"))
    wait_blocked(admin, 1)
    assert admin.client_unpause()
    assert writer.outcome() == 1
    assert writer.seconds < 30
    wait_blocked(admin, 0)


def test_write_pause_holds_exec_only_when_it_writes(make_client: Callable[..., redis.Redis]) -> None:
    admin, other = make_client(), make_client()
    admin.set("k", "v")
    admin.client_pause(60_000, all=False)
    reads = other.pipeline(transaction=True)
    reads.ping()
    reads.get("k")
    assert reads.execute() == [True, b"v"]
    writes = other.pipeline(transaction=True)
    writes.get("k")
    writes.set("k", "w")
    pending = Timed(writes.execute)
    wait_blocked(admin, 1)
    admin.client_unpause()
    assert pending.outcome() == [b"v", True]


def test_write_pause_holds_scripts_and_publish(make_client: Callable[..., redis.Redis]) -> None:
    admin, other, third = make_client(), make_client(), make_client()
    other.ping()
    third.ping()
    admin.client_pause(60_000, all=False)
    script = Timed(lambda: other.eval("return 1", 0))
    publish = Timed(lambda: third.publish("channel", "message"))
    wait_blocked(admin, 2)
    admin.client_unpause()
    assert script.outcome() == 1
    assert publish.outcome() == 0


def test_a_longer_pause_wins(make_client: Callable[..., redis.Redis]) -> None:
    admin, other = make_client(), make_client()
    other.ping()
    admin.client_pause(600, all=False)
    admin.client_pause(100, all=False)  # shorter: the 600 ms stay
    writer = Timed(lambda: other.set("k", "v"))
    writer.outcome()
    assert writer.seconds >= 0.4


@pytest.mark.parametrize("error", [False, True])
def test_unblock(make_client: Callable[..., redis.Redis], error: bool) -> None:
    admin, waiter = make_client(), make_client()
    ids: list[int] = []  # an embedded client has one connection per thread: ask from the waiting thread
    pending = Timed(lambda: ids.append(waiter.client_id()) or waiter.blpop(["empty"], 0))
    wait_blocked(admin, 1)
    waiter_id = ids[0]
    assert admin.client_unblock(waiter_id, error=error) == 1
    result = pending.outcome()
    if error:
        assert isinstance(result, redis.ResponseError)
        assert str(result) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    else:
        assert result is None
    assert admin.client_unblock(waiter_id) == 0  # no longer blocked


def test_unblock_of_unknown_or_idle_clients(make_client: Callable[..., redis.Redis]) -> None:
    admin, idle = make_client(), make_client()
    assert admin.client_unblock(idle.client_id()) == 0
    assert admin.client_unblock(10**9) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("PAUSE", "abc"), ("PAUSE", "-1"), ("PAUSE", "10", "FOO"), ("PAUSE", "10", "write", "x"), ("PAUSE",),
        ("UNPAUSE", "x"), ("UNBLOCK", "x"), ("UNBLOCK", "1", "FOO"), ("UNBLOCK", "1", "TIMEOUT", "x"),
        ("UNBLOCK",), ("UNBLOCK", "99999"), ("UNBLOCK", "99999", "error"), ("PAUSE", "0"), ("PAUSE", "0", "write"),
        ("UNPAUSE",),
    ],
)
def test_replies_match_redis(pair: Any, args: tuple[str, ...]) -> None:
    embedded, real = pair(protocol=2)
    assert run(embedded, "CLIENT", *args) == run(real, "CLIENT", *args)
