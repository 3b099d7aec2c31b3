"""The audit trail end to end: each /settings and /quota change is one record and one log post.

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.moderation import MODERATORS_ONLY
from cogs.moderation import CHANGE_TITLE, NOTHING_CHANGED
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.test_e2e_moderation import (
    NO_PINGS,
    assert_private_and_silent,
    imagine,
    mod,
    sent_payloads,
)

RELATIVE = re.compile(r"<t:\d+:R>")
Options = Callable[[BotEnv, int], dict[str, Any]]


def log_posts(env: BotEnv, record: InteractionRecord | None = None) -> list[dict[str, Any]]:
    """What the bot posted in the moderation log channel (while handling ``record``, if given)."""
    channel = env.harness.other_channel_id
    messages = record.messages if record is not None else env.discord.bot_messages()
    return [m for m in messages if int(m["channel_id"]) == channel]


async def with_log(env: BotEnv) -> None:
    await mod(env, "settings log-channel", {"channel": env.harness.other_channel_id})


# (command, options given the env and a fresh role, what, before, after)
COMMANDS: list[tuple[str, Options, str, str, str]] = [
    (
        "settings models",
        lambda env, role: {"models": "gpt-image-1, dall-e-3"},
        "allowed models",
        "all",
        "gpt-image-1, dall-e-3",
    ),
    (
        "settings default-model",
        lambda env, role: {"model": "dall-e-3"},
        "default model",
        "the bot's default",
        "dall-e-3",
    ),
    (
        "settings channels",
        lambda env, role: {"action": "add", "channel": env.harness.channel_id},
        "channels",
        "every channel",
        "<#{channel}>",
    ),
    (
        "settings moderator-role",
        lambda env, role: {"action": "add", "role": role},
        "moderator roles",
        "none",
        "<@&{role}>",
    ),
    (
        "quota user-limit",
        lambda env, role: {"credits": 8, "window": "week"},
        "member limit",
        "20 credits per day",
        "8 credits per week",
    ),
    (
        "quota role",
        lambda env, role: {"role": role, "rule": "unlimited"},
        "role rule for <@&{role}>",
        "the member limit",
        "unlimited",
    ),
    (
        "quota server-budget",
        lambda env, role: {"credits": 500},
        "server budget",
        "none",
        "500 credits per month",
    ),
    ("quota cooldown", lambda env, role: {"seconds": 1}, "cooldown", "none", "1 second"),
    ("quota in-flight", lambda env, role: {"count": 3}, "requests at a time", "2", "3"),
    (
        "quota cost",
        lambda env, role: {"model": "gpt-image-1", "quality": "low", "credits": 1},
        "price for gpt-image-1, any size, low quality",
        "the default price",
        "1 credit per image",
    ),
    (
        "quota exempt-moderators",
        lambda env, role: {"enabled": True},
        "moderators",
        "the same limits as everyone",
        "no member limit",
    ),
]


@pytest.mark.parametrize(
    ("command", "options", "what", "before", "after"), COMMANDS, ids=[c[0] for c in COMMANDS]
)
async def test_each_change_is_one_record_and_one_log_post_and_a_repeat_is_neither(
    tmp_path, command, options, what, before, after
):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await with_log(env)
        role = await h.add_role("Helpers")
        earlier = await env.store.recent_changes(h.guild_id)
        names = {"role": role, "channel": h.channel_id}
        what, after = what.format(**names), after.format(**names)

        record = await mod(env, command, options(env, role))

        assert_private_and_silent(record)
        assert NOTHING_CHANGED not in record.text
        latest, *rest = await env.store.recent_changes(h.guild_id)
        assert rest == earlier
        assert (latest.actor_id, latest.what, latest.before, latest.after) == (
            h.moderator_id,
            what,
            before,
            after,
        )
        (post,) = log_posts(env, record)
        (embed,) = post["embeds"]
        assert embed["title"] == CHANGE_TITLE
        lines = embed["description"].splitlines()
        assert lines[0].startswith(f"By <@{h.moderator_id}> ") and lines[0].endswith(f"**{what}**")
        assert RELATIVE.search(lines[0])
        assert lines[1:] == [f"**Before:** {before}", f"**After:** {after}"]
        sent = env.discord.requests_to("POST", f"/channels/{h.other_channel_id}/messages")
        assert sent[-1].json["allowed_mentions"] == NO_PINGS

        again = await mod(env, command, options(env, role))

        assert NOTHING_CHANGED in again.text
        assert await env.store.recent_changes(h.guild_id) == [latest, *earlier]
        assert log_posts(env, again) == []


async def test_the_log_channel_change_is_posted_in_the_new_log_and_turning_it_off_in_the_old(
    tmp_path,
):
    async with bot_env(tmp_path) as env:
        h = env.harness
        log = f"<#{h.other_channel_id}>"

        turned_on = await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        (post,) = log_posts(env, turned_on)
        assert post["embeds"][0]["description"].endswith(f"**Before:** off\n**After:** {log}")
        await mod(env, "settings log-channel")
        still_off = await mod(env, "settings log-channel")

        # Turning it off is told in the log that was turned off; nothing after that.
        _, farewell = log_posts(env)
        assert farewell["embeds"][0]["description"].endswith(f"**Before:** {log}\n**After:** off")
        assert NOTHING_CHANGED in still_off.text
        changes = await env.store.recent_changes(h.guild_id)
        assert [(c.what, c.before, c.after) for c in changes] == [
            ("moderation log", log, "off"),
            ("moderation log", "off", log),
        ]


async def test_a_reset_of_a_members_usage_is_recorded_and_posted_once(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await with_log(env)
        await imagine(env, "a fox")

        reset = await mod(env, "quota reset", {"member": h.user_id})
        again = await mod(env, "quota reset", {"member": h.user_id})

        latest = (await env.store.recent_changes(h.guild_id))[0]
        assert (latest.actor_id, latest.what, latest.before, latest.after) == (
            h.moderator_id,
            f"usage reset for <@{h.user_id}>",
            "4 credits used today",
            "0 credits used today",
        )
        (post,) = log_posts(env, reset)
        assert f"**usage reset for <@{h.user_id}>**" in post["embeds"][0]["description"]
        assert NOTHING_CHANGED in again.text and log_posts(env, again) == []
        assert len(await env.store.recent_changes(h.guild_id)) == 2  # the log channel, the reset


async def test_settings_changes_lists_who_changed_what_newest_first_without_pinging(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        empty = await mod(env, "settings changes")
        assert "No changes yet." in empty.text
        await mod(env, "quota user-limit", {"credits": 8, "window": "week"})
        await mod(env, "settings default-model", {"model": "dall-e-3"})
        await env.store.change_quota_policy(
            h.guild_id + 1, lambda p: dataclasses.replace(p, cooldown_seconds=5)
        )  # another server's change

        record = await mod(env, "settings changes")

        assert_private_and_silent(record)
        lines = [line for line in record.text.splitlines() if line.startswith("<t:")]
        assert [re.sub(r"^<t:\d+:f> ", "", line) for line in lines] == [
            f"<@{h.moderator_id}> default model: the bot's default → dall-e-3",
            f"<@{h.moderator_id}> member limit: 20 credits per day → 8 credits per week",
        ]
        assert "Recent changes (2)" in record.text
        only_one = await mod(env, "settings changes", {"limit": 1})
        assert "member limit" not in only_one.text and "default model" in only_one.text


async def test_settings_changes_keeps_discord_limits_with_many_long_changes(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        for index in range(60):
            await env.store.record_change(h.guild_id, None, f"thing {index}", "x" * 900, "y" * 900)

        record = await mod(env, "settings changes", {"limit": 50})

        bodies = [b for b in sent_payloads(record) if b.get("embeds")]
        assert 2 <= len(bodies) <= 5  # several ephemeral messages, never a flood
        for body in bodies:
            assert sum(len(e.get("description", "")) for e in body["embeds"]) <= 6000
            assert all(len(e["description"]) <= 4096 for e in body["embeds"])
        shown = re.findall(r"thing (\d+):", record.text)
        assert shown == [str(i) for i in range(59, 9, -1)]  # all fifty, newest first


async def test_an_ordinary_member_cannot_list_the_changes(tmp_path):
    async with bot_env(tmp_path) as env:
        await mod(env, "quota cooldown", {"seconds": 5})

        record = await env.harness.slash("settings changes")

        assert record.ephemeral and MODERATORS_ONLY in record.text
        assert "cooldown" not in record.text
