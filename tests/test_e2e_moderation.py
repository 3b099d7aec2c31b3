"""Moderators end to end: /quota, /settings, /usage, /history and the moderation log.

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from bot.moderation import MODERATORS_ONLY
from bot.store import NewJob, QuotaPolicy
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord

RESET = re.compile(r"<t:\d+:R>")
NO_PINGS = {"parse": []}


async def mod(env: BotEnv, name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
    """A moderator (Manage Server) runs a slash command."""
    return await env.harness.slash(name, options, user=env.harness.moderator_id)


async def imagine(
    env: BotEnv, prompt: str, user: int | None = None, channel: int | None = None, **options: Any
) -> InteractionRecord:
    """A member runs /imagine (the ordinary member in #general unless told otherwise)."""
    return await env.harness.slash(
        "imagine", {"prompt": prompt, **options}, user=user, channel=channel
    )


def sent_payloads(record: InteractionRecord) -> list[dict[str, Any]]:
    """The message bodies the bot sent for an interaction (callbacks, edits, followups)."""
    bodies = []
    for request in record.callbacks + record.fake.webhook_requests(record.token):
        if 200 <= request.status < 300 and isinstance(request.json, dict):
            bodies.append(request.data)
    return bodies


def assert_private_and_silent(record: InteractionRecord) -> None:
    """Ephemeral, and every message body said: ping nobody."""
    assert record.ephemeral
    with_content = [b for b in sent_payloads(record) if b.get("embeds") or b.get("content")]
    assert with_content
    assert all(b.get("allowed_mentions") == NO_PINGS for b in with_content), with_content


def assert_refused(record: InteractionRecord, words: str) -> None:
    """The member saw an ephemeral error containing ``words``."""
    assert record.ephemeral
    assert words in record.text, record.text


# --- who is a moderator ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("quota user-limit", {"credits": 1000}),
        ("quota show", {}),
        ("settings models", {"models": "all"}),
        ("settings moderator-role", {"action": "clear"}),
        ("history", {}),
    ],
)
async def test_ordinary_member_is_refused_even_if_the_client_shows_the_command(
    tmp_path, command, options
):
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(command, options)  # the harness ignores default perms

        assert record.callback_type == 4
        assert_refused(record, MODERATORS_ONLY)
        gid = env.harness.guild_id
        assert await env.store.get_quota_policy(gid) == QuotaPolicy(gid)
        assert (await env.store.get_guild_settings(gid)).moderator_role_ids == ()


async def test_moderator_groups_are_hidden_from_members_by_default(tmp_path):
    async with bot_env(tmp_path) as env:
        tree = env.bot.tree
        for name in ("quota", "settings", "history"):
            command = tree.get_command(name)
            assert command is not None
            assert command.default_permissions.manage_guild, name
            assert command.guild_only, name
        assert tree.get_command("usage").default_permissions is None


async def test_moderator_commands_in_a_dm_are_refused_politely(tmp_path):
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("quota show", user=env.harness.moderator_id, dm=True)

        assert_refused(record, "This command only works in a server.")


