"""MONITOR over TCP: which commands a monitor sees, compared with redis-server's lines."""

from __future__ import annotations

import re
from collections.abc import Callable

from server_helpers import Raw, resp
from tests.conftest import RedisServer

from redpocket.server import Server

# MULTI/EXEC, a transaction aborted by an unknown command, wrong arity, an admin command.
COMMANDS = [
    [b"MULTI"], [b"SET", b"foo", b"bar"], [b"EXEC"],
    [b"MULTI"], [b"syntax", b"error"], [b"EXEC"],
    [b"GET"], [b"CONFIG", b"GET", b"maxmemory"], [b"OBJECT", b"NOSUCH"], [b"GET", b"foo"],
]


def monitor_lines(port: int) -> list[bytes]:
    """Send COMMANDS to the server at ``port``; return what a MONITOR client saw, without times and ports."""
    monitor = Raw(port)
    monitor.roundtrip(b"MONITOR\r\n", b"+OK\r\n")
    client = Raw(port)
    client.send(b"".join(resp(argv) for argv in COMMANDS))
    client.read_for(0.3)
    seen = monitor.read_for(0.5)
    client.close()
    monitor.close()
    lines = [re.sub(rb"^\+\d+\.\d{6} ", b"", line) for line in seen.split(b"\r\n") if line]
    return [re.sub(rb"\[(\d+) 127\.0\.0\.1:\d+\]", rb"[\1 client]", line) for line in lines]


def test_monitor_shows_only_commands_that_ran(make_server: Callable[..., Server], redis_server: RedisServer) -> None:
    ours = monitor_lines(make_server().port)
    theirs = monitor_lines(redis_server.port)
    assert ours == theirs
    assert b'[0 client] "EXEC"' in ours
    assert not any(b"syntax" in line or b"CONFIG" in line for line in ours)
