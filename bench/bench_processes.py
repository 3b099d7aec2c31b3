"""Several bot processes, one provider limit: 100 jobs through one and then two processes.

Run: ``TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python
bench/bench_processes.py [--jobs 100] [--latency 0.2] [--concurrency 4] [--pause 1.0]``
(or ``--database-url``: a fresh database is made on that server and dropped afterwards).

Each process is a real bot process without Discord (tests/fakes/headless.py): ``create_bot`` as
``python -m bot`` builds it, never logged in, its JobRunner given the jobs directly; two full bots
each against a fake Discord would measure the fakes more than the limit. The processes share one
PostgreSQL database and one fake Images API, which runs in this process and counts the requests
it answers at once. Phases, with the same two processes throughout:

1. all jobs through one process, then split over two: the most requests at once (target: the
   provider's concurrency) and the wall time against the ideal, jobs x latency / concurrency;
2. a 429 answering one request while both processes have jobs waiting: no request may start
   during the pause it asked for, in either process;
3. one process killed (SIGKILL) while it holds every slot, mid-request: how soon the other
   process's waiting jobs reach the API (target < 10 s).

Prints each figure beside its target; exits 1 when the limit, the pause or the release after the
kill was missed, or a job wasn't delivered (a wall time over its target only shows as NO).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import open_store
from tests.fakes.headless import HeadlessProcess
from tests.fakes.openai_server import FakeImagesServer
from tests.fakes.stores import fresh_postgres_database
from tests.waiting import wait_until

GRACE = 0.1  # a request already on its way when the 429 was answered may arrive this late
KILL_TARGET = 10.0


@dataclass
class Row:
    name: str
    value: str
    target: str
    ok: bool | None
    required: bool = True  # a miss fails the run (times on a busy machine only inform)


@dataclass
class Run:
    """What one load phase measured."""

    processes: int
    wall: float
    most_at_once: int
    delivered: int
    jobs: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per API request")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds the 429 asks for")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""))
    return parser.parse_args(argv)


async def load(api: FakeImagesServer, processes: list[HeadlessProcess], jobs: int) -> Run:
    """``jobs`` split over ``processes``, all sent at once."""
    api.max_in_flight = 0
    shares = [jobs // len(processes) + (i < jobs % len(processes)) for i in range(len(processes))]
    began = time.monotonic()
    for process, share in zip(processes, shares, strict=True):
        process.send(share)
    done = await asyncio.gather(*(process.done() for process in processes))
    wall = time.monotonic() - began
    return Run(len(processes), wall, api.max_in_flight, sum(d for d, _ in done), jobs)


async def pause_phase(
    api: FakeImagesServer, processes: list[HeadlessProcess], pause: float
) -> list[Row]:
    """A 429 for the first request while every process has jobs waiting behind the slots."""
    api.fail_next("rate_limit", retry_after=pause)
    first = len(api.image_times)
    for process in processes:
        process.send(8)
    done = await asyncio.gather(*(process.done() for process in processes))
    seen = api.image_times[first:]
    paused_at = next(a.answered for a in seen if a.status == 429)
    started = [a for a in seen if a.arrived > paused_at + GRACE]
    during = [a for a in started if a.arrived < paused_at + pause]
    rows = [Row(f"requests started in the {pause:g} s pause", f"{len(during)}", "0", not during)]
    for process in processes:
        own = [a.arrived - paused_at for a in started if f"process {process.pid} " in a.prompt]
        after = min(own, default=math.nan)
        rows.append(Row(f"  process {process.pid}: first request after the 429",
                        f"+{after:.2f} s", f">= {pause:g} s", after >= pause))  # fmt: skip
    refused = sum(f for _, f in done)
    rows.append(Row("  jobs refused by the 429 (no retries here)", f"{refused}", "1", refused == 1))
    return rows


async def kill_phase(
    api: FakeImagesServer, doomed: HeadlessProcess, live: HeadlessProcess, latency: float,
    concurrency: int,
) -> list[Row]:  # fmt: skip
    """``doomed`` holds every slot mid-request and is SIGKILLed; ``live`` is waiting for one."""
    api.latency = 3600.0  # the doomed process's requests hang until it dies
    doomed.send(concurrency)
    await wait_until(lambda: api.in_flight == concurrency, 30)
    first = len(api.requests)
    live.send(concurrency)
    await asyncio.sleep(1.0)
    waited = len(api.requests) == first  # nothing of the live process's got through
    api.latency = latency
    killed = time.monotonic()
    doomed.kill()
    delivered, _ = await live.done()
    reached = [a.arrived - killed for a in api.image_times if f"process {live.pid} " in a.prompt]
    freed = min((t for t in reached if t >= 0), default=math.inf)
    return [
        Row("live process held back while the other holds every slot", "yes" if waited else "no",
            "yes", waited),
        Row("slot release after SIGKILL (live process's first request)", f"{freed:.2f} s",
            f"< {KILL_TARGET:g} s", freed < KILL_TARGET),
        Row("  live process's jobs delivered after the kill", f"{delivered}/{concurrency}",
            f"{concurrency}/{concurrency}", delivered == concurrency),
    ]  # fmt: skip


def load_rows(run: Run, args: argparse.Namespace) -> list[Row]:
    ideal = math.ceil(run.jobs / args.concurrency) * args.latency
    over = (run.wall / ideal - 1) * 100
    label = "1 process" if run.processes == 1 else f"{run.processes} processes"
    return [
        Row(f"{label}: most requests at once", f"{run.most_at_once}", f"<= {args.concurrency}",
            run.most_at_once <= args.concurrency),
        Row(f"{label}: wall time", f"{run.wall:.2f} s vs ideal {ideal:.1f} s ({over:+.0f} %)",
            "within 20 %", over <= 20, required=False),
        Row(f"{label}: delivered", f"{run.delivered}/{run.jobs}", f"{run.jobs}/{run.jobs}",
            run.delivered == run.jobs),
    ]  # fmt: skip


def table(head: str, rows: list[Row]) -> str:
    width = max(len(r.name) for r in rows) + 2
    lines = [head, "", f"{'figure':<{width}}{'measured':<32}{'target':<14}ok"]
    for r in rows:
        mark = "" if r.ok is None else ("yes" if r.ok else "NO")
        lines.append(f"{r.name:<{width}}{r.value:<32}{r.target:<14}{mark}")
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def processes_on(
    database_url: str, base_url: str, folder: Path, count: int, concurrency: int
) -> AsyncIterator[list[HeadlessProcess]]:
    started = await asyncio.gather(
        *(HeadlessProcess.start(database_url, base_url, folder / f"p{i}", concurrency=concurrency)
          for i in range(count)),
        return_exceptions=True,
    )  # fmt: skip
    alive = [p for p in started if isinstance(p, HeadlessProcess)]
    try:
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed
        yield alive
    finally:
        await asyncio.gather(*(p.stop() for p in alive))


async def bench(args: argparse.Namespace) -> int:
    os.environ["TEST_DATABASE_URL"] = args.database_url  # where fresh databases are made
    async with (
        fresh_postgres_database() as database_url,
        FakeImagesServer() as api,
    ):
        await (await open_store(database_url)).close()  # migrated once, before the processes
        api.latency = args.latency
        with tempfile.TemporaryDirectory() as folder:
            async with processes_on(
                database_url, api.base_url, Path(folder), 2, args.concurrency
            ) as (first, second):
                await load(api, [first, second], 2 * args.concurrency)  # warm: connections made
                alone = await load(api, [first], args.jobs)
                both = await load(api, [first, second], args.jobs)
                paused = await pause_phase(api, [first, second], args.pause)
                killed = await kill_phase(api, first, second, args.latency, args.concurrency)
    rows = [*load_rows(alone, args), *load_rows(both, args), *paused, *killed]
    head = (
        f"bench_processes: {args.jobs} jobs, API latency {args.latency:g} s, one provider limit "
        f"of {args.concurrency} requests at once shared on PostgreSQL; headless bot processes "
        "(create_bot, no Discord)"
    )
    print(table(head, rows), flush=True)
    return 0 if all(r.ok is not False for r in rows if r.required) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.database_url:
        print("bench_processes needs PostgreSQL: set TEST_DATABASE_URL or --database-url.")
        return 2
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
