"""The soak runs end to end for a few seconds and prints its samples and verdict (no figure is
asserted: a run this short has no plateau to find)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^ +\d+\.\d min +\d+ jobs +\d+ in flight  RSS +\d+ MB \(main +\d+\) +\d+ fds$")


def test_the_soak_runs_a_mixed_load_and_prints_rss_descriptors_and_a_verdict() -> None:
    run = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.1", "--sample", "2", "--rate", "3",
         "--latency", "0.05"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line for line in run.stdout.splitlines() if ROW.match(line)]
    assert len(rows) >= 3, run.stdout  # the first, at least one during, the last
    (expected,) = [line for line in run.stdout.splitlines() if line.startswith("jobs expected")]
    counts = re.findall(r"(\d+) (failed|succeeded)", expected)
    assert {kind for _, kind in counts} == {"failed", "succeeded"}, expected  # the mix ran
    assert "verdict: RSS after" in run.stdout and "verdict: open descriptors after" in run.stdout
    assert "FAILED" not in run.stdout