async def test_a_moderator_role_from_settings_makes_its_holders_moderators(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        helpers = await h.add_role("Helpers")
        helper = await h.add_member("helper", roles=[helpers])
        assert_refused(await h.slash("quota show", user=helper), MODERATORS_ONLY)

        added = await mod(env, "settings moderator-role", {"action": "add", "role": helpers})
        assert f"<@&{helpers}>" in added.text
        assert (await env.store.get_guild_settings(h.guild_id)).moderator_role_ids == (helpers,)

        changed = await h.slash("quota user-limit", {"credits": 0}, user=helper)
        assert changed.ephemeral and "0 credits per day" in changed.text
        assert (await env.store.get_quota_policy(h.guild_id)).user_limit == 0
        # The job runner counts them as moderators too: exempt moderators pass a 0 limit.
        await h.slash("quota exempt-moderators", {"enabled": True}, user=helper)
        made = await imagine(env, "a helpful owl", user=helper)
        assert [f.image().size for f in made.files] == [(1024, 1024)]
        assert "0 credits" in (await imagine(env, "a plain owl")).text
        assert len(env.api.image_requests) == 1


async def test_everyone_cannot_become_a_moderator_role(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        record = await mod(env, "settings moderator-role", {"action": "add", "role": h.guild_id})
        assert_refused(record, "@everyone can't be a moderator role")
        assert (await env.store.get_guild_settings(h.guild_id)).moderator_role_ids == ()


# --- quotas ----------------------------------------------------------------------------------


async def test_user_limit_lets_two_images_through_and_refuses_the_third(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        confirm = await mod(env, "quota user-limit", {"credits": 8, "window": "day"})
        assert_private_and_silent(confirm)
        assert "Each member: 8 credits per day" in confirm.text

        for prompt in ("a fox", "a badger"):
            done = await imagine(env, prompt)
            assert [f.image().size for f in done.files] == [(1024, 1024)]
        refused = await imagine(env, "a third animal")

        assert "You've used 8 of your 8 credits today" in refused.text
        assert RESET.search(refused.text)
        assert [r.json["prompt"] for r in env.api.image_requests] == ["a fox", "a badger"]
        jobs = await env.store.recent_jobs(h.guild_id)
        assert [(j.status, j.error_kind, j.credits) for j in jobs] == [
            ("failed", "quota", 0),
            ("succeeded", None, 4),
            ("succeeded", None, 4),
        ]
        ledger = await env.store.charges(h.guild_id, 0, 2**40)
        assert [c.charged for c in ledger] == [4, 4]
        other = await env.store.get_quota_policy(h.guild_id + 1)
        assert other == QuotaPolicy(h.guild_id + 1)  # another guild's policy is untouched


async def test_role_rules_unlimited_passes_the_limit_and_blocked_is_refused(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        vip, muted = await h.add_role("VIP"), await h.add_role("Muted")
        vip_member = await h.add_member("vip", roles=[vip])
        muted_member = await h.add_member("muted", roles=[muted])
        await mod(env, "quota user-limit", {"credits": 4})
        unlimited = await mod(env, "quota role", {"role": vip, "rule": "unlimited"})
        assert f"<@&{vip}> is unlimited" in unlimited.text
        blocked = await mod(env, "quota role", {"role": muted, "rule": "blocked"})
        assert f"<@&{muted}>: blocked" in blocked.text

        for prompt in ("one", "two", "three"):
            done = await imagine(env, prompt, user=vip_member)
            assert len(done.files) == 1
        refused = await imagine(env, "anything", user=muted_member)

        assert "Your roles don't allow making images" in refused.text
        assert len(env.api.image_requests) == 3
        policy = await env.store.get_quota_policy(h.guild_id)
        assert {r: rule.kind for r, rule in policy.roles.items()} == {
            vip: "unlimited",
            muted: "blocked",
        }
        cleared = await mod(env, "quota role", {"role": muted, "rule": "clear"})
        assert "follows the member limit again" in cleared.text
        assert muted not in (await env.store.get_quota_policy(h.guild_id)).roles


@pytest.mark.parametrize(
    ("command", "options", "words"),
    [
        ("quota user-limit", {}, "a number of images of a model, or `unlimited: True`"),
        ("quota user-limit", {"credits": 3, "unlimited": True}, "Give either"),
        ("quota role", {"rule": "limit"}, "A `limit` rule needs a number of credits"),
        ("quota role", {"rule": "blocked", "credits": 3}, "images only go with the `limit`"),
        ("quota server-budget", {}, "`clear: True`"),
        ("quota cost", {"model": "no-such-model", "credits": 1}, "Unknown model 'no-such-model'"),
        ("quota cost", {"model": "dall-e-3", "size": "999x999", "credits": 1}, "no size 999x999"),
        ("quota cost", {"model": "dall-e-3", "quality": "ultra", "credits": 1}, "no quality"),
        ("quota cost", {"model": "dall-e-3"}, "`clear: True`"),
    ],
)
async def test_bad_quota_input_is_explained_and_changes_nothing(tmp_path, command, options, words):
    async with bot_env(tmp_path) as env:
        h = env.harness
        if command == "quota role":
            options = {"role": await h.add_role("Some role"), **options}
        record = await mod(env, command, options)

        assert_refused(record, words)
        assert await env.store.get_quota_policy(h.guild_id) == QuotaPolicy(h.guild_id)


async def test_every_policy_change_is_stored_and_confirmed(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        steps = [
            ("quota user-limit", {"unlimited": True}, "Each member: no credit limit"),
            ("quota server-budget", {"credits": 500, "window": "week"}, "500 credits per week"),
            ("quota cooldown", {"seconds": 30}, "30 s between requests"),
            ("quota in-flight", {"count": 3}, "3 requests at a time"),
            ("quota exempt-moderators", {"enabled": True}, "Moderators: no member limit"),
            (
                "quota cost",
                {"model": "gpt-image-1", "quality": "low", "credits": 1},
                "gpt-image-1 * low: 1",
            ),
        ]
        for command, options, words in steps:
            record = await mod(env, command, options)
            assert_private_and_silent(record)
            assert words in record.text, (command, record.text)

        policy = await env.store.get_quota_policy(h.guild_id)
        assert policy.user_limit is None
        assert (policy.server_budget, policy.server_window) == (500, "week")
        assert (policy.cooldown_seconds, policy.max_in_flight) == (30, 3)
        assert policy.moderators_unlimited
        assert dict(policy.costs) == {("gpt-image-1", "*", "low"): 1}
        made = await imagine(env, "a cheap sketch", quality="low")
        assert len(made.files) == 1
        assert (await env.store.recent_jobs(h.guild_id))[0].credits == 1

        await mod(env, "quota server-budget", {"clear": True})
        await mod(env, "quota cost", {"model": "gpt-image-1", "quality": "low", "clear": True})
        policy = await env.store.get_quota_policy(h.guild_id)
        assert policy.server_budget is None and dict(policy.costs) == {}


async def test_reset_gives_a_member_their_credits_back(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "quota user-limit", {"credits": 4})
        await imagine(env, "a fox")
        assert "4 of your 4 credits" in (await imagine(env, "another fox")).text

        reset = await mod(env, "quota reset", {"member": h.user_id})
        assert "**0** of 4 credits" in reset.text

        again = await imagine(env, "another fox")
        assert len(again.files) == 1
        assert len(env.api.image_requests) == 2


# --- /usage ----------------------------------------------------------------------------------


async def test_usage_shows_a_member_what_is_used_left_and_when_it_resets(tmp_path):
    async with bot_env(tmp_path) as env:
        await mod(env, "quota user-limit", {"credits": 12})
        await imagine(env, "a fox")

        record = await env.harness.slash("usage")

        assert_private_and_silent(record)
        assert "Used today: **4** of 12 credits · **8** left" in record.text
        assert RESET.search(record.text)
        assert "A gpt-image-1 image costs 4 credits by default: about 2 more." in record.text
        assert record.files == []
        seen_by_mod = await mod(env, "usage", {"member": env.harness.user_id})
        assert "Credits of Member" in seen_by_mod.text
        assert "Used today: **4** of 12 credits" in seen_by_mod.text


async def test_usage_of_the_server_attaches_a_chart_and_csv_files(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await imagine(env, "a fox")
        await imagine(env, "two owls", user=h.moderator_id, n=2)

        await mod(env, "quota server-budget", {"credits": 100, "window": "month"})
        record = await mod(env, "usage", {"server": True})

        assert_private_and_silent(record)
        assert "**12** credits, **3** images this month" in record.text
        assert "Server budget: 12 of 100 credits used this month, resets <t:" in record.text
        assert f"1. <@{h.moderator_id}> `Moderator` — 8 credits, 2 images" in record.text
        assert "gpt-image-1 — 12 credits, 3 images" in record.text
        chart = next(f for f in record.files if f.filename.endswith(".png"))
        assert chart.kind == "png" and chart.image().size == (960, 480)
        members = next(f for f in record.files if "members" in f.filename)
        rows = list(csv.reader(io.StringIO(members.data.decode())))
        assert rows[0] == ["user_id", "member", "credits", "images", "requests"]
        assert [(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows[1:]] == [
            (h.moderator_id, "Moderator", 8, 2),
            (h.user_id, "Member", 4, 1),
        ]
        ledger = next(f for f in record.files if "ledger" in f.filename)
        assert len(list(csv.reader(io.StringIO(ledger.data.decode())))) == 3
        assert len(record.files) == 3


async def test_an_ordinary_member_cannot_see_the_server_or_others(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await imagine(env, "a fox", user=h.moderator_id)
        for options in ({"server": True}, {"member": h.moderator_id}):
            record = await h.slash("usage", options)
            assert_refused(record, "Only moderators")
            assert record.files == []


# --- /history --------------------------------------------------------------------------------


async def test_history_lists_jobs_with_prompts_statuses_and_links(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        ok = await imagine(env, "a red fox @everyone")
        env.api.fail_next("content_policy_violation")
        await imagine(env, "something forbidden", user=h.moderator_id)

        record = await mod(env, "history")

        assert_private_and_silent(record)
        text = record.text
        assert "`a red fox @everyone`" in text and "`something forbidden`" in text
        assert "✅ succeeded" in text and "❌ failed: content_rejected" in text
        assert f"<@{h.user_id}>" in text and f"<@{h.moderator_id}>" in text
        message = ok.result
        assert message is not None
        link = f"https://discord.com/channels/{h.guild_id}/{h.channel_id}/{message['id']}"
        assert f"[result]({link})" in text
        assert "4 credits" in text

        only_member = await mod(env, "history", {"member": h.user_id})
        assert "red fox" in only_member.text and "forbidden" not in only_member.text


async def test_history_never_shows_another_guilds_jobs(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await imagine(env, "our own fox")
        await env.store.create_job(
            NewJob(h.guild_id + 1, 1, h.user_id, "generate", "dall-e-3", "another guild secret")
        )

        record = await mod(env, "history", {"limit": 50})

        assert "our own fox" in record.text
        assert "another guild secret" not in record.text


async def test_history_keeps_discord_limits_with_many_long_prompts(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        for index in range(50):
            job = await env.store.create_job(
                NewJob(h.guild_id, h.channel_id, h.user_id, "edit", "gpt-image-1", "x" * 5000)
            )
            await env.store.mark_failed(h.guild_id, job.id, f"kind{index}")

        record = await mod(env, "history", {"limit": 50})

        bodies = [b for b in sent_payloads(record) if b.get("embeds")]
        assert len(bodies) >= 2  # split over several ephemeral messages
        for body in bodies:
            assert sum(len(e.get("description", "")) for e in body["embeds"]) <= 6000
            assert all(len(e["description"]) <= 4096 for e in body["embeds"])
        shown = re.findall(r"failed: kind(\d+)", record.text)
        assert len(shown) == 50


# --- /settings -------------------------------------------------------------------------------


async def test_allowed_models_restrict_imagine_and_move_the_default(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        record = await mod(env, "settings models", {"models": "dall-e-3, gpt-image-1-mini"})

        assert_private_and_silent(record)
        assert "**Allowed models:** dall-e-3, gpt-image-1-mini" in record.text
        assert "The default model is now dall-e-3" in record.text
        settings = await env.store.get_guild_settings(h.guild_id)
        assert settings.allowed_models == ("dall-e-3", "gpt-image-1-mini")
        refused = await imagine(env, "a fox", model="gpt-image-1")
        assert "gpt-image-1 isn't allowed on this server" in refused.text
        assert "Allowed models: dall-e-3, gpt-image-1-mini" in refused.text
        assert env.api.image_requests == []

        await imagine(env, "a default fox")
        assert env.api.image_requests[0].json["model"] == "dall-e-3"

        await mod(env, "settings models", {"models": "all"})
        assert (await env.store.get_guild_settings(h.guild_id)).allowed_models is None


async def test_unknown_models_are_refused_and_listed(tmp_path):
    async with bot_env(tmp_path) as env:
        record = await mod(env, "settings models", {"models": "dall-e-3, dalle-9, flux"})

        assert_refused(record, "Unknown models: dalle-9, flux. Available:")
        assert "gpt-image-1" in record.text
        settings = await env.store.get_guild_settings(env.harness.guild_id)
        assert settings.allowed_models is None


async def test_settings_default_model_channels_and_show(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings default-model", {"model": "gpt-image-1-mini"})
        await mod(env, "settings channels", {"action": "add", "channel": h.other_channel_id})
        shown = await mod(env, "settings show")

        assert "**Default model:** gpt-image-1-mini" in shown.text
        assert f"**Channels:** <#{h.other_channel_id}>" in shown.text
        refused = await imagine(env, "a fox")
        assert_refused(refused, f"I can only be used in <#{h.other_channel_id}>")
        made = await imagine(env, "a fox", channel=h.other_channel_id)
        assert len(made.files) == 1
        assert env.api.image_requests[0].json["model"] == "gpt-image-1-mini"

        missing = await mod(env, "settings channels", {"action": "remove", "channel": h.channel_id})
        assert_refused(missing, "isn't in the list")
        await mod(env, "settings channels", {"action": "clear"})
        assert (await env.store.get_guild_settings(h.guild_id)).allowed_channel_ids == ()
        wrong = await mod(env, "settings default-model", {"model": "dall-e-2x"})
        assert_refused(wrong, "Unknown model 'dall-e-2x'")


# --- the moderation log ----------------------------------------------------------------------


async def test_safety_refusals_are_posted_to_the_log_without_pinging(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        set_log = await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        assert f"**Moderation log:** <#{h.other_channel_id}>" in set_log.text
        env.api.fail_next("content_policy_violation")

        refused = await imagine(env, "a forbidden thing @everyone <@&123>")

        assert "safety system" in refused.text
        _log_set, post = env.discord.bot_messages(h.other_channel_id)  # first: the change itself
        (embed,) = post["embeds"]
        assert "safety system" in embed["title"]
        assert f"<@{h.user_id}>" in embed["description"]
        assert "`a forbidden thing @everyone <@&123>`" in embed["description"]
        assert "gpt-image-1" in embed["description"]
        posted = env.discord.requests_to("POST", f"/channels/{h.other_channel_id}/messages")
        assert [r.json["allowed_mentions"] for r in posted] == [NO_PINGS, NO_PINGS]
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert (job.status, job.error_kind) == ("failed", "content_rejected")
        assert await env.store.charges(h.guild_id, 0, 2**40) == []


async def test_quota_blocks_are_posted_to_the_log_once(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        await mod(env, "quota user-limit", {"credits": 4})
        await imagine(env, "a fox")
        await imagine(env, "a second fox")
        await imagine(env, "a third fox")  # the same member again: no second post

        # The first two posts are the moderators' own changes (the log channel, the limit).
        _log_set, _limit_set, post = env.discord.bot_messages(h.other_channel_id)
        (embed,) = post["embeds"]
        assert "Quota reached" in embed["title"]
        assert f"<@{h.user_id}>" in embed["description"]
        assert "4 of your 4 credits" in embed["description"]
        assert "`a second fox`" in embed["description"]


async def test_no_log_channel_means_no_posts_and_clearing_turns_it_off(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        cleared = await mod(env, "settings log-channel")
        assert "**Moderation log:** off" in cleared.text
        env.api.fail_next("content_policy_violation")

        await imagine(env, "a forbidden thing")

        # Only turning the log on and off; the refused job after it went nowhere.
        log_set, log_off = env.discord.bot_messages(h.other_channel_id)
        assert "**moderation log**" in log_set["embeds"][0]["description"]
        assert log_off["embeds"][0]["description"].endswith("**After:** off")


async def test_the_log_listener_goes_away_with_the_cog(tmp_path):
    async with bot_env(tmp_path) as env:
        listeners = env.bot.services.jobs.failure_listeners
        cog = env.bot.get_cog("Reports")
        assert cog is not None and cog.on_job_failed in listeners
        await env.bot.unload_extension("cogs.usage")
        assert cog.on_job_failed not in listeners


# --- concurrent moderators -------------------------------------------------------------------


async def test_settings_commands_at_once_all_survive(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        helpers = await h.add_role("Helpers")
        await mod(env, "settings show")  # the settings row is cached, as on a running bot

        for command, options in [
            ("settings default-model", {"model": "dall-e-3"}),
            ("settings channels", {"action": "add", "channel": h.other_channel_id}),
            ("settings moderator-role", {"action": "add", "role": helpers}),
            ("settings log-channel", {"channel": h.other_channel_id}),
        ]:
            await h.slash(command, options, user=h.moderator_id, settle=False)
        await h.settle()

        settings = await env.store.get_guild_settings(h.guild_id)
        assert settings.default_model == "dall-e-3"
        assert settings.allowed_channel_ids == (h.other_channel_id,)
        assert settings.moderator_role_ids == (helpers,)
        assert settings.mod_log_channel_id == h.other_channel_id


async def test_two_quota_commands_at_once_and_a_role_rule_all_survive(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        vip = await h.add_role("VIP")
        await mod(env, "quota role", {"role": vip, "rule": "unlimited"})
        await mod(env, "quota show")  # the policy is cached, as on a running bot

        for command, options in [
            ("quota cooldown", {"seconds": 30}),
            ("quota in-flight", {"count": 5}),
            ("quota user-limit", {"credits": 7}),
        ]:
            await h.slash(command, options, user=h.moderator_id, settle=False)
        await h.settle()

        policy = await env.store.get_quota_policy(h.guild_id)
        assert (policy.cooldown_seconds, policy.max_in_flight, policy.user_limit) == (30, 5, 7)
        assert {r: rule.kind for r, rule in policy.roles.items()} == {vip: "unlimited"}


# --- in the moderator's language -------------------------------------------------------------


async def test_refusals_reach_a_moderator_in_their_language(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness

        async def as_mod(name: str, options: dict[str, Any], locale: str) -> InteractionRecord:
            return await h.slash(name, options, user=h.moderator_id, locale=locale)

        unknown = await as_mod("settings models", {"models": "dall-e-3, dalle-9, flux"}, "ru")
        assert_refused(unknown, "Неизвестные модели: dalle-9, flux. Доступны: ")
        one = await as_mod("settings models", {"models": "dalle-9"}, "ru")
        assert_refused(one, "Неизвестная модель: dalle-9. Доступны: ")
        # Options are named as the moderator's Discord shows them.
        empty = await as_mod("quota user-limit", {}, "ru")
        assert_refused(
            empty, "Укажите число кредитов, число изображений модели или `без_лимита: True`."
        )
        role = await h.add_role("Some role")
        rule = await as_mod("quota role", {"role": role, "rule": "blocked", "credits": 3}, "de")
        assert_refused(
            rule, "Credits und Bilder gehören nur zur Regel `Limit`, nicht zu `gesperrt`."
        )
        images = await as_mod("quota user-limit", {"images": 3}, "zh-CN")
        assert_refused(images, "请说明是哪个模型的图片：填写 `图片组` 时也要填写 `模型`。")
        size = await as_mod(
            "quota cost", {"model": "dall-e-3", "size": "999x999", "credits": 1}, "fr"
        )
        assert_refused(size, "dall-e-3 n'a pas de taille 999x999. Tailles : ")
        assert await env.store.get_quota_policy(h.guild_id) == QuotaPolicy(h.guild_id)


async def test_who_may_not_moderate_is_told_in_their_language(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        member = await h.slash("quota show", locale="ru")
        assert_refused(member, "Эту команду могут использовать только модераторы.")
        in_dm = await h.slash("quota show", user=h.moderator_id, dm=True, locale="ja")
        assert_refused(in_dm, "このコマンドはサーバー内でのみ使えます。")
        english = await h.slash("quota show", locale="en-US")
        assert_refused(english, MODERATORS_ONLY)


async def test_a_role_rule_is_confirmed_in_the_moderators_language(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        vip = await h.add_role("VIP")
        unlimited = await h.slash(
            "quota role", {"role": vip, "rule": "unlimited"}, user=h.moderator_id, locale="ru"
        )
        assert f"✅ <@&{vip}> без лимита." in unlimited.text
        limited = await h.slash(
            "quota role",
            {"role": vip, "rule": "limit", "credits": 3},
            user=h.moderator_id,
            locale="de",
        )
        assert f"✅ <@&{vip}> darf 3 Credits pro Tag nutzen." in limited.text


async def test_a_russian_moderators_settings_models_reply_is_in_russian(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        record = await h.slash(
            "settings models",
            {"models": "dall-e-3, gpt-image-1-mini"},
            user=h.moderator_id,
            locale="ru",
        )
        assert_private_and_silent(record)
        lines = record.text.splitlines()
        assert "Теперь модель по умолчанию — dall-e-3 (прежняя не разрешена)." in lines
        assert "**Разрешённые модели:** dall-e-3, gpt-image-1-mini" in lines
        assert "**Каналы:** все каналы" in lines
        assert "**Модераторы:** участники с правом «Управлять сервером»" in lines
        assert "**Журнал модерации:** выкл." in lines
        assert "**Проверка запросов:** выкл." in lines
        shown = await h.slash("settings show", user=h.moderator_id, locale="en-US")
        assert "**Allowed models:** dall-e-3, gpt-image-1-mini" in shown.text
