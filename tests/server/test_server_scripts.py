"""Scripts over TCP: the MONITOR lines of the commands a script runs, compared with redis-server's."""

from __future__ import annotations

import re
from collections.abc import Callable

import redis
from server_helpers import Raw
from tests.conftest import RedisServer

from redpocket.server import Server

SCRIPT = ("redis.call('set', 'k', 'v\\r\\n\\0') redis.call('select', 3) redis.call('get', 'k') "
          "pcall(redis.call, 'nosuch') pcall(redis.call, 'config', 'get', 'maxmemory') return 1")
LIBRARY = "#!lua name=m\nredis.register_function('m', function(keys) return redis.call('incr', keys[1]) end)"


def monitor_lines(port: int) -> list[bytes]:
    """Run a script and a function on the server at ``port``; return what a MONITOR client saw, normalised."""
    monitor = Raw(port)
    monitor.roundtrip(b"MONITOR\r\n", b"+OK\r\n")
    client = redis.Redis(port=port)
    client.function_load(LIBRARY, replace=True)
    client.eval(SCRIPT, 0)
    client.fcall("m", 1, "counter")
    client.close()
    seen = monitor.read_for(0.5)
    monitor.close()
    # "+<time> [<db> <address>] <args>": the time and the client's port differ between runs.
    lines = [re.sub(rb"^\+\d+\.\d{6} ", b"", line) for line in seen.split(b"\r\n") if line]
    lines = [re.sub(rb"\[(\d+) 127\.0\.0\.1:\d+\]", rb"[\1 client]", line) for line in lines]
    # (redis-py's connection handshake differs with the server's HELLO reply: leave it out)
    return [line for line in lines if b" lua]" in line or re.search(rb'client\] "(?i:eval|fcall|function)"', line)]


def test_monitor_shows_script_commands_as_redis_does(make_server: Callable[..., Server],
                                                       redis_server: RedisServer) -> None:
    ours = monitor_lines(make_server().port)
    theirs = monitor_lines(redis_server.port)
    assert ours == theirs
    assert b'[0 lua] "set" "k" "v\\r\\n\\x00"' in ours
    assert b'[3 lua] "get" "k"' in ours
    assert b'[0 lua] "incr" "counter"' in ours
