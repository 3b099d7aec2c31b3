"""Models that come and go, as members and moderators see it through Discord.

Real discord.py against the fake Discord, and the fake Images API in OpenAI's world of 2026-12-01
(models with shutdown dates, variations retired) or a gateway's. The bot's clock is injected.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.openai_server import FakeImagesServer

DAY = datetime.date(2026, 12, 1)


async def mod(env: BotEnv, name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
    return await env.harness.slash(name, options, user=env.harness.moderator_id)


async def test_autocomplete_and_help_offer_only_what_openai_serves_today(tmp_path: Path) -> None:
    async with (
        FakeImagesServer(world="openai", today=DAY) as api,
        bot_env(tmp_path, api=api, default_model=None) as env,
    ):
        offered = await env.harness.autocomplete("imagine", {"prompt": "x"}, focused="model")
        names = [c["value"] for c in offered]
        assert names[:2] == ["gpt-image-2.6-sunburst", "gpt-image-2.6-flare"]
        assert "gpt-image-2.6-sunburst" in names and "gpt-image-2.5-flare" in names
        assert not {"gpt-image-1.5", "gpt-image-1", "dall-e-3", "dall-e-2"} & set(names)
        vary = await env.harness.autocomplete("vary", {}, focused="model")
        assert "dall-e-2" not in [c["value"] for c in vary]
        helped = await env.harness.slash("help")
        assert "gpt-image-2.6-sunburst" in helped.text and "gpt-image-1.5" not in helped.text


async def test_imagine_without_a_model_uses_the_first_usable_preference(tmp_path: Path) -> None:
    async with (
        FakeImagesServer(world="openai", today=DAY) as api,
        bot_env(tmp_path, api=api, default_model="gpt-image-1.5") as env,
    ):
        record = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert record.result
        (request,) = api.image_requests
        assert request.json["model"] == "gpt-image-2.6-sunburst"
        refused = await env.harness.slash("imagine", {"prompt": "a fox", "model": "gpt-image-1"})
        assert refused.ephemeral
        assert "gpt-image-1 was shut down on 2026-10-23. Use gpt-image-2.5-sunburst" in refused.text
        assert len(api.image_requests) == 1


async def test_a_server_default_that_shut_down_falls_back_and_moderators_hear_once(
    tmp_path: Path,
) -> None:
    async with (
        FakeImagesServer(world="openai", today=DAY) as api,
        bot_env(tmp_path, api=api, default_model=None) as env,
    ):
        h = env.harness
        await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        await env.store.change_guild_settings(
            h.guild_id, lambda s: dataclasses.replace(s, default_model="gpt-image-1.5")
        )
        for prompt in ("a fox", "a second fox"):
            record = await env.harness.slash("imagine", {"prompt": prompt})
            assert record.result["attachments"]
        assert [r.json["model"] for r in api.image_requests] == ["gpt-image-2.6-sunburst"] * 2
        _log_set, post = env.discord.bot_messages(h.other_channel_id)  # first: the change itself
        text = post["embeds"][0]["description"]
        assert "gpt-image-1.5, was shut down on 2026-12-01" in text
        assert "members get gpt-image-2.6-sunburst" in text


async def test_models_shutting_down_within_30_days_are_announced_once(tmp_path: Path) -> None:
    soon = {"gpt-image-2": "2026-12-20", "gpt-image-2.5-flare": "2027-03-01"}
    async with (
        FakeImagesServer(world="openai", today=DAY, shutdown_dates=soon) as api,
        bot_env(tmp_path, api=api, default_model=None) as env,
    ):
        h = env.harness
        await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        await env.bot.announce_shutdowns()
        await env.bot.announce_shutdowns()  # a restart, or the next refresh: said already
        _log_set, post = env.discord.bot_messages(h.other_channel_id)  # first: the change itself
        assert "gpt-image-2 shuts down on 2026-12-20" in post["embeds"][0]["description"]
        helped = await env.harness.slash("help")
        assert "shuts down on 2026-12-20" in helped.text


async def test_vary_everywhere_on_openai_goes_through_edits(tmp_path: Path) -> None:
    async with (
        FakeImagesServer(world="openai", today=DAY) as api,
        bot_env(tmp_path, api=api, default_model=None) as env,
    ):
        first = await env.harness.slash("imagine", {"prompt": "a fox", "model": "gpt-image-2"})
        assert first.result
        clicked = await env.harness.click(f"img:vary:{1}:0")
        assert clicked.result["attachments"]
        request = api.image_requests[-1]
        assert request.endpoint == "edits" and request.form["model"] == "gpt-image-2"
        assert all(r.endpoint != "variations" for r in api.image_requests)


async def test_a_gateway_model_is_priced_like_the_model_it_is_like(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[models.my-dalle]\nlike = "dall-e-3"\nlabel = "My DALL-E"\n')
    async with (
        FakeImagesServer(extra_models={"my-dalle": "dall-e-3"}) as api,
        bot_env(tmp_path, api=api, models_file=models) as env,
    ):
        options = {"prompt": "a fox", "model": "my-dalle", "size": "1792x1024", "quality": "hd"}
        record = await env.harness.slash("imagine", options)
        assert record.result["attachments"]
        job = await env.store.get_job(env.harness.guild_id, 1)
        assert job is not None and job.status == "succeeded" and job.credits == 12
