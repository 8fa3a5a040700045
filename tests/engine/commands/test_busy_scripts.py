"""Scripts past busy-reply-threshold: BUSY replies, SCRIPT KILL / FUNCTION KILL, UNKILLABLE, SHUTDOWN NOSAVE.

Each test runs on three targets: the embedded engine used from threads,
redpocket's TCP server, and a real redis-server (the same replies are
expected of all three).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.conftest import SERVER_SETTINGS, start_redis_server

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.server import Server

LIMIT_MS = 200
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
              "wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
LOOP = "while true do end"
LOOP_LIB = "#!lua name=busy\nredis.register_function('spin', function() while true do end end)"


class Runner(threading.Thread):
    """Run one command in a thread; keep its reply or error."""

    def __init__(self, client: redis.Redis, *args: Any) -> None:
        super().__init__(daemon=True)
        self.client, self.args = client, args
        self.reply: Any = None
        self.started = time.monotonic()
        self.start()

    def run(self) -> None:
        try:
            self.reply = self.client.execute_command(*self.args)
        except redis.RedisError as error:
            self.reply = ("error", str(error))

    def result(self, timeout: float = 10) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.args} did not finish"
        return self.reply


def call(client: redis.Redis, *args: Any) -> Any:
    try:
        return client.execute_command(*args)
    except redis.ResponseError as error:
        return ("error", str(error))


@pytest.fixture(params=["embedded", "tcp", "redis"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], redis.Redis]]:
    """Return a factory of clients of one fresh target, its busy-reply-threshold set to LIMIT_MS."""
    clients: list[redis.Redis] = []
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "embedded":
        engine = Engine(config=SERVER_SETTINGS)

        def make() -> redis.Redis:
            return EmbeddedRedis(engine)
    elif request.param == "tcp":
        context = Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread()
        server = context.__enter__()

        def make() -> redis.Redis:
            return redis.Redis(port=server.port, socket_timeout=10)

        def stop() -> None:
            context.__exit__(None, None, None)
    else:
        real = start_redis_server(tmp_path)

        def make() -> redis.Redis:
            return real.client(socket_timeout=10)

        def stop() -> None:
            real.process.kill()
            real.process.wait()

    def factory() -> redis.Redis:
        client = make()
        clients.append(client)
        return client

    factory().config_set("busy-reply-threshold", LIMIT_MS)
    yield factory
    for client in clients:
        client.close()
    stop()


def wait_busy(client: redis.Redis, started: float) -> tuple[Any, float]:
    """Send PING until it is refused; return the refusal and when it came, in ms after ``started``."""
    while True:
        reply = call(client, "PING")
        if reply != b"PONG" and reply is not True:
            return reply, (time.monotonic() - started) * 1000
        time.sleep(0.01)


def test_busy_then_script_kill(connect) -> None:
    runner, other = connect(), connect()
    assert call(other, "SCRIPT", "KILL") == ("error", "NOTBUSY No scripts in execution right now.")
    script = Runner(runner, "EVAL", LOOP, 0)
    time.sleep(0.02)
    reply, elapsed = wait_busy(other, script.started)
    assert reply == ("error", BUSY_EVAL)
    assert elapsed < LIMIT_MS + 100
    for _ in range(3):  # (over TCP, later requests take the server's inline path)
        assert call(other, "PING") == ("error", BUSY_EVAL)
    with other.pipeline(transaction=False) as pipe:
        pipe.ping()
        pipe.get("k")
        assert [str(r) for r in pipe.execute(raise_on_error=False)] == [BUSY_EVAL, BUSY_EVAL]
    assert call(other, "GET", "k") == ("error", BUSY_EVAL)
    assert call(other, "FUNCTION", "KILL") == ("error", BUSY_EVAL)
    assert call(other, "FUNCTION", "STATS") == ("error", BUSY_EVAL)
    assert call(other, "SCRIPT", "KILL") == b"OK"
    assert script.result()[1].startswith("Script killed by user with SCRIPT KILL... script: ")
    assert call(other, "PING") in (b"PONG", True)
    assert call(other, "SCRIPT", "KILL") == ("error", "NOTBUSY No scripts in execution right now.")


def test_busy_function_then_function_kill(connect) -> None:
    runner, other = connect(), connect()
    runner.function_load(LOOP_LIB)
    script = Runner(runner, "FCALL", "spin", 0, "arg")
    time.sleep(0.02)
    reply, elapsed = wait_busy(other, script.started)
    assert reply == ("error", BUSY_FUNCTION)
    assert elapsed < LIMIT_MS + 100
    assert call(other, "SCRIPT", "KILL") == ("error", BUSY_FUNCTION)
    stats = call(other, "FUNCTION", "STATS")
    if isinstance(stats, list):
        stats = dict(zip(stats[::2], stats[1::2], strict=True))
    running = stats[b"running_script"]
    if isinstance(running, list):
        running = dict(zip(running[::2], running[1::2], strict=True))
    assert running[b"name"] == b"spin" and running[b"command"] == [b"FCALL", b"spin", b"0", b"arg"]
    assert running[b"duration_ms"] >= LIMIT_MS
    assert call(other, "FUNCTION", "KILL") == b"OK"
    assert script.result() == ("error", "Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    assert call(other, "PING") in (b"PONG", True)


def test_a_script_that_wrote_is_unkillable(connect) -> None:
    runner, other = connect(), connect()
    body = ("redis.call('set', 'k', 'v') local start = tonumber(redis.call('time')[1]) "
            "while tonumber(redis.call('time')[1]) < start + 2 do end return 'done'")
    script = Runner(runner, "EVAL", body, 0)
    time.sleep(0.02)
    assert wait_busy(other, script.started)[0] == ("error", BUSY_EVAL)
    assert call(other, "SCRIPT", "KILL") == ("error", UNKILLABLE)
    assert script.result() == b"done"
    assert other.get("k") == b"v"


def test_transactions_queue_busy_errors(connect) -> None:
    runner, other = connect(), connect()
    script = Runner(runner, "EVAL", LOOP, 0)
    time.sleep(0.02)
    wait_busy(other, script.started)
    assert call(other, "MULTI") == b"OK"
    assert call(other, "SET", "k", "v") == ("error", BUSY_EVAL)
    assert call(connect(), "SCRIPT", "KILL") == b"OK"
    script.result()
    with pytest.raises(redis.exceptions.ExecAbortError):
        other.execute_command("EXEC")


@pytest.mark.parametrize("target", ["tcp", "redis"])
def test_shutdown_nosave_during_a_busy_script(target: str, tmp_path: Path) -> None:
    if target == "tcp":
        context = Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread()
        port = context.__enter__().port
    else:
        real = start_redis_server(tmp_path)
        port = real.port
    runner, other = (redis.Redis(port=port, socket_timeout=10) for _ in range(2))
    other.config_set("busy-reply-threshold", LIMIT_MS)
    script = Runner(runner, "EVAL", "redis.call('set', 'k', 'v') " + LOOP, 0)
    time.sleep(0.02)
    assert wait_busy(other, script.started)[0] == ("error", BUSY_EVAL)
    assert call(other, "SHUTDOWN") == ("error", BUSY_EVAL)
    with pytest.raises(redis.ConnectionError):
        other.execute_command("SHUTDOWN", "NOSAVE")
    script.result()
    if target == "tcp":
        context.__exit__(None, None, None)
    else:
        assert real.process.wait(10) == 0
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, socket_connect_timeout=1).ping()


def test_blocked_clients_are_served_after_a_busy_script(connect) -> None:
    runner, blocked, other = connect(), connect(), connect()
    pop = Runner(blocked, "BLPOP", "x", 0)
    time.sleep(0.1)
    body = ("redis.call('lpush', KEYS[1], 'y') local start = tonumber(redis.call('time')[1]) "
            "while tonumber(redis.call('time')[1]) < start + 2 do end redis.call('lpush', KEYS[1], 'z') return 1")
    script = Runner(runner, "EVAL", body, 1, "x")
    time.sleep(0.02)
    assert wait_busy(other, script.started)[0] == ("error", BUSY_EVAL)
    assert call(other, "MULTI") == b"OK"  # (commands allowed while busy must not serve blocked clients)
    assert call(other, "DISCARD") == b"OK"
    assert script.result() == 1
    assert list(pop.result()) == [b"x", b"z"]
