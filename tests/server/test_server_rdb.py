"""``redpocket serve --dir D`` and redis-server share one data directory through dump.rdb."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import redis
from tests.conftest import start_redis_server
from tests.engine.rdb_values import VALUES, build, read_back
from tests.helpers import free_port


def serve(directory: Path) -> tuple[subprocess.Popen[str], redis.Redis]:
    """Start ``redpocket serve --dir directory`` (snapshots only) and return it with a client once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "redpocket", "serve", "--port", str(port), "--dir", str(directory),
         "--appendonly", "no", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    client = redis.Redis(port=port, socket_timeout=30, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            return process, client
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redpocket serve did not start: {process.stderr.read() if process.stderr else ''}"
                ) from None
            time.sleep(0.05)


def test_serve_loads_a_redis_dump_and_shutdown_writes_one_redis_loads(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path)
    real = server.client()
    for name in VALUES:
        build(real, name, name)
    real.pexpire("string-short", 600_000)
    expected = {name: read_back(real, name) for name in VALUES}
    real.save()
    server.process.terminate()
    server.process.wait(timeout=10)

    process, ours = serve(tmp_path)
    try:
        assert {name: read_back(ours, name) for name in VALUES} == expected
        assert 0 < ours.pttl("string-short") <= 600_000
        ours.set("added-by-redpocket", "yes")
        with contextlib.suppress(redis.ConnectionError):
            ours.shutdown(save=True)  # SHUTDOWN SAVE: redis-server's own file is replaced by redpocket's
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()

    again = start_redis_server(tmp_path)
    try:
        reloaded = again.client()
        assert {name: read_back(reloaded, name) for name in VALUES} == expected
        assert reloaded.get("added-by-redpocket") == b"yes"
        assert 0 < reloaded.pttl("string-short") <= 600_000
    finally:
        again.process.terminate()
        again.process.wait(timeout=10)
