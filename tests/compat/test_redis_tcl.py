"""The Redis 7.0.15 TCL test suite against ``redpocket serve``: ``python -m pytest tests/compat -m tcl``.

Deselected by default (it takes minutes and downloads the Redis tests from
Debian's source package on first use); see tools/redis-tcl/suite.py, which
this runs, and the README's section on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import redpocket

SUITE = Path(__file__).resolve().parents[2] / "tools" / "redis-tcl" / "suite.py"
TARGET = 1000
"""Of the 1,006 tests of the 13 core units that redis-server 7.0.15 passes with the same flags."""

pytestmark = [
    pytest.mark.tcl,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(shutil.which("tclsh") is None, reason="needs tclsh (Debian: apt-get install -y tcl)"),
]


def run_suite(*units: str) -> tuple[str, int, int]:
    """Run the suite script on ``units`` (all 13 core units when none); return its output and TOTAL counts."""
    package_root = str(Path(redpocket.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(SUITE), *units], capture_output=True, text=True, env=env)
    output = done.stdout + done.stderr
    total = re.search(r"^TOTAL: (\d+) passed, (\d+) failed \((\d+) unit\(s\) errored\)", output, re.M)
    assert total is not None, output
    assert total[3] == "0", f"units stopped before their end:\n{output}"
    return output, int(total[1]), int(total[2])


def test_core_units_reach_the_target() -> None:
    output, passed, _failed = run_suite()
    assert passed >= TARGET, output


def test_ci_units_pass_whole() -> None:
    output, passed, failed = run_suite("unit/type/incr", "unit/info-command", "unit/keyspace", "unit/functions")
    assert failed == 0, output
    assert passed > 0, output
