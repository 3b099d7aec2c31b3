"""The load benchmark runs end to end at a tiny size and prints its table (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.stream import partial_delays

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "interaction -> first answer p50 / p99",
    "event-loop lag p99 / worst",
    "bot CPU per delivered image",
    "peak RSS, bot + pool",
    "wall time",
    "12 MP photo -> dall-e-2 edit input",
)


def test_bench_bot_delivers_every_job_and_prints_each_figure_beside_its_target() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_bot.py", "--n", "3,6", "--latency", "0.05"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "delivered 3/3 images" in run.stdout and "delivered 6/6 images" in run.stdout
    assert "FAILED" not in run.stdout
    for row in ROWS:
        assert run.stdout.count(row) == 2, run.stdout  # one table per size
    assert "target" in run.stdout and "< 300 MB" in run.stdout


def test_bench_bot_streams_previews_and_times_them() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_bot.py", "--n", "4", "--latency", "0.05", "--stream"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "delivered 4/4 images" in run.stdout
    assert "partial image -> its Discord edit p50 / p99" in run.stdout
    assert "PATCH @original with files" in run.stdout  # the previews were shown


def test_a_partial_counts_as_shown_by_the_first_edit_with_files_after_it() -> None:
    requests = {
        "t1": [("PATCH @original", 1.2), ("PATCH @original", 1.9), ("POST followup", 2.5)],
        "t2": [("PATCH @original", 3.0)],  # only the result: its partials were never shown
    }
    partials = [("fox", 1.0), ("fox", 1.5), ("fox", 2.0), ("hat", 2.8)]
    delays, unshown = partial_delays(partials, requests, {"fox": "t1", "hat": "t2"})
    assert [round(d, 3) for d in delays] == [0.2, 0.4]  # the third came after the last edit
    assert unshown == 2


def test_bench_i18n_prints_each_figure_beside_its_target() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_i18n.py"], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert "read 8 catalogs" in run.stdout and "< 20 µs" in run.stdout, run.stdout + run.stderr
