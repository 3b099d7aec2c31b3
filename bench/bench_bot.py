"""Load benchmark of the whole bot: N members at once, each with one /imagine (a share /edit).

Run: ``.venv/bin/python bench/bench_bot.py [--n 200[,1000...]] [--latency 2.0]
[--concurrency 16] [--edit-share 0.1] [--processes N] [--profile FILE] [--default-gc]``; several
sizes run one after the other, each with fresh fakes and a fresh bot, one table each. The real ImageBot (with its process pool) runs in this
process against the test fakes, which run in child processes of their own: the fake Images API
(``noisy``: incompressible ~3 MB PNGs) and the fake Discord. So CPU and memory are the bot's alone.
The collector is tuned as ``python -m bot`` tunes it (``--default-gc``: left alone).
Prints a table per size, each figure beside its target; exits 1 only when a job was not delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import importlib.machinery
import json
import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import discord.http

from bench import stream as stream_bench
from bench.bench_prepare import DALL_E_2
from bench.common import (
    MB,
    SPAWN,
    ApiProcess,
    DiscordProcess,
    Sampler,
    descendants,
    proc_cpu,
    proc_peak_rss,
    proc_rss,
    reset_peak_rss,
    thread_cpu,
    time_prepare,
)
from bot.__main__ import tune_gc
from bot.app import ImageBot, create_bot
from bot.images.prepare import prepare_inputs
from bot.images.types import RawImage
from bot.store.models import QuotaPolicy
from tests.fakes.bot_env import DISCORD_TOKEN, make_settings
from tests.fakes.discord_harness import BotHarness
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import TEST_API_KEY

IMAGINE_MODEL = "gpt-image-1"
EDIT_MODEL = "dall-e-2"
FLOOR_SAMPLES = 32  # per measurement; the imagine floor is measured before and after the load


@dataclass
class Options:
    n: int = 200
    latency: float = 2.0
    concurrency: int = 16
    edit_share: float = 0.1
    processes: int | None = None  # None: the bot's default pool
    profile: str | None = None  # write a cProfile of the event-loop thread during the load here
    stream: bool = False  # partial images streamed (bench.stream; needs the streaming work)

    @property
    def edits(self) -> int:
        return 0 if self.edit_share <= 0 else min(self.n, max(1, round(self.n * self.edit_share)))


@dataclass
class Figures:
    """Everything the table shows."""

    opts: Options
    pool: int = 0
    wall: float = 0.0
    deferrals: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    cpu: float = 0.0
    cpu_main: float = 0.0  # of which this process (the rest: the pool)
    cpu_threads: dict[str, float] = field(default_factory=dict)  # this process's, by thread
    floor_imagine: float = 0.0
    floor_edit: float = 0.0
    floor_parse: float = 0.0  # of floor_imagine: JSON and base64
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    peak_rss: int = 0
    peak_parts: list[int] = field(default_factory=list)  # main, then each child of the bot
    rss: dict[str, int | None] = field(default_factory=dict)
    prepare: tuple[float, float] = (0.0, 0.0)
    upload_reads: list[float] = field(default_factory=list)  # how long Discord took to read each
    partial_delays: list[float] = field(default_factory=list)  # --stream: partial -> its edit
    partials: tuple[int, int] = (0, 0)  # --stream: sent, never shown before the result


class Fakes:
    """The two fake servers in their child processes."""

    def __init__(self, latency: float, stream: bool = False) -> None:
        self.api = ApiProcess(latency=latency, options=stream_bench.API_OPTIONS if stream else None)
        self.discord = DiscordProcess(DISCORD_TOKEN)
        self.api_url = self.api.ready()
        self.discord_url = self.discord.ready()

    def bot_pids(self) -> list[int]:
        """This process's descendants except the fakes: the bot's pool and its forkserver."""
        fakes = {self.api.process.pid or 0, self.discord.process.pid or 0}
        return descendants(os.getpid(), exclude=fakes)

    def stop(self) -> None:
        self.discord.stop()
        self.api.stop()


# --- the load ------------------------------------------------------------------------------------


async def lag_probe(lags: list[float], stop: asyncio.Event) -> None:
    """Sleep 10 ms in a loop; record how late each wake-up is."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.010)
        lags.append(time.perf_counter() - start - 0.010)


Load = list[tuple[dict[str, Any], str]]  # (INTERACTION_CREATE payload, its prompt) per member


