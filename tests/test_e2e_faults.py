"""Faults end to end: the Images API and Discord failing in the ways a member runs into.

Each test drives the real bot (discord.py against the fake Discord, the real client against the
fake Images API) and checks what the member saw, that their credits came back, what the job row
says, and that the bot goes on serving the next job.
"""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import time
from pathlib import Path
from typing import Any

import discord
import pytest

import cogs.delivery
from bot.store.models import NewJob
from tests.fakes.bot_env import DISCORD_TOKEN, BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.discord_server import FakeDiscord, RecordedRequest
from tests.fakes.openai_server import FakeImagesServer
from tests.waiting import wait_until

ATTACH_FILES = discord.Permissions(attach_files=True).value
IMAGINE_PRICE = 4  # gpt-image-1, 1024x1024, medium: what a delivered /imagine costs by default


# --- what a member would notice -------------------------------------------------------------


def error_text(record: InteractionRecord) -> str:
    """The private failure message: the public progress is gone, nobody else saw why."""
    assert record.original is None, "the public progress message is still there"
    return record.failure_text


async def last_job(env: BotEnv) -> Any:
    jobs = await env.store.recent_jobs(env.harness.guild_id)
    assert jobs, "no job was stored"
    return jobs[0]


async def used_credits(env: BotEnv, guild_id: int | None = None, user_id: int | None = None) -> int:
    """Credits the member has used this window; in-flight reservations must be zero."""
    usage = await env.bot.services.quotas.member_usage(
        guild_id or env.harness.guild_id, user_id or env.harness.user_id, ()
    )
    assert usage.in_flight == 0, "credits are still reserved"
    return usage.member.used


async def ledger(env: BotEnv, guild_id: int | None = None) -> list[Any]:
    """Committed charges of the guild (refunded reservations are not charges)."""
    return await env.store.charges(guild_id or env.harness.guild_id, 0, time.time() + 60)


async def assert_refunded(env: BotEnv) -> None:
    assert await used_credits(env) == 0
    assert await ledger(env) == []


async def assert_failed(env: BotEnv, error_kind: str) -> None:
    job = await last_job(env)
    assert (job.status, job.error_kind) == ("failed", error_kind)
    assert job.result_message_id is None


async def assert_serves_next(env: BotEnv) -> None:
    """A following /imagine is delivered as usual and charged once."""
    env.api.clear_failures()
    env.api.latency = 0.0
    env.discord.clear_faults()
    before = await used_credits(env)
    record = await env.harness.slash("imagine", {"prompt": "a calm lake"})
    (upload,) = record.files
    assert upload.image().size == (1024, 1024)
    job = await last_job(env)
    assert job.status == "succeeded"
    assert await used_credits(env) == before + IMAGINE_PRICE


async def start_slow_job(env: BotEnv, latency: float = 0.2, **options: Any) -> InteractionRecord:
    """/imagine against a slow API; returns once the job is at the API."""
    env.api.latency = latency
    record = await env.harness.slash("imagine", {"prompt": "a fox"}, settle=False, **options)
    await wait_until(lambda: len(env.api.image_requests) >= 1)
    return record


def original_edits(env: BotEnv, record: InteractionRecord) -> list[RecordedRequest]:
    return env.discord.requests_to("PATCH", f"/webhooks/*/{record.token}/messages/@original")


def result_posts(env: BotEnv, record: InteractionRecord) -> list[RecordedRequest]:
    """The followups sending the result (a new message, so the member is pinged)."""
    return [r for r in env.discord.followups(record.token) if r.files]


