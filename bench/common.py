"""Helpers for the benchmarks: the test fakes in child processes, and per-process CPU and memory.

The bot under test must be measured alone, so the fake Images API and the fake Discord each run in a
process of their own (spawned: a clean interpreter, nothing inherited from the bot). The fake
Discord child mirrors the guild the harness built in the bot's process, learns each interaction
through a pipe before the bot can answer it, and time-stamps every request it receives
(``time.monotonic`` is one clock for every process on Linux).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from multiprocessing.connection import Connection
from typing import Any

from tests.fakes.discord_server import FakeDiscord, RecordedRequest
from tests.fakes.openai_server import FakeImagesServer

SPAWN = multiprocessing.get_context("spawn")
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
# Everything the harness put into the fake before the load starts (guild, members, commands...).
_STATE = (
    "messages", "channels", "guilds", "members", "users", "interactions", "_commands", "_blobs",
    "_last_id", "application_id", "bot_user", "owner_user", "upload_limit",
)  # fmt: skip
_TOKEN_IN_PATH = re.compile(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)")
_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback")
_ORIGINAL = re.compile(r"/webhooks/\d+/([^/]+)/messages/@original")
_FOLLOWUP = re.compile(r"/webhooks/\d+/([^/]+)")  # the result: a new message that pings
_ARRIVED: ContextVar[float] = ContextVar("arrived")  # set per request task by BenchDiscord._handle


# --- per-process figures from /proc -------------------------------------------------------------


def proc_cpu(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a live process, or of one of its threads (0 when gone)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name (names summed)."""
    found: dict[str, float] = collections.defaultdict(float)
    for thread in threading.enumerate():
        if thread.native_id is not None:
            found[thread.name] += proc_cpu(os.getpid(), thread.native_id)
    return dict(found)


