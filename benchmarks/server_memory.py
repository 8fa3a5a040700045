"""Memory for 1,000,000 small string keys: `redpocket serve` (RSS growth) next to redis-server (used_memory).

    python benchmarks/server_memory.py [count]

Both servers get the same ``SET key:N value:N`` stream through ``redis-cli --pipe``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))
from _servers import free_port, redis_server


def rss(pid: int) -> int:
    """Return the resident set size of a process in bytes."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load(port: int, count: int) -> None:
    """Insert ``count`` small string keys with redis-cli --pipe."""
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
                       for i in range(count) for k, v in ((b"key:%d" % i, b"value:%d" % i),))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload, check=True, capture_output=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with redis_server() as port:
        if port is not None:
            before = redis.Redis(port=port).info("memory")["used_memory"]
            load(port, count)
            info = redis.Redis(port=port).info("memory")
            print(f"redis-server: used_memory {info['used_memory'] / 2**20:.1f} MiB "
                  f"(+{(info['used_memory'] - before) / count:.0f} B/key), rss {info['used_memory_rss'] / 2**20:.1f} MiB")
    port = free_port()
    with tempfile.TemporaryDirectory():
        process = subprocess.Popen([sys.executable, "-m", "redpocket", "serve", "--port", str(port),
                                    "--loglevel", "warning"])
        try:
            client = redis.Redis(port=port)
            deadline = time.monotonic() + 15
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            before = rss(process.pid)
            started = time.monotonic()
            load(port, count)
            elapsed = time.monotonic() - started
            after = rss(process.pid)
            assert client.dbsize() == count
            print(f"redpocket:    rss {after / 2**20:.1f} MiB (+{(after - before) / count:.0f} B/key), "
                  f"loaded in {elapsed:.1f}s")
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