def prepare_load(
    harness: BotHarness, members: list[int], photo: dict[str, Any], edits: int
) -> Load:
    """One interaction per member, built and registered with both fakes before the clock starts.

    Building payloads and piping them to the fake Discord child is the benchmark's work, not the
    bot's: done here, outside the measured window, as a gateway would have done it elsewhere.
    """
    every = len(members) / edits if edits else math.inf
    load: Load = []
    for index, member in enumerate(members):
        if index % every < 1:
            prompt = f"add a hat {index}"
            payload = harness.slash_payload(
                "edit", {"prompt": prompt, "model": EDIT_MODEL}, attachments={"image": photo},
                user=member,
            )  # fmt: skip
        else:
            prompt = f"a red fox, number {index}"
            payload = harness.slash_payload("imagine", {"prompt": prompt}, user=member)
        harness.fake.register_interaction(payload)
        load.append((payload, prompt))
    return load


async def fire(
    harness: BotHarness, load: Load
) -> tuple[dict[int, tuple[str, float, str]], set[asyncio.Task[Any]]]:
    """Hand each interaction to the bot's parser, yielding to the loop between them (a burst).

    Returns each interaction's token, when it was sent and its prompt, by interaction id; and
    the tasks to wait for: each interaction runs in one discord.py task until its job is
    delivered (or refused).
    """
    sent: dict[int, tuple[str, float, str]] = {}
    for payload, prompt in load:
        sent[int(payload["id"])] = (str(payload["token"]), time.monotonic(), prompt)
        harness.dispatch("INTERACTION_CREATE", payload)
        await asyncio.sleep(0)
    tasks = {t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"}
    return sent, tasks


async def run_load(
    figures: Figures,
    fakes: Fakes,
    harness: BotHarness,
    bot: ImageBot,
    members: list[int],
    photo: dict[str, Any],
) -> None:
    """Fire N interactions at once and wait until every job was delivered (or failed)."""
    opts = figures.opts
    load = prepare_load(harness, members, photo, opts.edits)
    sampler = Sampler(bot.services.providers.operator.queue, fakes.bot_pids)
    peak_reset = reset_peak_rss(os.getpid())
    figures.rss["idle"] = sampler.measure()
    figures.rss["main idle"] = proc_rss(os.getpid())
    stop = asyncio.Event()
    probe = asyncio.create_task(lag_probe(figures.lags, stop))
    sampler.start()
    earlier = fakes.discord.call("report")["kinds"]
    pool_cpu = {pid: proc_cpu(pid) for pid in fakes.bot_pids()}
    profiler = cProfile.Profile(time.thread_time) if opts.profile else None
    if profiler is not None:
        profiler.enable()
    threads = thread_cpu()
    cpu, start = time.process_time(), time.monotonic()
    sent, tasks = await fire(harness, load)
    if tasks:
        await asyncio.wait(tasks)
    figures.wall = time.monotonic() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(opts.profile)
    pids = fakes.bot_pids()
    after = thread_cpu()
    figures.cpu_threads = {k: v - threads.get(k, 0.0) for k, v in after.items()}
    # The sampler is this benchmark's, not the bot's: its thread's CPU is left out.
    figures.cpu_main = time.process_time() - cpu - figures.cpu_threads.get(sampler.name, 0.0)
    figures.cpu = figures.cpu_main + sum(proc_cpu(pid) - pool_cpu.get(pid, 0.0) for pid in pids)
    stop.set()
    await probe
    sampler.stop()
    own_peak = proc_peak_rss(os.getpid()) if peak_reset else 0
    own_peak = own_peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    figures.peak_parts = [own_peak] + [proc_peak_rss(pid) for pid in pids]
    figures.peak_rss = sum(figures.peak_parts)
    figures.rss["sampled peak"] = sampler.at(lambda running, queued: True)
    figures.rss["main sampled peak"] = sampler.main_peak()
    figures.rss["in flight + queued"] = sampler.at(lambda running, queued: queued > 0)
    figures.rss["in flight, none queued"] = sampler.at(lambda r, queued: r > 0 and queued == 0)
    figures.failures += [repr(t.exception()) for t in tasks if not t.cancelled() and t.exception()]
    figures.failures += harness.errors
    report = fakes.discord.call("report")
    collect(figures, report, sent)
    figures.requests = {k: v - earlier.get(k, 0) for k, v in figures.requests.items()}
    if opts.stream:
        partials = fakes.api.call("partials")
        token_of = {prompt: token for token, _, prompt in sent.values()}
        figures.partial_delays, unshown = stream_bench.partial_delays(
            partials, report["file_requests"], token_of
        )
        figures.partials = (len(partials), unshown)


def collect(
    figures: Figures, report: dict[str, Any], sent: dict[int, tuple[str, float, str]]
) -> None:
    """Deferral times and deliveries of the load's interactions, from the fake Discord's log."""
    figures.requests = report["kinds"]
    figures.upload_reads = report["upload_reads"]
    figures.failures += report["errors"]
    for interaction_id, (token, at, _) in sent.items():
        seen = report["callbacks"].get(interaction_id)
        if seen is None:
            figures.failures.append(f"interaction {interaction_id} was never answered")
        else:
            figures.deferrals.append(seen - at)
        files = report["delivered"].get(token, [])
        if not files:
            shown = report["last_text"].get(token, "")
            figures.failures.append(
                f"interaction {interaction_id} got no image; it shows {shown!r}"
            )
        figures.delivered += len(files)


# --- the floor: the least any bot must do per image ----------------------------------------------


async def floor_cpu(
    fakes: Fakes, channel_id: int, photo: dict[str, Any], edits: bool, stream: bool = False
) -> tuple[float, float]:
    """CPU seconds per image of: POST to the API, JSON parse, base64 decode, upload to Discord.

    For an edit the floor also downloads the photo, prepares it (the bot's own function) and
    uploads it to the API. Streamed (``--stream``), it reads the events and decodes and uploads
    every partial image too: showing them is the feature. The bot is idle meanwhile; the fakes
    answer at once. Also returns the part spent parsing and decoding.
    """
    fakes.api.call("latency", 0.0)
    fakes.api.call("partial_delay", 0.0)  # CPU is what counts here, not the wait
    auth = {"Authorization": f"Bearer {TEST_API_KEY}"}
    parsing = 0.0

    async def one(session: aiohttp.ClientSession) -> None:
        if edits:
            async with session.get(photo["url"]) as resp:
                raw = await resp.read()
            prepared = prepare_inputs([RawImage(raw, "photo.jpg")], None, DALL_E_2)
            form = aiohttp.FormData()
            for key, value in (("model", EDIT_MODEL), ("prompt", "a hat")):
                form.add_field(key, value)
            form.add_field("response_format", "b64_json")
            form.add_field("image", prepared.images[0].data, filename="photo.png",
                           content_type="image/png")  # fmt: skip
            request = session.post(f"{fakes.api_url}/images/edits", data=form, headers=auth)
        else:
            json_body: dict[str, Any] = {"model": IMAGINE_MODEL, "prompt": "a red fox"}
            json_body["size"] = "1024x1024"
            if stream:
                json_body.update(stream=True, partial_images=stream_bench.PARTIAL_IMAGES)
            url = f"{fakes.api_url}/images/generations"
            request = session.post(url, json=json_body, headers=auth)
        async with request as resp:
            body = await resp.read()
        nonlocal parsing
        started = time.thread_time()
        if stream and not edits:
            images = [
                base64.b64decode(json.loads(line[6:])["b64_json"])
                for event in body.split(b"\n\n")
                for line in event.split(b"\n")
                if line.startswith(b"data: ")
            ]
        else:
            images = [base64.b64decode(json.loads(body)["data"][0]["b64_json"])]
        parsing += time.thread_time() - started
        for image in images:
            await upload(session, fakes.discord_url, channel_id, image)

    async with aiohttp.ClientSession() as session:
        await one(session)  # warm: connections, imports
        samples = 8 if edits else FLOOR_SAMPLES
        cpu, parsing = time.process_time(), 0.0
        for _ in range(samples // 4):
            await asyncio.gather(*(one(session) for _ in range(4)))
        return (time.process_time() - cpu) / samples, parsing / samples


async def upload(session: aiohttp.ClientSession, base: str, channel_id: int, image: bytes) -> None:
    """A message with one PNG, as a multipart upload (discord.py's shape)."""
    form = aiohttp.FormData()
    message = {"content": "floor", "attachments": [{"id": 0, "filename": "floor.png"}]}
    form.add_field("payload_json", json.dumps(message), content_type="application/json")
    form.add_field("files[0]", image, filename="floor.png", content_type="image/png")
    headers = {"Authorization": f"Bot {DISCORD_TOKEN}"}
    async with session.post(
        f"{base}/channels/{channel_id}/messages", data=form, headers=headers
    ) as r:
        if r.status != 200:
            raise RuntimeError(f"floor upload refused: {r.status} {await r.text()}")


# --- the run -------------------------------------------------------------------------------------


async def with_bot(
    opts: Options,
    fakes: Fakes,
    body: Callable[[BotHarness, ImageBot, list[int]], Awaitable[None]],
) -> None:
    """A logged-in bot whose Discord is the child's fake (the harness's own fake only sets up)."""
    with tempfile.TemporaryDirectory() as tmp:
        api = SimpleNamespace(base_url=fakes.api_url)
        settings = make_settings(
            Path(tmp),
            api,  # type: ignore[arg-type]
            max_concurrent_requests=opts.concurrency,
            queue_size=max(opts.n, 1),
            request_timeout=max(30.0, 5 * opts.latency),
            **(stream_bench.SETTINGS if opts.stream else {}),
        )
        async with (
            FakeDiscord(token=DISCORD_TOKEN) as setup_fake,
            create_bot(settings, attachment_hosts={"127.0.0.1"}, processes=opts.processes) as bot,
        ):
            harness = await BotHarness.start(bot, setup_fake, settle_timeout=60 + opts.latency)
            try:
                members = [await harness.add_member(f"member{i}") for i in range(opts.n)]
                await bot.services.store.save_quota_policy(
                    QuotaPolicy(harness.guild_id, user_limit=None, max_in_flight=None)
                )
                fakes.discord.mirror(setup_fake)
                fakes.discord.forward_interactions(setup_fake)
                discord.http.Route.BASE = fakes.discord_url
                await body(harness, bot, members)
            finally:
                discord.http.Route.BASE = setup_fake.api_url
                await harness.close()


async def run(opts: Options) -> Figures:
    """Set up, warm up, load, then measure the floor and the 12 MP preparation."""
    figures = Figures(opts)
    fakes = Fakes(opts.latency, opts.stream)
    try:

        async def body(harness: BotHarness, bot: ImageBot, members: list[int]) -> None:
            photo = fakes.discord.call("photo", harness.channel_id)
            # Warm-up, as any running bot is: imports, connections, the pool's workers.
            await harness.slash("imagine", {"prompt": "warm-up"})
            await harness.slash(
                "edit", {"prompt": "warm-up", "model": EDIT_MODEL}, attachments={"image": photo}
            )
            figures.pool = len(fakes.bot_pids())
            before = await floor_cpu(fakes, harness.channel_id, photo, False, opts.stream)
            # Streamed, the partials come during the API's time, as from the real one.
            streaming = stream_bench.STREAM_SECONDS if opts.stream else 0.0
            fakes.api.call("latency", max(0.0, opts.latency - streaming))
            if opts.stream:
                fakes.api.call("partial_delay", stream_bench.PARTIAL_DELAY)
            await run_load(figures, fakes, harness, bot, members, photo)
            after = await floor_cpu(fakes, harness.channel_id, photo, False, opts.stream)
            figures.floor_imagine = (before[0] + after[0]) / 2
            figures.floor_parse = (before[1] + after[1]) / 2
            if opts.edits:
                figures.floor_edit = (await floor_cpu(fakes, harness.channel_id, photo, True))[0]

        await with_bot(opts, fakes, body)
    finally:
        fakes.stop()
    with ProcessPoolExecutor(1, mp_context=SPAWN) as executor:
        figures.prepare = await asyncio.get_running_loop().run_in_executor(executor, time_prepare)
    return figures


# --- the table -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values, in ms."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


def table(f: Figures) -> str:
    """The figures, each beside its target."""
    o = f.opts
    imagines = o.n - o.edits
    floor = (imagines * f.floor_imagine + o.edits * f.floor_edit) / max(o.n, 1)
    cpu_each = f.cpu / max(f.delivered, 1)
    ratio = cpu_each / floor if floor else math.nan
    ideal = math.ceil(o.n / o.concurrency) * o.latency
    over = (f.wall / ideal - 1) * 100
    lag99, lag_max = pct(f.lags, 99), max(f.lags, default=0) * 1000
    d50, d99 = pct(f.deferrals, 50), pct(f.deferrals, 99)
    rss = {k: "-" if v is None else f"{v / MB:.0f}" for k, v in f.rss.items()}
    rows = [
        # The first answer is the public progress, after every check (issue 9); checks slower
        # than 2 s get a private "thinking…" first, inside Discord's 3-second window.
        ("interaction -> first answer p50 / p99", f"{d50:.0f} / {d99:.0f} ms "
         f"({f.requests.get('POST followup', 0)} slow)", "p99 < 2000 ms",
         d99 < 2000),
        ("event-loop lag p99 / worst", f"{lag99:.1f} / {lag_max:.0f} ms",
         "p99 < 20, worst < 100 ms", lag99 < 20 and lag_max < 100),
        ("bot CPU per delivered image", f"{cpu_each * 1000:.1f} ms = {ratio:.2f} x floor",
         "<= 1.3 x floor", ratio <= 1.3),
        ("  of which main process / pool", f"{f.cpu_main / max(f.delivered, 1) * 1000:.1f} / "
         f"{(f.cpu - f.cpu_main) / max(f.delivered, 1) * 1000:.1f} ms", "", None),
        ("  floor per image: imagine (parsing) / edit",
         f"{f.floor_imagine * 1000:.1f} ({f.floor_parse * 1000:.1f}) / "
         f"{f.floor_edit * 1000:.0f} ms", "", None),
        ("peak RSS, bot + pool", f"{f.peak_rss / MB:.0f} MB", "< 300 MB", f.peak_rss < 300 * MB),
        ("  peak RSS of main + each child", " + ".join(f"{b / MB:.0f}" for b in f.peak_parts)
         + " MB", "", None),
        ("  RSS of main: idle / sampled peak", f"{rss['main idle']} / {rss['main sampled peak']} MB",
         "", None),
        ("  RSS idle / in flight + queued / none queued",
         f"{rss['idle']} / {rss['in flight + queued']} / {rss['in flight, none queued']} MB",
         "", None),
        ("wall time", f"{f.wall:.1f} s vs ideal {ideal:.1f} s ({over:+.1f} %)", "within 10 %",
         over <= 10),
        *([stream_bench.row(f.partial_delays, f.partials[1], f.partials[0])] if o.stream else []),
        ("12 MP photo -> dall-e-2 edit input", f"median {f.prepare[0]:.0f}, worst "
         f"{f.prepare[1]:.0f} ms", "median < 250 ms", f.prepare[0] < 250),
    ]  # fmt: skip
    head = (
        f"bench_bot: {o.n} members at once ({imagines} /imagine {IMAGINE_MODEL}, {o.edits} /edit "
        f"{EDIT_MODEL} of a 12 MP JPEG), API latency {o.latency:g} s, {o.concurrency} requests "
        f"at once, {f.pool} child processes of the bot; delivered {f.delivered}/{o.n} images"
    )
    width = max(len(r[0]) for r in rows) + 2
    lines = [head, "", f"{'figure':<{width}}{'measured':<40}{'target':<26}ok"]
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        lines.append(f"{name:<{width}}{value:<40}{target:<26}{mark}")
    calls = ", ".join(f"{k} {v}" for k, v in sorted(f.requests.items()))
    per_thread = ", ".join(
        f"{name} {cpu:.1f}" for name, cpu in sorted(f.cpu_threads.items(), key=lambda kv: -kv[1])
    )
    reads = f"{pct(f.upload_reads, 50):.0f} / {pct(f.upload_reads, 99):.0f} ms"
    lines += [
        "",
        f"Discord requests: {calls}; reading an upload took p50 / p99 {reads}",
        f"main process CPU s by thread: {per_thread}",
    ]
    lines += [f"FAILED: {failure}" for failure in f.failures[:10]]
    return "\n".join(lines)


def parse(argv: list[str] | None) -> tuple[list[Options], bool]:
    """One Options per size asked for; and whether to leave the collector untuned."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="200", help="members, one job each (200,1000: both)")
    parser.add_argument("--latency", type=float, default=2.0, help="API seconds per request")
    parser.add_argument("--concurrency", type=int, default=16, help="API requests at once")
    parser.add_argument("--edit-share", type=float, default=0.1, help="share of /edit jobs")
    parser.add_argument("--processes", type=int, default=None, help="pool size (bot default)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the loop thread's load")
    parser.add_argument("--default-gc", action="store_true", help="don't tune the collector")
    parser.add_argument("--stream", action="store_true", help="partial images (bench/stream.py)")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.n.split(",")]
    profile = (lambda n: args.profile) if len(sizes) == 1 else (lambda n: f"{args.profile}.{n}")
    return [
        Options(n, args.latency, args.concurrency, args.edit_share, args.processes,
                profile(n) if args.profile else None, args.stream)
        for n in sizes
    ], args.default_gc  # fmt: skip


def look_like_python_m() -> None:
    """Keep the pool's workers as small as in production.

    Workers import the main module by its path, unless it is a package's ``__main__`` (as with
    ``python -m bot``): then multiprocessing leaves it alone. This script would drag discord.py,
    the fakes and itself into every worker, so it names itself like a ``__main__`` module.
    """
    sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("bench.__main__", None)


def main(argv: list[str] | None = None) -> int:
    look_like_python_m()
    runs, default_gc = parse(argv)
    if not default_gc:
        tune_gc()
    failed = False
    for index, opts in enumerate(runs):
        figures = asyncio.run(run(opts))
        print(("\n" if index else "") + table(figures), flush=True)
        failed = failed or bool(figures.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