# --- Images API faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error_kind", "words", "calls"),
    [
        ("content_policy_violation", "content_rejected", "safety system rejected", 1),
        ("moderation_blocked", "content_rejected", "safety system rejected", 1),
        ("safety_user_error", "content_rejected", "safety system rejected", 1),
        ("invalid_api_key", "auth", "API key was rejected; tell the server owner", 1),
        ("insufficient_quota", "billing", "credits have run out; tell the server owner", 1),
        ("billing_hard_limit", "billing", "credits have run out; tell the server owner", 1),
        ("server_error", "upstream_down", "having trouble", 1),  # may have billed: no retry
        ("unavailable", "upstream_down", "having trouble", 2),  # turned away: retried once
        ("non_json", "upstream_down", "having trouble", 2),  # a gateway's HTML 502 page
        ("truncated_json", "upstream_down", "having trouble", 1),  # connection dropped mid-body
        ("reset", "upstream_down", "having trouble", 1),
        ("truncated_b64", "bad_response", "not a usable image", 1),
        ("invalid_json", "bad_response", "could not read", 1),
        ("url_403", "bad_response", "could not be downloaded", 1),
    ],
)
async def test_api_failure_is_explained_refunded_and_survived(
    tmp_path: Path, kind: str, error_kind: str, words: str, calls: int
) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_always(kind)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert record.callback_type == 4
        assert words in error_text(record)
        assert len(env.api.image_requests) == calls
        await assert_failed(env, error_kind)
        await assert_refunded(env)
        await assert_serves_next(env)