def proc_rss(pid: int) -> int:
    """Resident bytes of a live process now (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


def proc_peak_rss(pid: int) -> int:
    """Peak resident bytes of a live process (VmHWM; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(root: int, exclude: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Live processes below ``root`` (children, grandchildren...), pruning ``exclude`` subtrees."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in exclude:
                found.append(child)
                todo.append(child)
    return found


# --- the fake Images API in a child process ------------------------------------------------------


class ApiProcess:
    """``FakeImagesServer`` serving from its own process; ``base_url`` once started."""

    def __init__(self, *, latency: float, noisy: bool = True) -> None:
        self._conn, child = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=_api_main, args=(child, latency, noisy), name="fake-images-api", daemon=True
        )
        self.process.start()

    def ready(self) -> str:
        """Wait until it serves; its base URL."""
        return str(_reply(self._conn, timeout=60))

    def call(self, *message: Any) -> Any:
        """Send a command (``latency``, ``report``) and return the answer."""
        self._conn.send(message)
        return _reply(self._conn)

    def stop(self) -> None:
        if self.process.is_alive():
            self.call("stop")
        self.process.join(10)


class BenchImagesServer(FakeImagesServer):
    """FakeImagesServer that encodes each distinct answer once.

    Base64 and JSON of several MB per request cost the fake ~20 ms of its GIL; sixteen answers due
    at the same moment would reach the bot up to a third of a second late, which is not the bot's
    doing. The answers are the same bytes each time (the fake's images are cached already); only
    the prompt's length shows in them (token usage) unless the model revises prompts.
    """

    def _answer(self, job: Any, kind: str, opts: dict[str, Any]) -> bytes:
        if kind or opts or job.family.revises_prompt:
            return super()._answer(job, kind, opts)
        cache: dict[str, bytes] = self.__dict__.setdefault("_answers", {})
        key = f"{dataclasses.replace(job, prompt='')!r} {len(job.prompt)}"
        if key not in cache:
            cache[key] = super()._answer(job, kind, opts)
        return cache[key]


def _api_main(conn: Connection, latency: float, noisy: bool) -> None:
    asyncio.run(_api_serve(conn, latency, noisy))


async def _api_serve(conn: Connection, latency: float, noisy: bool) -> None:
    loop = asyncio.get_running_loop()
    async with BenchImagesServer(noisy=noisy) as api:
        api.latency = latency
        conn.send(("ok", api.base_url))
        while True:
            kind, *args = await loop.run_in_executor(None, conn.recv)
            if kind == "latency":
                api.latency = args[0]
                conn.send(("ok", None))
            elif kind == "report":
                endpoints = collections.Counter(r.endpoint for r in api.requests)
                conn.send(("ok", dict(endpoints)))
            else:
                conn.send(("ok", None))
                return


# --- the fake Discord in a child process ---------------------------------------------------------


class BenchDiscord(FakeDiscord):
    """FakeDiscord that time-stamps requests and waits briefly for interactions still in the pipe."""

    async def _handle(self, request: Any) -> Any:
        arrived = time.monotonic()
        _ARRIVED.set(arrived)
        match = _TOKEN_IN_PATH.search(request.path)
        if match is not None:
            deadline = arrived + 2.0
            # Registered by another thread (the pipe's reader): polling is the simple way to wait.
            while match.group(1) not in self.interactions and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        return await super()._handle(request)

    def _dispatch(self, record: RecordedRequest) -> Any:
        record.arrived = _ARRIVED.get(time.monotonic())  # type: ignore[attr-defined]
        record.read = time.monotonic() - record.arrived  # type: ignore[attr-defined]
        return super()._dispatch(record)

    def load_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.__dict__.update(state)

    def report(self) -> dict[str, Any]:
        """Deferral times, delivered files per interaction, request counts, fake errors."""
        callbacks: dict[int, float] = {}
        delivered: dict[str, list[int]] = collections.defaultdict(list)
        last_text: dict[str, str] = {}
        upload_reads: list[float] = []
        kinds: collections.Counter[str] = collections.Counter()
        with self._lock:
            for rec in self.requests:
                ok = 200 <= rec.status < 300
                if m := _CALLBACK.fullmatch(rec.path):
                    kinds["interaction callback"] += 1
                    arrived = getattr(rec, "arrived", 0.0)
                    if ok:
                        callbacks.setdefault(int(m.group(1)), arrived)
                elif (m := _FOLLOWUP.fullmatch(rec.path)) and rec.method == "POST":
                    kinds["POST followup" + (" with files" if rec.files else "")] += 1
                    if ok and rec.files:
                        delivered[m.group(1)] += [f.size for f in rec.files]
                        upload_reads.append(getattr(rec, "read", 0.0))
                elif m := _ORIGINAL.fullmatch(rec.path):
                    kinds[f"{rec.method} @original" + (" with files" if rec.files else "")] += 1
                    if ok and rec.files:
                        delivered[m.group(1)] += [f.size for f in rec.files]
                        upload_reads.append(getattr(rec, "read", 0.0))
                    elif ok and isinstance(rec.json, dict):
                        embeds = rec.json.get("embeds") or [{}]
                        last_text[m.group(1)] = str(embeds[0].get("description", ""))[:200]
                else:
                    kinds[f"{rec.method} other"] += 1
            errors = [str(e) for e in self.errors]
        return {
            "callbacks": callbacks,
            "delivered": dict(delivered),
            "last_text": last_text,
            "upload_reads": upload_reads,
            "kinds": dict(kinds),
            "errors": errors,
        }


class DiscordProcess:
    """``BenchDiscord`` serving from its own process; mirror the harness's fake into it."""

    def __init__(self, token: str) -> None:
        self._conn, child = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=_discord_main, args=(child, token), name="fake-discord", daemon=True
        )
        self.process.start()

    def ready(self) -> str:
        """Wait until it serves; its API URL (for ``discord.http.Route.BASE``)."""
        return str(_reply(self._conn, timeout=60))

    def call(self, *message: Any) -> Any:
        """Send a command (``state``, ``photo``, ``report``) and return the answer."""
        self._conn.send(message)
        return _reply(self._conn, timeout=120)

    def mirror(self, fake: FakeDiscord) -> None:
        """Copy everything the harness built in ``fake`` into the child."""
        with fake._lock:
            state = {name: getattr(fake, name) for name in _STATE}
            self.call("state", state)

    def forward_interactions(self, fake: FakeDiscord) -> None:
        """From now on, each interaction the harness registers in ``fake`` reaches the child too."""
        register = fake.register_interaction

        def both(payload: dict[str, Any]) -> Any:
            self._conn.send(("interaction", payload))
            return register(payload)

        fake.register_interaction = both  # type: ignore[method-assign]

    def stop(self) -> None:
        if self.process.is_alive():
            self.call("stop")
        self.process.join(10)


