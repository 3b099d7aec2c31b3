"""Members by name end to end: the name each request carried reaches the reports moderators read.

The bot asks for no privileged members intent, so discord.py's member cache stays empty (as in
production): names come from the interaction or message that asked.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image

from tests.fakes.bot_env import BotEnv, bot_env

FORMULA_NICK = '=HYPERLINK("http://evil.example","x")'


def nickname(env: BotEnv, user_id: int, nick: str) -> None:
    """Give a member a server nickname: what Discord sends with their next interaction."""
    env.harness.members[user_id]["nick"] = nick


def members_rows(files: list) -> list[list[str]]:
    members = next(f for f in files if "members" in f.filename)
    return list(csv.reader(io.StringIO(members.data.decode("utf-8"))))


async def test_the_members_csv_names_members_by_their_requests_and_runs_no_formula(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        assert h.guild.get_member(h.user_id) is None  # no member cache, as in production
        nickname(env, h.user_id, FORMULA_NICK)
        await h.slash("imagine", {"prompt": "a fox"})
        await h.slash("imagine", {"prompt": "two owls", "n": 2}, user=h.moderator_id)

        record = await h.slash("usage", {"server": True}, user=h.moderator_id)

        rows = members_rows(record.files)
        assert rows[1:] == [
            [str(h.moderator_id), "Moderator", "8", "2", "1"],
            [str(h.user_id), "'" + FORMULA_NICK, "4", "1", "1"],
        ]
        assert f"1. <@{h.moderator_id}> `Moderator` — 8 credits, 2 images" in record.text
        assert f"2. <@{h.user_id}> `{FORMULA_NICK}` — 4 credits" in record.text


async def test_a_member_who_changed_name_is_listed_under_the_latest(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("imagine", {"prompt": "a fox"})
        nickname(env, h.user_id, "Renamed")
        await h.slash("imagine", {"prompt": "a badger"})

        record = await h.slash("usage", {"server": True}, user=h.moderator_id)

        assert members_rows(record.files)[1:] == [[str(h.user_id), "Renamed", "8", "2", "2"]]
        first, second = sorted(await env.store.recent_jobs(h.guild_id), key=lambda j: j.id)
        assert (first.requester_name, second.requester_name) == ("Member", "Renamed")


async def test_history_and_the_moderation_log_name_the_member_without_markdown(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("settings log-channel", {"channel": h.other_channel_id}, user=h.moderator_id)
        nickname(env, h.user_id, "**bold** `tick` @everyone")
        env.api.fail_next("content_policy_violation")
        await h.slash("imagine", {"prompt": "something forbidden"})

        history = await h.slash("history", user=h.moderator_id)

        shown = "`**bold** ˋtickˋ @everyone`"
        assert f"<@{h.user_id}> {shown}" in history.text
        _log_set, post = env.discord.bot_messages(h.other_channel_id)  # first: the change itself
        assert (
            f"**Member:** <@{h.user_id}> {shown} in <#{h.channel_id}>"
            in (post["embeds"][0]["description"])
        )


async def test_a_reply_to_edit_job_keeps_the_authors_name(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "orange").save(buffer, "PNG")
    async with bot_env(tmp_path) as env:
        h = env.harness
        nickname(env, h.user_id, "Cat Person")
        target = h.build_message(
            "cat", author=h.moderator_id, attachments=[("c.png", buffer.getvalue())]
        )
        await h.message(f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id])

        (job,) = await env.store.recent_jobs(h.guild_id)
        assert (job.status, job.requester_name) == ("succeeded", "Cat Person")