async def test_safety_rejection_is_not_called_a_generic_error(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_next("content_policy_violation")
        record = await env.harness.slash("imagine", {"prompt": "something forbidden"})
        text = error_text(record)
        assert "Try rephrasing" in text
        assert "went wrong" not in text and "try again later" not in text
        # upstream text is never echoed: it can quote the prompt or hold a request id
        reason = text.split("**Your prompt**")[0]
        assert "Request ID" not in text and "something forbidden" not in reason


async def test_rate_limit_once_is_retried_and_charged_once(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_next("rate_limit", retry_after_ms=20)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        (upload,) = record.files
        assert upload.image().size == (1024, 1024)
        assert len(env.api.image_requests) == 2
        assert (await last_job(env)).status == "succeeded"
        assert await used_credits(env) == IMAGINE_PRICE
        assert [c.charged for c in await ledger(env)] == [IMAGINE_PRICE]


async def test_rate_limit_that_persists_tells_when_to_try_again(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_always("rate_limit", retry_after=0.05)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert "try again in 1 s" in error_text(record)
        assert len(env.api.image_requests) == 2  # one retry, after the time it asked for
        await assert_failed(env, "rate_limited")
        await assert_refunded(env)
        await assert_serves_next(env)


@pytest.mark.parametrize(("retry_after", "words"), [(20, "in 20 s"), (120, "in 2 min")])
async def test_rate_limit_names_the_wait_the_service_asked_for(
    tmp_path: Path, retry_after: int, words: str
) -> None:
    async with bot_env(tmp_path, max_retries=0) as env:
        env.api.fail_next("rate_limit", retry_after=retry_after)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert f"try again {words}" in error_text(record)
        await assert_failed(env, "rate_limited")
        await assert_refunded(env)


async def test_rate_limit_without_retry_after(tmp_path: Path) -> None:
    # No retry here: a 429 that names no wait is retried only after a long backoff (seconds,
    # so as not to multiply a gateway's own retries); tests/test_client.py covers that wait.
    async with bot_env(tmp_path, max_retries=0) as env:
        env.api.fail_always("rate_limit")
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert "busy right now; try again in a moment" in error_text(record)
        assert len(env.api.image_requests) == 1
        await assert_failed(env, "rate_limited")
        await assert_refunded(env)
        await assert_serves_next(env)


async def test_out_of_credit_upstream_is_not_retried(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_retries=3) as env:
        env.api.fail_always("insufficient_quota", retry_after=0)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert "tell the server owner" in error_text(record)
        assert len(env.api.image_requests) == 1
        await assert_failed(env, "billing")
        await assert_refunded(env)


async def test_answer_slower_than_the_timeout(tmp_path: Path) -> None:
    async with bot_env(tmp_path, request_timeout=0.3) as env:
        env.api.fail_next("slow", seconds=1)
        started = time.monotonic()
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert time.monotonic() - started < 1.0
        assert "did not answer in time" in error_text(record)
        assert len(env.api.image_requests) == 1  # a timed-out generation may bill: no retry
        await assert_failed(env, "timeout")
        await assert_refunded(env)
        await assert_serves_next(env)


async def test_result_download_that_never_finishes_is_bounded(tmp_path: Path) -> None:
    async with bot_env(tmp_path, request_timeout=0.3) as env:
        env.api.fail_next("url_hang")
        started = time.monotonic()
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert time.monotonic() - started < 1.0
        assert "took too long to download" in error_text(record)
        await assert_failed(env, "bad_response")
        await assert_refunded(env)
        # the storage host never sees the key
        (download,) = [r for r in env.api.requests if r.endpoint == "files"]
        assert "Authorization" not in download.headers
        await assert_serves_next(env)


# --- Discord faults -------------------------------------------------------------------------


async def test_rate_limited_result_edit_is_retried_and_delivered(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await start_slow_job(env)
        env.discord.fail_next("POST", f"/webhooks/*/{record.token}", status=429, times=2)
        await env.harness.settle()
        statuses = [r.status for r in result_posts(env, record)]
        assert statuses == [429, 429, 200]  # the result: two 429s, then delivered
        assert env.discord.retry_sleeps, "discord.py should have waited before retrying"
        (upload,) = env.discord.files_of(record.result)
        assert upload.image().size == (1024, 1024)
        assert (await last_job(env)).status == "succeeded"
        assert await used_credits(env) == IMAGINE_PRICE


async def test_progress_edits_that_fail_do_not_lose_the_job(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        await start_slow_job(env)  # the next job waits: its queue place is the next edit
        env.discord.fail_next(
            "PATCH", "/webhooks/*/messages/@original", status=404, code=10062, times=1
        )
        waiting = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert original_edits(env, waiting)[0].status == 404
        job = await last_job(env)
        assert job.status == "succeeded"
        message = env.discord.messages[job.result_message_id]
        (upload,) = env.discord.files_of(message)
        assert upload.image().size == (1024, 1024)


async def test_upload_too_large_is_retried_smaller_with_a_note(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await start_slow_job(env)
        env.discord.fail_next("POST", f"/webhooks/*/{record.token}", status=413, code=40005)
        await env.harness.settle()
        refused, accepted = result_posts(env, record)
        assert refused.status == 413 and accepted.status == 200
        assert accepted.files[0].size < refused.files[0].size
        assert accepted.files[0].image().size[0] <= 1024
        (embed,) = record.result["embeds"]
        notes = next(f["value"] for f in embed["fields"] if f["name"] == "Adjusted")
        assert "sent image 1 as" in notes
        assert (await last_job(env)).status == "succeeded"
        assert await used_credits(env) == IMAGINE_PRICE


async def test_several_images_over_the_message_limit_are_shrunk(tmp_path: Path) -> None:
    # Each image fits the interaction's limit, the three together don't: Discord answers 413.
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine", {"prompt": "a fox", "n": 3}, attachment_size_limit=40_000
        )
        uploads = result_posts(env, record)
        assert uploads[-1].status == 200
        assert sum(f.size for f in uploads[-1].files) <= 40_000
        assert len(env.discord.files_of(record.result)) == 3
        assert (await last_job(env)).status == "succeeded"


async def test_unknown_interaction_on_result_posts_to_the_channel(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await start_slow_job(env)
        env.discord.fail_next(
            "*", f"/webhooks/*/{record.token}*", status=404, code=10062, times=None
        )
        await env.harness.settle()
        uid = env.harness.user_id
        (post,) = env.discord.requests_to("POST", f"/channels/{env.harness.channel_id}/messages")
        assert post.status == 200
        assert post.json["content"].startswith(f"<@{uid}>")
        assert post.json["allowed_mentions"]["parse"] == []
        assert post.json["allowed_mentions"]["users"] == [uid]
        assert "roles" not in post.json["allowed_mentions"]
        message = env.discord.last_message(env.harness.channel_id)
        (upload,) = env.discord.files_of(message)
        assert upload.image().size == (1024, 1024)
        job = await last_job(env)
        assert job.status == "succeeded" and job.result_message_id == int(message["id"])
        assert await used_credits(env) == IMAGINE_PRICE


async def test_missing_attach_files_is_refused_before_anything_is_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path) as env:
        build = env.harness.interaction_payload

        def without_attach_files(*args: Any, **kwargs: Any) -> Any:
            payload = build(*args, **kwargs)
            payload["app_permissions"] = str(int(payload["app_permissions"]) & ~ATTACH_FILES)
            return payload

        monkeypatch.setattr(env.harness, "interaction_payload", without_attach_files)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert record.callback_type == 4
        assert record.callback.json["data"]["flags"] & 64
        assert "Attach Files" in record.text
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(env.harness.guild_id) == []
        assert await used_credits(env) == 0
        monkeypatch.undo()
        await assert_serves_next(env)


async def test_token_expiring_mid_job_delivers_to_the_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The token counts as dead 0.3 s after the command: the job outlives it.
    margin = datetime.timedelta(minutes=15) - datetime.timedelta(seconds=0.3)
    monkeypatch.setattr(cogs.delivery, "TOKEN_MARGIN", margin)
    async with bot_env(tmp_path) as env:
        record = await start_slow_job(env, latency=0.5)
        await env.harness.settle()
        assert not any(edit.files for edit in original_edits(env, record))  # not to the old token
        uid = env.harness.user_id
        message = env.discord.last_message(env.harness.channel_id)
        assert message["content"].startswith(f"<@{uid}>")
        (post,) = env.discord.requests_to("POST", f"/channels/{env.harness.channel_id}/messages")
        assert post.json["allowed_mentions"] == {"parse": [], "users": [uid], "replied_user": True}
        (upload,) = env.discord.files_of(message)
        assert upload.image().size == (1024, 1024)
        job = await last_job(env)
        assert job.status == "succeeded" and job.result_message_id == int(message["id"])


# --- the process stopped mid-job ------------------------------------------------------------


def _snapshot(database: Path, copy: Path) -> None:
    """The database as a crash would leave it (SQLite's online backup reads the WAL too)."""
    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _crash_state(database: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Job statuses and pending reservations (status, in-flight) in a database file."""
    connection = sqlite3.connect(database)
    try:
        jobs = [row[0] for row in connection.execute("SELECT status FROM jobs ORDER BY id")]
        held = connection.execute(
            "SELECT r.status, m.in_flight FROM reservations r JOIN member_state m"
            " ON m.guild_id = r.guild_id AND m.user_id = r.user_id"
        ).fetchall()
    finally:
        connection.close()
    return jobs, held


def _restore(copy: Path, database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    copy.replace(database)


async def test_restart_mid_job_refunds_fails_and_tells_the_member(tmp_path: Path) -> None:
    database = tmp_path / "data" / "bot.sqlite3"
    crashed = tmp_path / "crashed.sqlite3"
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            guild, channel, user = env.harness.guild_id, env.harness.channel_id, env.harness.user_id
            moderator = env.harness.moderator_id
            # a job from long ago: its member is not pinged about it
            expired = NewJob(
                guild_id=guild,
                channel_id=channel,
                user_id=moderator,
                operation="generate",
                model="gpt-image-1",
                prompt="old",
                interaction_expires_at=time.time() - 60,
            )
            old = await env.store.create_job(expired)
            await start_slow_job(env, latency=5.0)
            await asyncio.to_thread(_snapshot, database, crashed)  # the process dies here
        # what start-up finds: the old job queued, the new one running with its credits held
        assert _crash_state(crashed) == (["queued", "running"], [("pending", 1)])
        await asyncio.to_thread(_restore, crashed, database)
        api.latency = 0.0
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            jobs = {j.id: j for j in await env.store.recent_jobs(guild)}
            assert {(j.status, j.error_kind) for j in jobs.values()} == {("failed", "interrupted")}
            assert await used_credits(env, guild, user) == 0
            assert await ledger(env, guild) == []
            (notice,) = env.discord.requests_to("POST", f"/channels/{channel}/messages")
            assert notice.json["content"].startswith(f"<@{user}>")
            assert "interrupted by a restart" in notice.json["content"]
            assert "nothing was charged" in notice.json["content"]
            assert "img:retry:" in str(notice.json["components"])  # Try again, after the restart
            assert notice.json["allowed_mentions"]["parse"] == []
            assert notice.json["allowed_mentions"]["users"] == [user]
            assert str(moderator) not in str(notice.json)
            assert old.id in jobs
            await assert_serves_next(env)
