"""What a member sees: private refusals, a progress message that moves, a ping, Try again."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import pytest

import cogs.delivery
from bot.store import QuotaPolicy
from tests.fakes.bot_env import DISCORD_TOKEN, BotEnv, bot_env
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeImagesServer
from tests.waiting import wait_until

JSON = dict[str, Any]


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def used(env: BotEnv) -> tuple[int, int]:
    usage = await env.bot.services.quotas.member_usage(
        env.harness.guild_id, env.harness.user_id, ()
    )
    return usage.member.used, usage.in_flight


async def test_a_quota_refusal_is_private_quotes_the_prompt_and_posts_nothing(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await env.store.save_quota_policy(QuotaPolicy(h.guild_id, user_limit=1))
        record = await h.slash("imagine", {"prompt": "a lighthouse at dusk", "quality": "high"})

        assert record.callback_type == 4 and record.ephemeral  # answered privately at once
        text = record.failure_text
        assert "credits" in text and "a lighthouse at dusk" in text
        assert "Nothing was charged" in text
        assert env.api.image_requests == []
        assert env.discord.seen_by_others() == []  # nothing at all was posted for others
        assert await used(env) == (0, 0)


async def test_a_failure_after_the_progress_removes_it_and_try_again_works_after_a_restart(
    tmp_path: Path,
) -> None:
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            api.fail_next("server_error")
            failed = await env.harness.slash(
                "imagine", {"prompt": "a red fox", "quality": "low", "size": "1536x1024"}
            )
            assert failed.original is None  # the public progress went away
            message = failed.failure  # private, and no one else saw why
            assert (
                "a red fox" in failed.failure_text and "Nothing was charged" in failed.failure_text
            )
            assert custom_ids(message) == ["img:retry:1", "img:reprompt:1"]
            old = env.harness
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            await env.harness.inject("GUILD_CREATE", old.guild_payload)
            payload = old.interaction_payload(
                3, {"custom_id": "img:retry:1", "component_type": 2}, message=copy.deepcopy(message)
            )

            record = await env.harness.inject("INTERACTION_CREATE", payload)

            again = api.image_requests[-1].json
            assert (again["prompt"], again["quality"], again["size"]) == (
                "a red fox",
                "low",
                "1536x1024",
            )
            result = await wait_until(lambda: record.result)
            assert result["content"].startswith(f"<@{old.user_id}>")  # a new message: a ping
            job = await env.store.get_job(old.guild_id, 2)
            assert job is not None and job.status == "succeeded"


async def test_change_prompt_opens_the_prompt_and_runs_it_with_the_same_settings(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        long_prompt = "a castle " * 130  # over dall-e-2's 1000 characters
        refused = await h.slash(
            "imagine", {"prompt": long_prompt, "model": "dall-e-2", "size": "512x512"}
        )
        assert "1000 characters" in refused.failure_text
        assert long_prompt.strip() in refused.failure_text  # quoted whole, to shorten it

        opened = await h.click("img:reprompt:1")
        (field,) = [c for row in opened.modal["components"] for c in row["components"]]
        assert field["value"] == long_prompt
        done = await h.submit_modal(opened.modal["custom_id"], {"prompt": "a castle"})

        request = env.api.image_requests[-1].json
        assert (request["prompt"], request["model"], request["size"]) == (
            "a castle",
            "dall-e-2",
            "512x512",
        )
        assert done.result["attachments"]


async def test_the_progress_shows_the_request_then_the_place_then_the_running_time(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        h = env.harness
        await h.slash("imagine", {"prompt": "warm-up"})  # a finished job: the queue can estimate
        env.api.latency = 0.3
        await h.slash("imagine", {"prompt": "first"}, settle=False)
        await wait_until(lambda: len(env.api.image_requests) == 2)
        second = await h.slash("imagine", {"prompt": "second", "n": 2}, settle=False)
        await h.settle()

        shown = [r.json for r in second.callbacks + second.edits if 200 <= r.status < 300]
        first_embed = shown[0]["data"]["embeds"][0]
        fields = {f["name"]: f["value"] for f in first_embed["fields"]}
        assert fields == {"Model": "gpt-image-1", "Size": "auto", "Images": "2"}
        assert first_embed["description"].startswith("second")
        titles = [body["embeds"][0]["title"] for body in shown[1:] if body.get("embeds")]
        assert titles[0] == "⏳ In the queue — position 1"
        assert "should be done <t:" in shown[1]["embeds"][0]["description"].lower()
        assert titles[-1] == "🎨 Making your 2 images…"
        assert "Started <t:" in shown[-1]["embeds"][0]["description"]
        assert second.original is None and second.result["attachments"]


async def test_an_interaction_discord_forgot_is_a_warning_and_costs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        env.discord.fail_next("POST", "/interactions/*", status=404, code=10062, times=None)
        with caplog.at_level(logging.WARNING):
            record = await h.slash("imagine", {"prompt": "a fox"})

        assert env.api.image_requests == []
        assert await used(env) == (0, 0)
        warning = next(r for r in caplog.records if "3-second window" in r.getMessage())
        assert warning.levelno == logging.WARNING and not warning.exc_info
        notice = env.discord.last_message(h.channel_id)
        text = notice["embeds"][0]["description"]
        assert "timed out at Discord" in text and "Nothing was charged" in text
        assert notice["content"] == f"<@{h.user_id}>"
        assert "img:retry:1" in custom_ids(notice)
        assert record.errors == []


async def test_slow_checks_answer_privately_first_then_show_the_progress_publicly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cogs.delivery, "ANSWER_WITHIN", 0.05)
    async with bot_env(tmp_path) as env:
        reserve = env.bot.services.quotas.reserve

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.2)
            return await reserve(*args, **kwargs)

        monkeypatch.setattr(env.bot.services.quotas, "reserve", slow)
        record = await env.harness.slash("imagine", {"prompt": "a fox"})

        assert record.callback_type == 5 and record.callback.json["data"]["flags"] & 64
        assert record.result["attachments"] and not record.result["flags"] & 64
        assert record.original is None  # the private "thinking…" went away with the progress
