"""Run units of the Redis 7.0.15 TCL test suite against ``redpocket serve``, a fresh server per unit.

Usage::

    python tools/redis-tcl/suite.py                       # the 13 core units
    python tools/redis-tcl/suite.py unit/type/zset unit/functions --only /BZPOPMIN
    python tools/redis-tcl/suite.py --min-passed 1000     # exit 1 below 1,000 passed tests

The Redis test tree (BSD-3) is never part of this repository: ``get-tests.sh``
takes it from Debian's source package of redis 7.0.15 into a cache folder on
first use (needs apt and Debian's archive), or ``--tests DIR`` names a folder
that holds ``tests/test_helper.tcl``.  Each unit runs in the harness's
external mode (``--host/--port``) against a redpocket server started for it
(``python -m redpocket serve`` with this interpreter, so ``PYTHONPATH`` picks
the package), then the server is stopped.  A unit's set-up error or an
unexpected error reply aborts the rest of the unit, exactly as with
redis-server: nothing is ignored.

Output: one line per unit (passed, failed, skipped, status), then
``TOTAL: N passed, M failed``.  Exit status 0 when no unit errored (crashed,
stalled, timed out) and either ``--min-passed`` is met or, without it, no
test failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORE_UNITS = (
    "unit/type/string", "unit/type/incr", "unit/type/hash", "unit/type/list", "unit/type/set",
    "unit/type/zset", "unit/expire", "unit/keyspace", "unit/multi", "unit/pubsub", "unit/scan",
    "unit/info-command", "unit/protocol",
)
# What redis-server cannot be asked in external mode either: DEBUG, replication, resetting stats ...
SKIPPED_TAGS = (
    "-needs:debug -needs:repl -needs:config-maxmemory -needs:config-resetstat -needs:save "
    "-needs:pfdebug -needs:reset"
)
FLAGS = ("--ignore-encoding", "--ignore-digest", "--tags", SKIPPED_TAGS)
ROW = "{:<22} {:>7} {:>7} {:>7}  {:<10} {:>6}"


@dataclass
class UnitResult:
    """The counts of one unit's run, read from the harness's log."""

    unit: str
    passed: int
    failed: int
    skipped: int
    status: str  # ok, fail, exception, stalled, timeout, crash
    seconds: int

    @property
    def errored(self) -> bool:
        """Tell whether the unit stopped before its end (its later tests never ran)."""
        return self.status not in ("ok", "fail")


def fetch_tests(cache: Path | None) -> Path:
    """Return a folder holding the Redis 7.0.15 ``tests/`` tree, downloading it on first use."""
    command = [str(HERE / "get-tests.sh")] + ([str(cache)] if cache else [])
    return Path(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``redpocket serve`` on ``port`` and wait until it accepts connections."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "redpocket", "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redpocket serve exited with {process.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"redpocket serve did not open port {port} within 30 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server this script started (SIGTERM, then SIGKILL after 5 s)."""
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def summarize(unit: str, log: str, returncode: int, seconds: int) -> UnitResult:
    """Count a unit's results in its harness log, as the harness reports them."""
    passed = len(re.findall(r"^\[ok\]: ", log, re.M))
    failed = len(re.findall(r"^\[err\]: ", log, re.M))
    skipped = len(re.findall(r"^\[(?:skip|ignore)\]: ", log, re.M))
    if re.search(r"^\[exception\]: ", log, re.M):
        status = "exception"
        failed += 1
    elif returncode in (-9, 124, 137):
        status = "timeout"
    elif "[TIMEOUT]" in log:
        status = "stalled"
    elif re.search(rf"^\[1/1 done\]: {re.escape(unit)} ", log, re.M):
        status = "ok" if failed == 0 and returncode == 0 else "fail"
    else:
        status = f"crash({returncode})"
    return UnitResult(unit, passed, failed, skipped, status, seconds)


def run_unit(unit: str, tree: Path, logs: Path, tclsh: str, extra: list[str], timeout: int) -> UnitResult:
    """Run one unit against a fresh server; keep its log under ``logs``."""
    name = unit.replace("/", "_")
    port = free_port()
    server = start_server(port, logs / f"{name}.server.log")
    started = time.monotonic()
    command = [tclsh, str(HERE / "launcher.tcl"), "--host", "127.0.0.1", "--port", str(port), "--single", unit,
               "--clients", "1", "--timeout", "120", *FLAGS, *extra]
    try:
        done = subprocess.run(command, cwd=tree, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              env={**os.environ, "TERM": "dumb"})
        output, returncode = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        output, returncode = (expired.stdout or b"") + (expired.stderr or b""), -9
    finally:
        stop_server(server)
    text = output.decode(errors="replace")
    (logs / f"{name}.log").write_text(text)
    result = summarize(unit, text, returncode, int(time.monotonic() - started))
    failures = [line for line in text.splitlines() if line.startswith(("[err]: ", "[exception]: "))]
    (logs / f"{name}.failures").write_text("".join(line + "\n" for line in failures))
    return result


def run_suite(units: list[str], *, tests: Path | None = None, log_dir: Path | None = None,
              extra: list[str] | None = None, unit_timeout: int = 900) -> list[UnitResult]:
    """Run ``units`` one after the other, printing a row per unit; return their results."""
    tclsh = shutil.which("tclsh8.6") or shutil.which("tclsh")
    if tclsh is None:
        raise RuntimeError("no tclsh found (Debian: apt-get install -y tcl)")
    source = tests or fetch_tests(None)
    if not (source / "tests" / "test_helper.tcl").is_file():
        raise RuntimeError(f"{source} holds no Redis tests/ tree")
    logs = log_dir or Path(tempfile.mkdtemp(prefix="redis-tcl-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"# redis tcl suite against redpocket serve; logs in {logs}", flush=True)
    print(ROW.format("unit", "passed", "failed", "skipped", "status", "secs"), flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="redis-tcl-") as work:
        tree = Path(work)
        shutil.copytree(source / "tests", tree / "tests")  # (the harness writes under tests/tmp)
        for unit in units:
            unit = unit.removeprefix("tests/").removesuffix(".tcl")
            result = run_unit(unit, tree, logs, tclsh, extra or [], unit_timeout)
            results.append(result)
            print(ROW.format(unit, result.passed, result.failed, result.skipped, result.status, result.seconds),
                  flush=True)
    passed = sum(result.passed for result in results)
    failed = sum(result.failed for result in results)
    errored = sum(result.errored for result in results)
    print(f"TOTAL: {passed} passed, {failed} failed ({errored} unit(s) errored)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("units", nargs="*", default=list(CORE_UNITS), help="units, e.g. unit/type/zset")
    parser.add_argument("--tests", type=Path, help="a folder holding the Redis tests/ tree (default: download)")
    parser.add_argument("--log-dir", type=Path, help="where per-unit logs go (default: a temporary folder)")
    parser.add_argument("--only", action="append", default=[], help="run only tests matching (harness --only)")
    parser.add_argument("--min-passed", type=int, help="succeed with this many passed tests (default: no failure)")
    parser.add_argument("--unit-timeout", type=int, default=900, help="seconds per unit")
    args = parser.parse_args(argv)
    extra = [flag for pattern in args.only for flag in ("--only", pattern)]
    results = run_suite(args.units, tests=args.tests, log_dir=args.log_dir, extra=extra,
                        unit_timeout=args.unit_timeout)
    if any(result.errored for result in results):
        return 1
    if args.min_passed is not None:
        return 0 if sum(result.passed for result in results) >= args.min_passed else 1
    return 0 if all(result.failed == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
