"""SIGTERM: running jobs finish within the grace period, queued ones are refunded and told, exit 0."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.scheduler import JobCancelled
from bot.shutdown import RESTART_CANCELLED, RESTART_STOPPED, RESTARTING, Drain, on_signals
from tests.fakes.bot_env import DISCORD_TOKEN, BotEnv, bot_env
from tests.fakes.discord_harness import HarnessError, InteractionRecord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer
from tests.test_health import free_port, get
from tests.waiting import wait_until

NOTHING_CHARGED = "Nothing was charged for this."


async def health_status(port: int, seconds: float = 30.0) -> int:
    """/healthz's status once the port listens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            return (await get(port, "/healthz"))[0]
        except aiohttp.ClientConnectionError:
            assert loop.time() < deadline, f"nothing listened on port {port}"
            await asyncio.sleep(0.1)


def delivered_to(record: InteractionRecord) -> bool:
    try:
        return bool(record.result["attachments"])
    except HarnessError:
        return False


async def start_jobs(env: BotEnv, count: int) -> list[InteractionRecord]:
    """``count`` /imagine jobs from members two at a time (a member may have two in flight)."""
    h = env.harness
    members = [h.user_id, *[await h.add_member(f"member {n}") for n in range(count // 2)]]
    return [
        await h.slash("imagine", {"prompt": f"fox {n}"}, user=members[n // 2], settle=False)
        for n in range(count)
    ]


async def sigterm(env: BotEnv) -> float:
    """Send this process SIGTERM with the bot's handlers installed; seconds until it closed."""
    loop = asyncio.get_running_loop()
    bot = env.bot
    async with on_signals(functools.partial(bot.shutdown, env.settings.shutdown_grace)):
        started = loop.time()
        os.kill(os.getpid(), signal.SIGTERM)
        await wait_until(bot.is_closed, 20)
    return loop.time() - started


async def statuses(env: BotEnv, count: int) -> list[str]:
    jobs = [await env.store.get_job(env.harness.guild_id, n) for n in range(1, count + 1)]
    return [job.status if job else "missing" for job in jobs]


async def nothing_held(env: BotEnv, records: list[InteractionRecord]) -> None:
    """Every member paid for exactly their delivered jobs and holds no credits any more."""
    h = env.harness
    for member in {int(r.payload["member"]["user"]["id"]) for r in records}:
        usage = await env.bot.services.quotas.member_usage(h.guild_id, member, ())
        jobs = await env.store.recent_jobs(h.guild_id, 10, member)
        paid = sum(job.credits for job in jobs if job.status == "succeeded")
        assert usage.in_flight == 0 and usage.member.used == paid


async def test_sigterm_delivers_the_running_and_refunds_and_tells_the_queued(
    tmp_path: Path,
) -> None:
    grace = 10.0
    async with bot_env(tmp_path, max_concurrent_requests=3, shutdown_grace=grace) as env:
        env.api.latency = 1.0
        queue = env.bot.services.providers.operator.queue
        records = await start_jobs(env, 8)
        await wait_until(lambda: len(env.api.image_requests) == 3 and queue.queued == 5)

        async def late_member() -> InteractionRecord:
            await wait_until(lambda: env.bot.services.jobs.drain.closing)
            return await env.harness.slash("imagine", {"prompt": "too late"})

        late = asyncio.create_task(late_member())
        took = await sigterm(env)

        assert took < grace
        assert sorted(await statuses(env, 8)) == ["cancelled"] * 5 + ["succeeded"] * 3
        delivered = []
        for record in records:
            if delivered_to(record):
                delivered.append(record)
            else:
                assert str(RESTART_CANCELLED) in record.failure_text
                assert NOTHING_CHARGED in record.failure_text
                assert record.original is None  # the public "in the queue" message went away
        assert len(delivered) == 3
        assert len(env.api.image_requests) == 3  # the queued never reached the API
        await nothing_held(env, records)
        refused = await late
        assert str(RESTARTING) in refused.failure_text and NOTHING_CHARGED in refused.failure_text
        assert await env.store.get_job(env.harness.guild_id, 9) is None  # nothing was stored
        env.harness.assert_clean()


async def test_jobs_still_running_after_the_grace_period_are_stopped_refunded_and_told(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=2, shutdown_grace=0.5) as env:
        env.api.latency = 60.0  # an API that won't answer before the bot must go
        queue = env.bot.services.providers.operator.queue
        records = await start_jobs(env, 3)
        await wait_until(lambda: len(env.api.image_requests) == 2 and queue.queued == 1)

        took = await sigterm(env)

        assert took < 5
        assert await statuses(env, 3) == ["cancelled"] * 3
        texts = sorted(record.failure_text for record in records)
        assert sum(str(RESTART_STOPPED) in text for text in texts) == 2
        assert sum(str(RESTART_CANCELLED) in text for text in texts) == 1
        assert all(NOTHING_CHARGED in text for text in texts)
        assert all(record.failure["components"] for record in records)  # Try again
        await nothing_held(env, records)
        env.harness.assert_clean()


async def test_a_second_signal_exits_at_once() -> None:
    stopping = asyncio.Event()
    forced: list[int] = []

    async def stop() -> None:
        stopping.set()
        await wait_until(lambda: forced)

    async with on_signals(stop, force=forced.append):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopping.wait(), 5)
        os.kill(os.getpid(), signal.SIGINT)
        await wait_until(lambda: forced)
    assert forced == [signal.SIGINT.value]


def test_exiting_at_once_reports_the_signal() -> None:
    code = "from bot.shutdown import exit_now; exit_now(15)"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], timeout=60)
    assert done.returncode == 128 + 15


RUN_AGAINST_FAKE = """
import sys
import discord.http
discord.http.Route.BASE = sys.argv[1]
from bot.__main__ import main
sys.exit(main(["run"]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_the_process_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "IMAGEBOT_HOME": str(tmp_path),  # no .env there: nothing of the checkout's is read
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "OPENAI_API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": api.base_url,
            "IMAGEBOT_WORKER_PROCESSES": "0",
            "IMAGEBOT_HTTP_PORT": str(port),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUN_AGAINST_FAKE, fake.api_url,
            cwd=Path(__file__).parents[1], env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await wait_until(lambda: fake.requests_to("GET", "/users/@me"), 60)  # logged in
            # No gateway in the fake: logged in, never connected.
            assert await health_status(port) == 503

            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, output.decode()
        assert b"SIGTERM: shutting down" in output
        assert TEST_API_KEY.encode() not in output and DISCORD_TOKEN.encode() not in output


async def test_a_job_the_shutdown_took_out_of_the_queue_is_told_in_its_members_language() -> None:
    drain = Drain()
    drain.admitted(1)
    drain.close(lambda job_id: False)
    with pytest.raises(JobCancelled) as caught:
        drain.may_queue(1)  # it reached its queue after the shutdown began
    told = drain.stopped(1, caught.value)
    assert told is not None and told.kind == "restarting"
    assert told.render("ru") == (
        "Бот перезапускается, поэтому ваше задание убрано из очереди, не успев начаться. "
        "Попробуйте ещё раз кнопкой через минуту."
    )
    assert str(told) == str(RESTART_CANCELLED)