def _discord_main(conn: Connection, token: str) -> None:
    fake = BenchDiscord(token=token)
    asyncio.run(fake.start())  # serves on its own thread; this thread answers the pipe
    conn.send(("ok", fake.api_url))
    while True:
        kind, *args = conn.recv()
        if kind == "interaction":
            fake.register_interaction(args[0])
            continue
        if kind == "state":
            fake.load_state(args[0])
            answer: Any = None
        elif kind == "photo":
            from bench.bench_prepare import noisy_photo

            answer = fake.add_attachment(
                "photo.jpg", noisy_photo(sigma=12), "image/jpeg", channel_id=args[0]
            )
        elif kind == "report":
            answer = fake.report()
        else:
            asyncio.run(fake.stop())
            conn.send(("ok", None))
            return
        conn.send(("ok", answer))


def _reply(conn: Connection, timeout: float = 60) -> Any:
    if not conn.poll(timeout):
        raise RuntimeError("a benchmark fake did not answer")
    status, value = conn.recv()
    if status != "ok":
        raise RuntimeError(f"a benchmark fake failed: {value}")
    return value


# --- memory over time ----------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Every 100 ms, in a thread (off the loop it measures): bot RSS, jobs running and queued."""

    def __init__(self, scheduler: Any, bot_pids: Callable[[], list[int]]) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        # (time, RSS of this process, RSS of the bot: this process and its pool, running, queued)
        self.samples: list[tuple[float, int, int, int, int]] = []
        self._scheduler = scheduler
        self._bot_pids = bot_pids
        self._stop_event = threading.Event()

    def measure(self, pids: list[int] | None = None) -> int:
        """The bot's resident bytes now: this process and its pool."""
        pids = self._bot_pids() if pids is None else pids
        return proc_rss(os.getpid()) + sum(proc_rss(pid) for pid in pids)

    def run(self) -> None:
        pids, refreshed = self._bot_pids(), time.monotonic()
        while not self._stop_event.wait(0.1):
            if time.monotonic() - refreshed > 1.0:  # a pool may start workers on demand
                pids, refreshed = self._bot_pids(), time.monotonic()
            main = proc_rss(os.getpid())
            rss = main + sum(proc_rss(pid) for pid in pids)
            running, queued = self._scheduler.running, self._scheduler.queued
            self.samples.append((time.monotonic(), main, rss, running, queued))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def at(self, predicate: Callable[[int, int], bool]) -> int | None:
        """The largest RSS sampled while ``predicate(running, queued)`` held."""
        matching = [s[2] for s in self.samples if predicate(s[3], s[4])]
        return max(matching) if matching else None

    def main_peak(self) -> int:
        """The largest RSS of this process alone that was sampled."""
        return max((s[1] for s in self.samples), default=0)


def time_prepare() -> tuple[float, float]:
    """Median and worst ms of ``bench_prepare`` on its 12 MP photo (run it in a fresh process)."""
    from bench.bench_prepare import measure, noisy_photo

    return measure(noisy_photo(sigma=12))
