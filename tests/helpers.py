"""Helpers shared by the test modules (one copy each, imported as ``from tests.helpers import ...``).

- :func:`run`: a command's reply, or ``("error", text)`` when it fails (for comparisons)
- :func:`error_of`: the text of the error a command must raise
- :func:`raw_client`: a client without redis-py's response callbacks (replies keep their wire shape)
- :func:`differential`: the differential driver: the same commands to the embedded
  engine and to redis-server, each reply compared
- :func:`free_port`: a loopback port nobody listens on
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import redis


def run(client: redis.Redis, *args: Any) -> Any:
    """Execute a raw command and return its reply or the error it raised (for comparisons)."""
    try:
        return client.execute_command(*args)
    except redis.ResponseError as error:
        return ("error", str(error))


def error_of(client: redis.Redis, *args: Any) -> str:
    """Run a command that must fail and return its error text."""
    with pytest.raises(redis.ResponseError) as info:
        client.execute_command(*args)
    return str(info.value)


def raw_client(make_client: Callable[..., redis.Redis], protocol: int = 2) -> redis.Redis:
    """Return a client of ``protocol`` without redis-py's response callbacks: replies keep their wire shape."""
    client = make_client(protocol=protocol)
    client.response_callbacks.clear()
    return client


def wait_blocked(client: redis.Redis, count: int = 1) -> None:
    """Wait until ``count`` clients are blocked (INFO clients), so a write that follows meets them waiting."""
    deadline = time.monotonic() + 5
    while client.info("clients")["blocked_clients"] < count:
        assert time.monotonic() < deadline, "no client blocked"
        time.sleep(0.01)


def free_port() -> int:
    """Return a TCP port on the loopback interface that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def differential(
    embedded: redis.Redis,
    real: redis.Redis,
    commands: Iterable[list[bytes]],
    normalize: Callable[[list[bytes], Any], Any] | None = None,
    expiring: Callable[[list[bytes]], bool] | None = None,
) -> int:
    """Send each command to redis-server then to the embedded engine and assert the replies are equal.

    ``normalize(command, reply)`` maps both replies before comparing, when
    they differ (hash-table order Redis leaves to chance); a ``TTL`` may be a
    second apart (the clock ticks between the two calls).  A command for
    which ``expiring(command)`` holds sets a short TTL: the driver compares
    its replies and waits a few milliseconds so the key has expired on both
    before the next command.  Returns how many commands were compared.
    """
    count = 0
    for step, command in enumerate(commands):
        expected = run(real, *command)
        got = run(embedded, *command)
        if got != expected and normalize is not None:
            got, expected = normalize(command, got), normalize(command, expected)
        if command[0].upper() in (b"TTL", "TTL") and isinstance(expected, int) and expected > 0:
            # A second may tick between the two calls.
            assert isinstance(got, int) and abs(got - expected) <= 1, (step, command, got, expected)
        else:
            assert got == expected, (step, command, got, expected)
        if expiring is not None and expiring(command):
            time.sleep(0.003)
        count += 1
    return count
