"""Crash safety over TCP: with ``appendfsync always`` a SIGKILL loses no acknowledged write.

A ``redpocket serve`` process is written to by several client threads, each
counting the writes the server acknowledged; the process is killed with
SIGKILL in the middle of the stream and restarted on the same directory.
Every acknowledged write must be there, and at most the one write per
client that was in flight (sent, not yet answered) may be there too.

Then the two ways an append-only file can be damaged: cut short at the end
(a crash mid-write: the last command is dropped with a warning) and corrupt
in the middle (the server refuses to start and names the offset).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.helpers import free_port

AOF = "appendonly.aof"


def aof_file(directory: Path) -> Path:
    """Return the append-only file commands are appended to: the last part the manifest lists."""
    from redpocket.engine.persistence.aof_manifest import parse_manifest

    return parse_manifest(directory / "appendonlydir" / (AOF + ".manifest")).files[-1]


class ServerProcess:
    """A ``redpocket serve --appendonly yes --appendfsync always`` process on a free loopback port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "redpocket", "serve", "--port", str(self.port), "--dir", str(directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a client that never retries: a write it reports as done was acknowledged once."""
        return redis.Redis(port=self.port, socket_timeout=10, retry=Retry(NoBackoff(), 0), **kwargs)

    def wait_ready(self, timeout: float = 15) -> redis.Redis:
        """Wait until the server answers PING; return a client of it."""
        client = self.client(socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.process.returncode}): {self.stderr()}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process: no flush, no shutdown code runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        """SIGTERM the process and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def stderr(self) -> str:
        """Return what the process logged (once it has exited)."""
        return self.process.stderr.read() if self.process.stderr else ""


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[], ServerProcess]]:
    """Start server processes on ``tmp_path``; kill any still running after the test."""
    started: list[ServerProcess] = []

    def make() -> ServerProcess:
        server = ServerProcess(tmp_path)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)
        if server.process.stderr:
            server.process.stderr.close()


class Writer(threading.Thread):
    """One client writing until the connection breaks, counting acknowledged writes."""

    def __init__(self, server: ServerProcess, number: int) -> None:
        super().__init__(name=f"writer-{number}", daemon=True)
        self.client = server.client()
        self.number = number
        self.acknowledged = 0  # INCR, RPUSH, HSET and EXEC each acknowledged this many times
        self.error: BaseException | None = None

    def run(self) -> None:
        n = self.number
        client = self.client
        try:
            while True:
                i = self.acknowledged
                assert client.incr(f"counter:{n}") == i + 1
                client.rpush(f"list:{n}", i)
                client.hset(f"hash:{n}", f"f{i}", i)
                with client.pipeline(transaction=True) as pipe:
                    pipe.incr(f"tx-a:{n}")
                    pipe.incr(f"tx-b:{n}")
                    assert pipe.execute() == [i + 1, i + 1]
                self.acknowledged += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # the kill
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            client.close()


def test_sigkill_loses_no_acknowledged_write(start: Callable[[], ServerProcess]) -> None:
    server = start()
    server.wait_ready()
    writers = [Writer(server, n) for n in range(4)]
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + 8
    while sum(w.acknowledged for w in writers) < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # mid-stream: every writer has a command in flight
    for writer in writers:
        writer.join(timeout=10)
        assert writer.error is None, writer.error
    assert all(w.acknowledged > 0 for w in writers)

    restarted = start()
    client = restarted.wait_ready()
    for writer in writers:
        n, acked = writer.number, writer.acknowledged
        # One more write per key may have reached the file without its reply reaching the client.
        counter = int(client.get(f"counter:{n}") or 0)
        assert acked <= counter <= acked + 1
        elements = [int(x) for x in client.lrange(f"list:{n}", 0, -1)]
        assert elements == list(range(len(elements)))
        assert acked <= len(elements) <= acked + 1
        fields = {int(k[1:]): int(v) for k, v in client.hgetall(f"hash:{n}").items()}
        assert fields == {i: i for i in range(len(fields))}
        assert acked <= len(fields) <= acked + 1
        # A transaction is all or nothing in the file.
        a, b = int(client.get(f"tx-a:{n}") or 0), int(client.get(f"tx-b:{n}") or 0)
        assert a == b
        assert acked <= a <= acked + 1
    assert restarted.terminate() == 0


def _write_and_stop(start: Callable[[], ServerProcess], commands: list[tuple[str, ...]]) -> None:
    server = start()
    client = server.wait_ready()
    for command in commands:
        client.execute_command(*command)
    client.close()
    server.kill()


def test_truncated_tail_drops_the_last_command(start: Callable[[], ServerProcess], tmp_path: Path) -> None:
    _write_and_stop(start, [("SET", "a", "1"), ("RPUSH", "l", "x", "y"), ("SET", "last", "cut")])
    aof = aof_file(tmp_path)
    data = aof.read_bytes()
    last = data.rindex(b"*3\r\n$3\r\nSET\r\n$4\r\nlast")
    aof.write_bytes(data[: len(data) - 5])  # a crash in the middle of writing the last command

    server = start()
    client = server.wait_ready()
    assert client.get("a") == b"1"
    assert client.lrange("l", 0, -1) == [b"x", b"y"]
    assert client.exists("last") == 0
    assert aof.stat().st_size == last  # the cut-short tail is gone from the file
    client.set("after", "restart")  # appends after the valid end
    client.close()
    assert server.terminate() == 0
    log = server.stderr()
    assert f"at offset {last}" in log and "cut short" in log

    again = start()
    client = again.wait_ready()
    assert client.get("after") == b"restart" and client.exists("last") == 0
    client.close()
    assert again.terminate() == 0


def test_corrupt_middle_refuses_to_start(start: Callable[[], ServerProcess], tmp_path: Path) -> None:
    _write_and_stop(start, [("SET", "k1", "v1"), ("SET", "k2", "v2"), ("SET", "k3", "v3")])
    aof = aof_file(tmp_path)
    data = bytearray(aof.read_bytes())
    middle = data.index(b"*3\r\n$3\r\nSET\r\n$2\r\nk2")
    data[middle] = ord("?")
    aof.write_bytes(bytes(data))

    server = start()
    status = server.process.wait(timeout=30)
    log = server.stderr()
    assert status != 0
    assert f"corrupt at offset {middle}" in log
    assert "Traceback" not in log
    assert aof.read_bytes() == bytes(data)  # nothing was cut off or rewritten
