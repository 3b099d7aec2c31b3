"""The load benchmark runs end to end at a tiny size and prints its table (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "interaction -> deferral p50 / p99",
    "event-loop lag p99 / worst",
    "bot CPU per delivered image",
    "peak RSS, bot + pool",
    "wall time",
    "12 MP photo -> dall-e-2 edit input",
)


def test_bench_bot_delivers_every_job_and_prints_each_figure_beside_its_target() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_bot.py", "--n", "6", "--latency", "0.05"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "delivered 6/6 images" in run.stdout
    assert "FAILED" not in run.stdout
    for row in ROWS:
        assert row in run.stdout, run.stdout
    assert "target" in run.stdout and "< 300 MB" in run.stdout
