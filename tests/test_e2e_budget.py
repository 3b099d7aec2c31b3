"""Money end to end: budget alerts in the moderation log at 80 % and 100 % of the server budget,
once each per window, with what was spent in money (and again in the next window); the money in
/usage and its ledger CSV.

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store.
gpt-image-1 at 1024x1024, medium costs 4 credits; the fake API reports 1056 output tokens for
it, $0.04224 at $40 per 1M (and a token or two of prompt).
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from bot.keys import new_secret_key
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.openai_server import FakeImagesServer

DAY = 86400.0
OWN_KEY = "sk-own-SECRET-0123456789-abcd"
BUDGET_TITLES = ("80 % of the server budget", "server budget is used up")


async def mod(env: BotEnv, name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
    return await env.harness.slash(name, options, user=env.harness.moderator_id)


async def with_budget(env: BotEnv, credits: int, window: str = "month") -> None:
    """A log channel, a server budget, and room enough in the member limit."""
    await mod(env, "settings log-channel", {"channel": env.harness.other_channel_id})
    await mod(env, "quota user-limit", {"credits": 10_000})
    await mod(env, "quota server-budget", {"credits": credits, "window": window})


def budget_posts(env: BotEnv) -> list[dict[str, Any]]:
    """The budget alerts in the moderation log, oldest first."""
    posts = env.discord.bot_messages(env.harness.other_channel_id)
    embeds = [embed for post in posts for embed in post.get("embeds", [])]
    return [e for e in embeds if any(t in e.get("title", "") for t in BUDGET_TITLES)]


async def make_images(env: BotEnv, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        done = await env.harness.slash("imagine", {"prompt": f"a fox {index}"})
        assert len(done.files) == 1, done.text


async def test_many_jobs_alert_once_at_80_and_once_at_100_percent_then_again_next_window(
    tmp_path,
):
    async with bot_env(tmp_path) as env:
        await with_budget(env, credits=40)

        await make_images(env, 7)  # 28 of 40: 70 %
        assert budget_posts(env) == []
        await make_images(env, 1, start=7)  # 32 of 40: 80 %
        (at_80,) = budget_posts(env)
        assert at_80["title"] == "💰 80 % of the server budget is used"
        assert (
            "This server has used **32** of its 40 credits this month (80 %)."
            in (at_80["description"])
        )
        assert (
            "About **$0.34** at the provider's list prices of 2026-12-01." in (at_80["description"])
        )

        # Another process (or a restart) has none of this one's memory: the claim still holds.
        env.bot.get_cog("Reports")._budget_seen.clear()  # type: ignore[union-attr]
        await make_images(env, 1, start=8)  # 36 of 40: still past 80 %, no second post
        assert budget_posts(env) == [at_80]
        await make_images(env, 1, start=9)  # 40 of 40
        refused = await env.harness.slash("imagine", {"prompt": "one fox too many"})
        assert "This server has used 40 of its 40 credits this month" in refused.text

        first, used_up = budget_posts(env)
        assert first == at_80
        assert used_up["title"] == "⛔ The server budget is used up"
        assert "used **40** of its 40 credits this month (100 %)" in used_up["description"]
        assert "About **$0.42**" in used_up["description"]
        assert "`/quota server-budget`" in used_up["description"]
        posted = env.discord.requests_to(
            "POST", f"/channels/{env.harness.other_channel_id}/messages"
        )
        assert all(r.json["allowed_mentions"] == {"parse": []} for r in posted)

        # Next month: the budget's clock moves on, and both alerts come once more.
        later = time.time() + 32 * DAY
        env.bot.services.quotas._clock = lambda: later  # type: ignore[attr-defined]
        await make_images(env, 10, start=10)
        titles = [post["title"] for post in budget_posts(env)]
        assert titles == [at_80["title"], used_up["title"]] * 2


async def test_one_job_that_uses_the_whole_budget_posts_only_the_100_percent_alert(tmp_path):
    async with bot_env(tmp_path) as env:
        await with_budget(env, credits=4, window="day")
        await make_images(env, 1)

        (alert,) = budget_posts(env)
        assert alert["title"] == "⛔ The server budget is used up"
        assert "used **4** of its 4 credits today (100 %)" in alert["description"]


async def test_without_a_log_channel_nothing_is_claimed_and_a_channel_set_later_hears_it(
    tmp_path,
):
    async with bot_env(tmp_path) as env:
        await mod(env, "quota user-limit", {"credits": 10_000})
        await mod(env, "quota server-budget", {"credits": 20})
        await make_images(env, 4)  # 16 of 20: 80 %, and no log to tell
        assert env.discord.bot_messages(env.harness.other_channel_id) == []

        await mod(env, "settings log-channel", {"channel": env.harness.other_channel_id})
        await make_images(env, 1, start=4)  # 20 of 20

        (alert,) = budget_posts(env)
        assert alert["title"] == "⛔ The server budget is used up"


async def test_no_server_budget_means_no_budget_alerts(tmp_path):
    async with bot_env(tmp_path) as env:
        await mod(env, "settings log-channel", {"channel": env.harness.other_channel_id})
        await make_images(env, 5)  # the default member limit of 20 credits, used up

        assert budget_posts(env) == []
        (charge, *_) = await env.store.charges(env.harness.guild_id, 0, 2**40)
        assert charge.cost_usd is not None and charge.cost_usd > 0  # money kept all the same


# --- money in /usage -------------------------------------------------------------------------


def ledger_rows(record: InteractionRecord) -> list[dict[str, str]]:
    ledger = next(f for f in record.files if "ledger" in f.filename)
    return list(csv.DictReader(io.StringIO(ledger.data.decode())))


async def test_server_usage_shows_the_money_beside_the_credits_and_the_ledger_keeps_it(tmp_path):
    async with bot_env(tmp_path) as env:
        await env.harness.slash("imagine", {"prompt": "a fox"})  # 1 + 1056 tokens: $0.042245
        env.api.fail_next("no_usage")  # a relay that drops usage: gpt-image-1's $0.042 an image
        await env.harness.slash("imagine", {"prompt": "a badger"})
        await env.harness.slash("imagine", {"prompt": "an owl", "model": "gpt-image-1-mini"})

        record = await mod(env, "usage", {"server": True})

        assert "**9** credits, **3** images this month" in record.text
        assert "About **$0.09** at the provider's list prices of 2026-12-01." in record.text
        assert "- gpt-image-1 — 8 credits, 2 images, about $0.08" in record.text
        assert "- gpt-image-1-mini — 1 credit, 1 image, about $0.01" in record.text
        rows = ledger_rows(record)
        assert [(r["model"], r["cost_usd"]) for r in rows] == [
            ("gpt-image-1", "0.042245"),
            ("gpt-image-1", "0.042000"),
            ("gpt-image-1-mini", "0.008450"),  # 1 text token at $2, 1056 at $8 per 1M
        ]


async def test_a_server_on_its_own_image_service_sees_the_estimate_as_its_own_bill(tmp_path):
    async with FakeImagesServer(api_key=OWN_KEY) as own:
        options: dict[str, Any] = {"secret_keys": (new_secret_key(),), "private_providers": True}
        async with bot_env(tmp_path, **options) as env:
            gid = env.harness.guild_id
            await env.bot.services.providers.set(gid, own.base_url, OWN_KEY, None)
            await env.harness.slash("imagine", {"prompt": "a fox"})
            assert len(own.image_requests) == 1 and env.api.image_requests == []

            record = await mod(env, "usage", {"server": True})

            assert (
                "About **$0.04** at list prices of 2026-12-01, billed to this server by its own "
                "image service, not paid by the bot's operator."
            ) in record.text
            assert OWN_KEY not in record.text


async def test_the_budget_listener_goes_away_with_the_cog(tmp_path):
    async with bot_env(tmp_path) as env:
        listeners = env.bot.services.jobs.settlement.listeners
        cog = env.bot.get_cog("Reports")
        assert cog is not None and cog.on_job_settled in listeners
        await env.bot.unload_extension("cogs.usage")
        assert cog.on_job_settled not in listeners
