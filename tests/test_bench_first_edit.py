"""The first-edit benchmark runs end to end and prints its figure beside the target (not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_first_edit_delivers_both_edits_and_prints_the_lag_beside_its_target() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_first_edit.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "first /edit: loop lag worst" in run.stdout and "< 40 ms" in run.stdout
    assert run.stdout.count("True") == 2
