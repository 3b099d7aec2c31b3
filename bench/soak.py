"""Soak: the whole bot under a steady mixed load for a long time. Does its memory plateau?

Run: ``.venv/bin/python bench/soak.py [--minutes 20] [--rate 1.0] [--latency 1.0]
[--sample 30] [--warmup 3] [--noisy]``. The real ImageBot (with its process pool) runs here
against the test fakes in child processes, as in ``bench_bot.py``: one job every ``1/rate``
seconds, in a fixed mix of /imagine (gpt-image-1), /edit (dall-e-2, of a 12 MP phone photo),
/vary (gpt-image-1) and requests the API refuses or fails. Every ``--sample`` seconds it prints
the bot's resident memory (this process and its pool) and this process's open file descriptors
(``/proc/self/fd``), then the verdict: after the warm-up (``--warmup`` minutes, at most a third of
the run), RSS stays within 10 % of its level then and the descriptors within a few. Exits 1 only
when a job ended otherwise than its kind should (an image not delivered, a refusal delivered).

The fake API answers with small images unless ``--noisy`` (3 MB ones, as the real API): the fake
Discord keeps every upload, so long noisy runs need gigabytes, in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_bot import Fakes, Options, look_like_python_m, with_bot
from bench.common import MB, ApiProcess, DiscordProcess, proc_rss
from bot.__main__ import tune_gc
from bot.app import ImageBot
from tests.fakes.bot_env import DISCORD_TOKEN
from tests.fakes.discord_harness import BotHarness

MEMBERS = 40
RSS_SLACK = 0.10  # RSS after the warm-up may grow by at most this share
FD_SLACK = 5  # descriptors may differ by at most this many (sockets come and go)
# Markers in a prompt that make the fake API fail the request (bench.common.BenchImagesServer).
FAIL_MARKERS = {"[refused]": "content_policy_violation", "[broken]": "server_error"}
# The mix, in order, repeated: (command, what the member should end with).
MIX: tuple[tuple[str, str], ...] = (
    *(("imagine", "succeeded"),) * 6,
    ("edit", "succeeded"),
    *(("imagine", "succeeded"),) * 3,
    ("vary", "succeeded"),
    ("imagine [refused]", "failed"),
    *(("imagine", "succeeded"),) * 4,
    ("edit", "succeeded"),
    ("vary", "succeeded"),
    ("imagine [broken]", "failed"),
    ("imagine", "succeeded"),
)


@dataclass
class Sample:
    """One reading: seconds since the load began, jobs fired and in flight, memory, descriptors."""

    at: float
    fired: int
    in_flight: int
    rss: int  # this process and its pool
    main_rss: int
    fds: int


@dataclass
class Soak:
    """What the run saw."""

    minutes: float
    rate: float
    samples: list[Sample] = field(default_factory=list)
    expected: Counter[str] = field(default_factory=Counter)
    ended: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


class SoakFakes(Fakes):
    """The bench's two fakes, the API failing prompts that carry a marker."""

    def __init__(self, latency: float, noisy: bool) -> None:
        self.api = ApiProcess(latency=latency, noisy=noisy, options={"fail_markers": FAIL_MARKERS})
        self.discord = DiscordProcess(DISCORD_TOKEN)
        self.api_url = self.api.ready()
        self.discord_url = self.discord.ready()


def open_fds() -> int:
    """Descriptors this process has open now (the listing's own one included, always)."""
    return len(os.listdir("/proc/self/fd"))


def sample(fakes: Fakes, started: float, fired: int, in_flight: int) -> Sample:
    """A reading of /proc: run in a thread, off the loop being measured."""
    main = proc_rss(os.getpid())
    pool = sum(proc_rss(pid) for pid in fakes.bot_pids())
    return Sample(time.monotonic() - started, fired, in_flight, main + pool, main, open_fds())


def payload(harness: BotHarness, kind: str, index: int, member: int, photo: Any) -> Any:
    """The interaction for the ``index``-th job of the mix."""
    command, _, marker = kind.partition(" ")
    if command == "edit":
        options = {"prompt": f"add a hat {index}", "model": "dall-e-2"}
        return harness.slash_payload("edit", options, attachments={"image": photo}, user=member)
    if command == "vary":
        return harness.slash_payload("vary", {}, attachments={"image": photo}, user=member)
    prompt = f"a red fox, number {index} {marker}".strip()
    return harness.slash_payload("imagine", {"prompt": prompt}, user=member)


