"""How close the embedded engine's ``used_memory`` is to the process's own RSS growth, per data type.

For each data set (1,000,000 keys of each type by default; the large
hashes are 100 hashes of 10,000 fields) a fresh interpreter builds an
engine, loads the data through ``Engine.execute`` and reports the growth
of its RSS next to the growth of ``used_memory``, then the ``used_memory``
left after deleting half the keys and after FLUSHALL.  Target (issue 18):
within 20%.

    python benchmarks/memory_accounting.py [--count 1000000] [--only strings,lists]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from typing import Any

DATASETS = ("strings", "small-hashes", "large-hashes", "lists", "sets", "sorted-sets", "streams")


def rss() -> int:
    """Return this process's resident set size in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def commands(dataset: str, count: int) -> Any:
    """Yield the commands that load ``dataset`` (``count`` keys, or elements for the large hashes)."""
    if dataset == "strings":
        for i in range(count):
            yield [b"SET", b"key:%d" % i, b"value:%d" % i]
    elif dataset == "small-hashes":
        for i in range(count):
            yield [b"HSET", b"hash:%d" % i, b"name", b"user%d" % i, b"age", b"%d" % (i % 90), b"city", b"paris"]
    elif dataset == "large-hashes":
        fields = 10_000
        for i in range(count // fields):
            for start in range(0, fields, 100):
                argv = [b"HSET", b"big:%d" % i]
                for f in range(start, start + 100):
                    argv += [b"field:%d" % f, b"value:%d" % (i * fields + f)]
                yield argv
    elif dataset == "lists":
        for i in range(count):
            yield [b"RPUSH", b"list:%d" % i, b"a%d" % i, b"b%d" % i, b"c%d" % i]
    elif dataset == "sets":
        for i in range(count):
            yield [b"SADD", b"set:%d" % i, b"a%d" % i, b"b%d" % i, b"c%d" % i]
    elif dataset == "sorted-sets":
        for i in range(count):
            yield [b"ZADD", b"zset:%d" % i, b"1", b"a%d" % i, b"2", b"b%d" % i, b"3", b"c%d" % i]
    elif dataset == "streams":
        for i in range(count):
            yield [b"XADD", b"stream:%d" % i, b"*", b"field", b"value%d" % i]


def measure(dataset: str, count: int) -> dict[str, Any]:
    """Load ``dataset`` into a new engine in this process and measure it."""
    from redpocket.engine import Engine

    engine = Engine()
    session = engine.session()
    gc.collect()
    before_rss = rss()
    before_used = engine.used_memory()
    for argv in commands(dataset, count):
        # (fresh objects, as a server parses them: a literal field name would be shared by every key)
        engine.execute(session, [bytes(bytearray(arg)) for arg in argv])
    gc.collect()
    grown_rss = rss() - before_rss
    grown_used = engine.used_memory() - before_used
    keys = list(engine.databases[0].data)
    for key in keys[: len(keys) // 2]:
        engine.execute(session, [b"DEL", key])
    after_del = engine.used_memory() - before_used
    engine.execute(session, [b"FLUSHALL"])
    after_flush = engine.used_memory() - before_used
    return {
        "dataset": dataset, "rss_growth": grown_rss, "used_memory_growth": grown_used,
        "error": (grown_used - grown_rss) / grown_rss, "after_del_half": after_del, "after_flushall": after_flush,
    }


def main() -> None:
    """Measure each data set in its own interpreter and print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(options.child, options.count)))
        return
    print(f"{'data set':14} {'RSS growth':>12} {'used_memory':>12} {'error':>7} {'after DEL half':>15} {'FLUSHALL':>9}")
    for dataset in options.only.split(","):
        output = subprocess.run(
            [sys.executable, __file__, "--child", dataset, "--count", str(options.count)],
            check=True, capture_output=True, text=True,
        ).stdout
        row = json.loads(output)
        print(
            f"{dataset:14} {row['rss_growth'] / 2**20:10.1f}MB {row['used_memory_growth'] / 2**20:10.1f}MB "
            f"{row['error'] * 100:6.1f}% {row['after_del_half'] / 2**20:13.1f}MB {row['after_flushall'] / 2**20:7.1f}MB"
        )


if __name__ == "__main__":
    main()
