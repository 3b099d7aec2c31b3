"""The whole bot on PostgreSQL: a job end to end, and recovery that spares other processes' jobs.

More crash recovery, on both backends, is in test_e2e_recovery.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import open_store
from bot.store.models import NewJob, QuotaPolicy
from tests.fakes.bot_env import bot_env
from tests.fakes.stores import fresh_postgres_database


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    async with fresh_postgres_database() as url:
        yield url


async def test_a_job_runs_and_is_charged_on_postgres(tmp_path: Path, database_url: str) -> None:
    async with bot_env(tmp_path, database_url=database_url) as env:
        guild, user = env.harness.guild_id, env.harness.user_id
        await env.store.save_quota_policy(QuotaPolicy(guild, user_limit=4))
        first = await env.harness.slash("imagine", {"prompt": "a fox", "model": "gpt-image-1"})
        assert len(first.result["attachments"]) == 1
        refused = await env.harness.slash("imagine", {"prompt": "again", "model": "gpt-image-1"})
        assert "4 of your 4 credits" in refused.text
        jobs = await env.store.recent_jobs(guild)
        assert [(j.status, j.error_kind, j.credits) for j in jobs] == [
            ("failed", "quota", 0),
            ("succeeded", None, 4),
        ]
        usage = await env.bot.services.quotas.member_usage(guild, user, ())
        assert usage.member.used == 4
        assert len(env.api.image_requests) == 1


async def test_start_up_on_a_shared_database_spares_another_processes_live_job(
    tmp_path: Path, database_url: str
) -> None:
    other = await open_store(database_url)  # a live process on another machine
    try:
        await other.register_process()
        live = await other.create_job(NewJob(1, 2, 3, "generate", "gpt-image-1", "live"))
        async with bot_env(tmp_path, database_url=database_url) as env:
            job = await env.store.get_job(1, live.id)
            assert job is not None and job.status == "queued"
            # The bot holds its own lease beside the other process's.
            await other.forget_expired_processes()
            assert await other.renew_process() and await env.store.renew_process()
    finally:
        await other.close()
