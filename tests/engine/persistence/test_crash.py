"""Crash safety: a process killed mid-stream loses no acknowledged write under ``appendfsync always``.

The child process opens an engine on the directory and writes from several
threads, printing each key once its write has returned; the parent kills it
with SIGKILL while it writes, reopens the directory and checks that every
printed key is there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from persistence_helpers import Opener

CHILD = textwrap.dedent(
    """
    import sys, threading
    from redpocket.client import EmbeddedRedis
    from redpocket.engine.persistence import open_persistent_engine

    engine = open_persistent_engine(sys.argv[1], appendfsync=sys.argv[2])
    print_lock = threading.Lock()

    def writer(thread):
        client = EmbeddedRedis(engine)
        i = 0
        while True:
            key = f"t{thread}:{i}"
            with client.pipeline(transaction=True) as pipe:  # some transactions too
                pipe.set(key, i).rpush(f"list{thread}", i).execute()
            client.sadd("all", key)
            with print_lock:
                sys.stdout.write(key + "\\n")
                sys.stdout.flush()
            i += 1

    for thread in range(4):
        threading.Thread(target=writer, args=(thread,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_sigkill_loses_no_acknowledged_write(open_engine: Opener, tmp_path: Path, policy: str) -> None:
    # everysec also loses nothing when only the process dies: the bytes are in the OS already.
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), policy],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 400 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(line.decode().strip())
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate()
    acknowledged += [line for line in rest.decode().splitlines() if line.endswith(tuple("0123456789"))]
    assert len(acknowledged) >= 400, errors.decode()
    _engine, r = open_engine()
    members = r.smembers("all")
    for key in acknowledged:
        thread, i = key[1:].split(":")
        assert key.encode() in members
        assert r.get(key) == i.encode()
    for thread in range(4):
        values = [int(v) for v in r.lrange(f"list{thread}", 0, -1)]
        assert values == list(range(len(values)))  # in order, no gaps, no transaction half-applied