def invokers(known: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """discord.py's tasks for interactions (one per job, until it is delivered or refused)."""
    found = {t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"}
    return found - known


async def load(
    soak: Soak, fakes: Fakes, harness: BotHarness, bot: ImageBot, members: list[int], every: float
) -> None:
    """Fire one job every ``1/rate`` s for the run's minutes, sampling as it goes; then wait."""
    photo = fakes.discord.call("photo", harness.channel_id)
    running: set[asyncio.Task[Any]] = set()
    mix, who = itertools.cycle(MIX), itertools.cycle(members)
    started = time.monotonic()
    duration, tick = soak.minutes * 60, 1 / soak.rate
    next_sample, fired = 0.0, 0
    while (now := time.monotonic() - started) < duration:
        if now >= next_sample:
            row = await asyncio.to_thread(sample, fakes, started, fired, len(running))
            soak.samples.append(row)
            print(line(row), flush=True)
            next_sample += every
        kind, outcome = next(mix)
        interaction = payload(harness, kind, fired, next(who), photo)
        fakes.discord.register(interaction)
        harness.dispatch("INTERACTION_CREATE", interaction)
        soak.expected[outcome] += 1
        fired += 1
        await asyncio.sleep(0)
        running |= invokers(running)
        for task in [t for t in running if t.done()]:
            record(soak, task)
            running.discard(task)
        await asyncio.sleep(max(0.0, started + fired * tick - time.monotonic()))
    if running:
        await asyncio.wait(running, timeout=120)
    for task in running:
        record(soak, task)
    row = await asyncio.to_thread(sample, fakes, started, fired, 0)
    soak.samples.append(row)
    print(line(row), flush=True)
    jobs = await bot.services.store.recent_jobs(harness.guild_id, fired + 10)
    soak.ended = Counter(job.status for job in jobs)
    soak.failures += harness.errors


def record(soak: Soak, task: asyncio.Task[Any]) -> None:
    """Note a finished task's crash, if any (a job the bot handled, even a refusal, has none)."""
    if task.done() and not task.cancelled() and task.exception() is not None:
        soak.failures.append(repr(task.exception()))


def line(s: Sample) -> str:
    return (
        f"{s.at / 60:6.1f} min  {s.fired:6d} jobs  {s.in_flight:4d} in flight  "
        f"RSS {s.rss / MB:6.0f} MB (main {s.main_rss / MB:4.0f})  {s.fds:4d} fds"
    )


def verdict(soak: Soak, warmup_minutes: float) -> list[str]:
    """Whether RSS plateaus and descriptors stay flat after the warm-up, in words."""
    warm = min(warmup_minutes * 60, soak.minutes * 60 / 3)
    after = [s for s in soak.samples if s.at >= warm] or soak.samples[-1:]
    base = after[0]
    peak = max(s.rss for s in after)
    growth = peak / base.rss - 1 if base.rss else 0.0
    fds = [s.fds for s in after]
    rss_ok, fds_ok = growth <= RSS_SLACK, max(fds) - min(fds) <= FD_SLACK
    return [
        f"RSS after {warm / 60:.1f} min {base.rss / MB:.0f} MB, at most {peak / MB:.0f} MB later "
        f"({growth * 100:+.1f} %; target within {RSS_SLACK * 100:.0f} %): "
        + ("plateaus" if rss_ok else "GROWS"),
        f"open descriptors after {warm / 60:.1f} min {base.fds}, later {min(fds)} to {max(fds)} "
        f"(target within {FD_SLACK}): " + ("flat" if fds_ok else "GROW"),
    ]


def report(soak: Soak, warmup_minutes: float) -> str:
    expected = ", ".join(f"{n} {k}" for k, n in sorted(soak.expected.items()))
    ended = ", ".join(f"{n} {k}" for k, n in sorted(soak.ended.items()))
    lines = [
        "",
        f"jobs expected: {expected}; ended: {ended}",
        *(f"verdict: {v}" for v in verdict(soak, warmup_minutes)),
    ]
    lines += [f"FAILED: {failure}" for failure in soak.failures[:10]]
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=1.0, help="jobs per second")
    parser.add_argument("--latency", type=float, default=1.0, help="API seconds per request")
    parser.add_argument("--concurrency", type=int, default=4, help="API requests at once")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes before the baseline")
    parser.add_argument("--noisy", action="store_true", help="3 MB images, as the real API")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> Soak:
    soak = Soak(args.minutes, args.rate)
    fakes = SoakFakes(args.latency, args.noisy)
    opts = Options(n=MEMBERS, latency=args.latency, concurrency=args.concurrency)
    try:

        async def body(harness: BotHarness, bot: ImageBot, members: list[int]) -> None:
            await load(soak, fakes, harness, bot, members, args.sample)

        await with_bot(opts, fakes, body)
    finally:
        fakes.stop()
    return soak


def main(argv: list[str] | None = None) -> int:
    look_like_python_m()
    args = parse(argv)
    tune_gc()
    print(
        f"soak: {args.minutes:g} min, {args.rate:g} jobs/s, API latency {args.latency:g} s, "
        f"{args.concurrency} requests at once; a mix of {len(MIX)} (/imagine, /edit, /vary, "
        "refused and failing requests) repeated",
        flush=True,
    )
    soak = asyncio.run(run(args))
    print(report(soak, args.warmup), flush=True)
    wrong = soak.ended != soak.expected
    return 1 if soak.failures or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
