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

from aiohttp import web

from bench.stream import PARTIAL_EVENTS
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
_FOLLOWUP = re.compile(r"/webhooks/\d+/([^/]+)")
_PROMPT: ContextVar[str] = ContextVar("prompt", default="")  # set per request task of the API
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


def reset_peak_rss(pid: int) -> bool:
    """Start a process's VmHWM afresh from its RSS now (Linux >= 4.0); False when refused.

    Several sizes run in one process: without it, the second run's peak would be the first's.
    """
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


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

    def __init__(
        self, *, latency: float, noisy: bool = True, options: dict[str, Any] | None = None
    ) -> None:
        """``options``: more keyword arguments for the server (``bench.stream.API_OPTIONS``)."""
        self._conn, child = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=_api_main,
            args=(child, latency, noisy, options or {}),
            name="fake-images-api",
            daemon=True,
        )
        self.process.start()

    def ready(self) -> str:
        """Wait until it serves; its base URL."""
        return str(_reply(self._conn, timeout=60))

    def call(self, *message: Any) -> Any:
        """Send a command (``latency``, ``partial_delay``, ``report``, ``partials``); its answer."""
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
    ``fail_markers``: a prompt containing a marker fails as its kind (``bench/soak.py``).
    """

    def __init__(self, *, fail_markers: dict[str, str] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.fail_markers = dict(fail_markers or {})

    def _take_failure(self, endpoint: str) -> Any:
        prompt = _PROMPT.get()  # this request's: no await between here and taking the failure
        kind = next((k for marker, k in self.fail_markers.items() if marker in prompt), None)
        if kind is not None:
            self.fail_next(kind)
        return super()._take_failure(endpoint)

    async def _record(self, request: Any, endpoint: str) -> Any:
        rec = await super()._record(request, endpoint)
        fields = rec.json if isinstance(rec.json, dict) else rec.form
        _PROMPT.set(str(fields.get("prompt", "")))  # this request's task: its partials' prompt
        return rec

    def _answer(self, job: Any, kind: str, opts: dict[str, Any]) -> bytes:
        if kind or opts or job.family.revises_prompt:
            return super()._answer(job, kind, opts)
        cache: dict[str, bytes] = self.__dict__.setdefault("_answers", {})
        key = f"{dataclasses.replace(job, prompt='')!r} {len(job.prompt)}"
        if key not in cache:
            cache[key] = super()._answer(job, kind, opts)
        return cache[key]


class PartialRecorder:
    """Time-stamps each partial-image event the fake API streams, with its request's prompt.

    Hooks ``web.StreamResponse.write`` in the fake API's own process (nothing else runs there), so
    it needs nothing from the fake's streaming code but the event format: a partial's type names
    it, and a blank line ends it; it is sent once the write that ends it returns.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []
        self._open: dict[int, str] = {}  # response -> prompt of a partial event being written
        original = web.StreamResponse.write
        recorder = self

        async def write(response: web.StreamResponse, data: Any) -> None:
            chunk = bytes(data)
            if any(event in chunk for event in PARTIAL_EVENTS):
                recorder._open[id(response)] = _PROMPT.get()
            await original(response, data)
            if chunk.endswith(b"\n\n") and id(response) in recorder._open:
                recorder.sent.append((recorder._open.pop(id(response)), time.monotonic()))

        web.StreamResponse.write = write  # type: ignore[method-assign]


def _api_main(conn: Connection, latency: float, noisy: bool, options: dict[str, Any]) -> None:
    asyncio.run(_api_serve(conn, latency, noisy, options))


async def _api_serve(
    conn: Connection, latency: float, noisy: bool, options: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    partials = PartialRecorder() if options.get("stream_mode") else None
    async with BenchImagesServer(noisy=noisy, **options) as api:
        api.latency = latency
        conn.send(("ok", api.base_url))
        while True:
            kind, *args = await loop.run_in_executor(None, conn.recv)
            if kind == "latency":
                api.latency = args[0]
                conn.send(("ok", None))
            elif kind == "partial_delay":
                api.partial_delay = args[0]
                conn.send(("ok", None))
            elif kind == "report":
                endpoints = collections.Counter(r.endpoint for r in api.requests)
                conn.send(("ok", dict(endpoints)))
            elif kind == "partials":
                conn.send(("ok", [] if partials is None else partials.sent))
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
        """Deferral times, delivered files per interaction, request counts, fake errors.

        A result is the token's last file-bearing webhook request: an edit of the original
        response, or a followup (a new message). ``file_requests`` lists every file-bearing one
        per token, with its arrival time (``bench.stream`` matches partial images to them).
        """
        callbacks: dict[int, float] = {}
        # token -> (file sizes, arrival, kind, seconds reading the body) per file-bearing request
        files: dict[str, list[tuple[list[int], float, str, float]]] = collections.defaultdict(list)
        last_text: dict[str, str] = {}
        kinds: collections.Counter[str] = collections.Counter()
        with self._lock:
            for rec in self.requests:
                ok = 200 <= rec.status < 300
                arrived = getattr(rec, "arrived", 0.0)
                token, kind = None, f"{rec.method} other"
                if m := _CALLBACK.fullmatch(rec.path):
                    kind = "interaction callback"
                    if ok:
                        callbacks.setdefault(int(m.group(1)), arrived)
                elif m := _ORIGINAL.fullmatch(rec.path):
                    token, kind = m.group(1), f"{rec.method} @original"
                elif rec.method == "POST" and (m := _FOLLOWUP.fullmatch(rec.path)):
                    token, kind = m.group(1), "POST followup"
                kinds[kind + (" with files" if rec.files else "")] += 1
                if token is None or not ok:
                    continue
                if rec.files:
                    sizes = [f.size for f in rec.files]
                    files[token].append((sizes, arrived, kind, getattr(rec, "read", 0.0)))
                elif isinstance(rec.json, dict):
                    embeds = rec.json.get("embeds") or [{}]
                    last_text[token] = str(embeds[0].get("description", ""))[:200]
            errors = [str(e) for e in self.errors]
        return {
            "callbacks": callbacks,
            "delivered": {token: sent[-1][0] for token, sent in files.items()},
            "file_requests": {t: [(k, at) for _, at, k, _ in sent] for t, sent in files.items()},
            "last_text": last_text,
            "upload_reads": [sent[-1][3] for sent in files.values()],
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

    def register(self, payload: dict[str, Any]) -> None:
        """Make one interaction known to the child only: a long load must not grow the harness's
        own fake, which lives in the bot's process."""
        self._conn.send(("interaction", payload))

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
    # The load's interactions are built before the clock starts, so their ids are older than
    # their dispatch: the bench times the first answer itself (its 2 s target) instead.
    fake = BenchDiscord(token=token, answer_window=None)
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
