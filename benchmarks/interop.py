"""Benchmark RDB files: saving and loading 1,000,000 small keys, redpocket vs redis-server, on the same file.

The dataset is built in an embedded engine (small strings, plus a share of
small hashes, lists, sets and sorted sets when ``--mixed``), saved to
``dump.rdb`` by redpocket (timed), loaded back by redpocket (timed), then
loaded by a redis-server started on a copy of that very file (its own
"DB loaded from disk" time, read from its log) and saved by it (``SAVE``,
timed from the client).  redpocket then loads redis-server's file too.
Prints seconds and keys/s for each and the ratios redpocket / redis-server.
Target (issue 13): redpocket loads 1,000,000 small keys in under 5 s.

Then the export throughput (``redpocket export``, :mod:`redpocket.transfer`):
``--export-keys`` keys (mixed) copied from an embedded engine to a
redis-server, and, as the baseline run alongside, the same keys copied by
the same code from that redis-server to a second one (so the ratio is the
cost of the embedded source, not of DUMP/RESTORE over TCP).

    python benchmarks/interop.py [--keys 1000000] [--mixed] [--export-keys 200000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import free_port, redis_server

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence.rdb_file import capture, load_rdb, write_rdb_file
from redpocket.engine.types.zset import ZSet
from redpocket.transfer import transfer


def build(engine: Engine, keys: int, mixed: bool) -> None:
    """Fill database 0 with ``keys`` small keys (every 10th a small container when ``mixed``)."""
    data = engine.databases[0].data
    for i in range(keys):
        key = b"key:%d" % i
        kind = i % 10 if mixed else 0
        if kind == 1:
            data[key] = {b"name": b"user-%d" % i, b"age": b"%d" % (i % 90), b"city": b"Paris"}
        elif kind == 2:
            data[key] = deque([b"a", b"b", b"%d" % i])
        elif kind == 3:
            data[key] = {b"%d" % i, b"%d" % (i + 1), b"x"}
        elif kind == 4:
            data[key] = ZSet([(b"m1", 1.0), (b"m2", i / 3)])
        elif i % 2:
            data[key] = b"%d" % i
        else:
            data[key] = b"value-%d" % i


def redis_load_seconds(directory: Path) -> tuple[float, int, subprocess.Popen[bytes]]:
    """Start redis-server on ``directory``'s dump.rdb; return its own load time, its port and the process."""
    port = free_port()
    log = directory / "redis.log"
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--logfile", str(log)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        found = re.search(r"DB loaded from disk: ([0-9.]+) seconds", text)
        if found:
            while True:
                try:
                    redis.Redis(port=port).ping()
                    return float(found.group(1)), port, process
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.05)
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited while loading:\n{text}")
        time.sleep(0.02)
    process.kill()
    raise TimeoutError("redis-server did not load the file")


def line(name: str, seconds: float, keys: int) -> None:
    """Print one timing."""
    print(f"  {name:<34} {seconds:8.3f} s   {keys / seconds:12,.0f} keys/s")


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--mixed", action="store_true", help="every 10th key a small hash/list/set/zset")
    parser.add_argument("--export-keys", type=int, default=200_000, help="keys of the export throughput run (0: skip)")
    options = parser.parse_args()
    if options.keys:
        rdb_files(options.keys, options.mixed)
    if options.export_keys:
        export_throughput(options.export_keys)


def export_throughput(keys: int) -> None:
    """Time ``transfer()`` embedded -> redis-server, and redis-server -> redis-server as the baseline."""
    engine = Engine()
    build(engine, keys, mixed=True)
    with redis_server() as first, redis_server() as second:
        if first is None or second is None:
            print("export throughput: redis-server is not installed")
            return
        ours = transfer(EmbeddedRedis(engine), f"redis://127.0.0.1:{first}/0")
        theirs = transfer(f"redis://127.0.0.1:{first}/0", f"redis://127.0.0.1:{second}/0")
        assert ours.verified == theirs.verified == keys
    print(f"export throughput: {keys:,} mixed small keys, DUMP/RESTORE in pipelined batches of 1000, verified")
    line("embedded -> redis-server", ours.seconds, keys)
    line("redis-server -> redis-server", theirs.seconds, keys)
    print(f"  ratio  embedded source / redis-server source: {ours.seconds / theirs.seconds:6.1f}x the time")


def rdb_files(keys: int, mixed: bool) -> None:
    """Save and load ``keys`` keys as dump.rdb, redpocket and redis-server, and print the table."""
    options = argparse.Namespace(mixed=mixed)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "ours").mkdir()
        (root / "theirs").mkdir()
        engine = Engine()
        build(engine, keys, options.mixed)

        started = time.perf_counter()
        write_rdb_file(root / "ours" / "dump.rdb", capture(engine))
        save_ours = time.perf_counter() - started
        size = (root / "ours" / "dump.rdb").stat().st_size
        del engine

        started = time.perf_counter()
        loaded = Engine()
        stats = load_rdb(loaded, (root / "ours" / "dump.rdb").read_bytes())
        load_ours = time.perf_counter() - started
        assert stats.keys == keys, stats
        del loaded

        shutil.copy(root / "ours" / "dump.rdb", root / "theirs" / "dump.rdb")
        load_theirs, port, process = redis_load_seconds(root / "theirs")
        try:
            client = redis.Redis(port=port)
            assert client.dbsize() == keys
            started = time.perf_counter()
            client.save()
            save_theirs = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(timeout=30)

        started = time.perf_counter()
        again = Engine()
        stats = load_rdb(again, (root / "theirs" / "dump.rdb").read_bytes())
        load_their_file = time.perf_counter() - started
        assert stats.keys == keys

    kind = "mixed small keys" if options.mixed else "small string keys"
    print(f"RDB interop: {keys:,} {kind}, dump.rdb of {size / 1e6:.1f} MB")
    line("redpocket save", save_ours, keys)
    line("redis-server SAVE", save_theirs, keys)
    line("redpocket load (own file)", load_ours, keys)
    line("redpocket load (redis-server's file)", load_their_file, keys)
    line("redis-server load", load_theirs, keys)
    print(f"  ratio save  redpocket / redis-server: {save_ours / save_theirs:6.1f}x the time")
    print(f"  ratio load  redpocket / redis-server: {load_ours / max(load_theirs, 1e-3):6.1f}x the time")
    print(f"  target: load under 5 s -> {'met' if load_ours < 5 else 'NOT met'} ({load_ours:.2f} s)")


if __name__ == "__main__":
    main()
