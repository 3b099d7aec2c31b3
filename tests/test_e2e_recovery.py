"""The whole bot recovering from crashes, on SQLite and PostgreSQL.

Other bot processes are Stores on the same database with their leases: one that was killed leaves
its row, its job running and its credits held; a live one keeps renewing its lease.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.store import QuotaPolicy, Store, open_store
from bot.store.lease import ProcessLease
from bot.store.lockfile import folder_token
from bot.store.processes import LEASE_SECONDS
from tests.fakes.bot_env import DISCORD_TOKEN, BotEnv, bot_env
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeImagesServer
from tests.fakes.stores import BACKENDS, ManualClock, fresh_postgres_database, held_job
from tests.waiting import wait_until

IMAGINE_PRICE = 4  # gpt-image-1, 1024x1024, medium


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The bot's SQLite file, or a fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'bot.sqlite3'}"
        return
    async with fresh_postgres_database() as url:
        yield url


async def start_job(
    store: Store, guild: int, channel: int, user: int, clock: ManualClock | None = None
) -> int:
    """What another process's JobRunner leaves mid-job: a running job with 4 credits held."""
    held = await held_job(store, guild, channel, user, clock=clock, expires_at=time.time() + 600)
    assert held.job_id is not None
    return held.job_id


async def member_state(env: BotEnv, guild: int, user: int) -> tuple[int, int]:
    """(credits used today, jobs in flight) as /usage would tell the member."""
    usage = await env.bot.services.quotas.member_usage(guild, user, ())
    return usage.member.used, usage.in_flight


def notices(fake: FakeDiscord, channel: int) -> list[str]:
    return [r.json["content"] for r in fake.requests_to("POST", f"/channels/{channel}/messages")]


async def test_a_restart_makes_a_killed_processes_member_whole_and_spares_a_live_process(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "data"
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        async with bot_env(tmp_path, api=api, discord_fake=fake, database_url=database_url) as env:
            guild, channel = env.harness.guild_id, env.harness.channel_id
            user, other_user = env.harness.user_id, env.harness.moderator_id
            await env.store.save_quota_policy(QuotaPolicy(guild, user_limit=4))
        # Killed a moment ago on this machine: its lease is fresh but its lock file is free.
        dead = await open_store(database_url)
        await dead.register_process(await asyncio.to_thread(folder_token, folder))
        dead_job = await start_job(dead, guild, channel, user)
        await dead.close()
        live = await open_store(database_url)
        lease = ProcessLease(live, folder)
        await lease.start()
        try:
            live_job = await start_job(live, guild, channel, other_user)
            async with bot_env(
                tmp_path, api=api, discord_fake=fake, database_url=database_url
            ) as env:
                assert await member_state(env, guild, user) == (0, 0)  # not "4 of your 4"
                (notice,) = notices(fake, channel)
                assert notice.startswith(f"<@{user}>") and "interrupted by a restart" in notice
                job = await env.store.get_job(guild, dead_job)
                assert job is not None and (job.status, job.error_kind) == ("failed", "interrupted")
                spared = await env.store.get_job(guild, live_job)
                assert spared is not None and spared.status == "running"
                assert await member_state(env, guild, other_user) == (4, 1)
        finally:
            await lease.stop()
            await live.close()


async def test_the_sweep_makes_good_a_process_that_dies_while_the_bot_runs(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.app, "SWEEP_SECONDS", 0.05)
    async with bot_env(tmp_path, database_url=database_url) as env:
        guild, channel, user = env.harness.guild_id, env.harness.channel_id, env.harness.user_id
        # On another machine (no lock file here), its last heartbeat just past the lease.
        clock = ManualClock(time.time() - LEASE_SECONDS - 1)
        dead = await open_store(database_url, clock=clock)
        await dead.register_process()
        dead_job = await start_job(dead, guild, channel, user, clock)
        await dead.close()
        await wait_until(lambda: bool(notices(env.discord, channel)))
        # The dead process may have reserved its credits just after a sweep refunded stale
        # reservations: the next sweep gives them back.
        for _ in range(100):
            if await member_state(env, guild, user) == (0, 0):
                break
            await asyncio.sleep(0.02)
        assert await member_state(env, guild, user) == (0, 0)
        job = await env.store.get_job(guild, dead_job)
        assert job is not None and (job.status, job.error_kind) == ("failed", "interrupted")


def failing(times: int | None, settle: Callable[..., Any]) -> tuple[Callable[..., Any], list[int]]:
    """``settle`` that fails its first ``times`` calls (None: every call) like a lost database."""
    calls: list[int] = []

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if times is None or len(calls) <= times:
            raise ConnectionResetError("the database went away")
        return await settle(*args, **kwargs)

    return wrapper, calls


async def test_a_charge_that_fails_once_after_delivery_is_retried_and_made_once(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path, database_url=database_url) as env:
        guild, user = env.harness.guild_id, env.harness.user_id
        env.bot.services.jobs.settle_retry_delays = (0.0, 0.0, 0.0)
        wrapper, calls = failing(1, env.store.settle_reservation)
        monkeypatch.setattr(env.store, "settle_reservation", wrapper)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert len(record.files) == 1 and "wrong" not in record.text
        assert len(calls) == 2
        assert await member_state(env, guild, user) == (IMAGINE_PRICE, 0)
        (charge,) = await env.store.charges(guild, 0, time.time() + 60)
        assert charge.charged == IMAGINE_PRICE
        (job,) = await env.store.recent_jobs(guild)
        assert (job.status, job.credits) == ("succeeded", IMAGINE_PRICE)


async def test_a_delivered_job_whose_charge_never_settled_is_charged_at_restart_not_announced(
    tmp_path: Path, database_url: str
) -> None:
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        async with bot_env(tmp_path, api=api, discord_fake=fake, database_url=database_url) as env:
            guild, channel, user = env.harness.guild_id, env.harness.channel_id, env.harness.user_id
            env.bot.services.jobs.settle_retry_delays = (0.0, 0.0, 0.0)
            wrapper, calls = failing(None, env.store.settle_reservation)
            env.store.settle_reservation = wrapper  # type: ignore[method-assign]  # never restored
            record = await env.harness.slash("imagine", {"prompt": "a fox"})
            assert len(record.files) == 1 and len(calls) == 4
        async with bot_env(tmp_path, api=api, discord_fake=fake, database_url=database_url) as env:
            assert await member_state(env, guild, user) == (IMAGINE_PRICE, 0)
            (charge,) = await env.store.charges(guild, 0, time.time() + 60)
            assert (charge.charged, charge.images) == (IMAGINE_PRICE, 1)
            (job,) = await env.store.recent_jobs(guild)
            assert (job.status, job.credits) == ("succeeded", IMAGINE_PRICE)
            assert notices(fake, channel) == []
