"""⭐ Save, /favourites and /show end to end, weeks later too: Discord's links to the files have
expired by then, so the bot reads the messages again for fresh ones."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import links
from bot.store.models import NewJob
from cogs.buttons import SAVED, UNSAVED
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord

JSON = dict[str, Any]
WEEKS = 3 * 7 * 24 * 3600.0


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, "PNG")
    return buffer.getvalue()


def centre(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((rgb.width // 2, rgb.height // 2))  # type: ignore[return-value]


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def labels(message: JSON) -> list[str]:
    return [c["label"] for row in message.get("components", []) for c in row["components"]]


def issued(query: dict[str, str]) -> int:
    """When the CDN signed a link (its ``is``, hex Unix time)."""
    return int(query["is"], 16)


def weeks_later(env: BotEnv, monkeypatch: pytest.MonkeyPatch) -> float:
    """Move the fake CDN's clock and the bot's link clock three weeks ahead; the new now."""
    later = time.time() + WEEKS
    env.discord.clock = lambda: later
    monkeypatch.setattr(links, "clock", lambda: later)
    return later


async def edit_from_message(env: BotEnv, rgb: tuple[int, int, int]) -> tuple[JSON, JSON]:
    """A member's photo edited with Edit image; (the photo's message, the result message)."""
    h = env.harness
    photo = h.build_message("my cat", attachments=[("cat.png", png(rgb))])
    opened = await h.context_menu("Edit image", message=photo)
    done = await h.submit_modal(opened.modal["custom_id"], {"prompt": "add a hat"})
    return photo, done.result


async def star(env: BotEnv, job_id: int, user: int | None = None) -> InteractionRecord:
    return await env.harness.click(f"img:star:{job_id}", user=user)


async def test_star_saves_and_a_second_press_removes(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        result = (await h.slash("imagine", {"prompt": "a fox"})).result
        assert custom_ids(result)[:4] == [
            "img:reroll:1",
            "img:edit:1",
            "img:star:1",
            "img:delete:1",
        ]

        saved = await star(env, 1)
        assert saved.ephemeral and SAVED.format(favourites="/favourites") in saved.text
        assert await env.store.is_favourite(h.guild_id, h.user_id, 1)
        # Someone else's star is their own.
        assert not await env.store.is_favourite(h.guild_id, h.moderator_id, 1)

        removed = await star(env, 1)
        assert removed.ephemeral and UNSAVED in removed.text
        assert not await env.store.is_favourite(h.guild_id, h.user_id, 1)
        assert "Saved" not in " ".join(env.discord.seen_by_others())
        h.assert_clean()


async def test_favourites_lists_saved_jobs_newest_first(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        empty = await h.slash("favourites")
        assert empty.ephemeral and "You haven't saved anything yet" in empty.text

        await h.slash("imagine", {"prompt": "a `sly` fox @everyone"})
        await h.slash("imagine", {"prompt": "an owl", "model": "dall-e-2", "size": "256x256"})
        await star(env, 2)
        await star(env, 1)

        record = await h.slash("favourites")

        assert record.ephemeral
        (embed,) = record.original["embeds"]  # type: ignore[index]
        assert embed["title"] == "Your favourites (2)"
        job1 = await env.store.get_job(h.guild_id, 1)
        assert job1 is not None
        lines = embed["description"].split("\n")
        assert lines[0] == f"**#1** · /imagine · gpt-image-1 · made <t:{int(job1.created_at)}:R>"
        assert lines[1] == "> `a ˋslyˋ fox @everyone`"  # quoted: no markdown, no mention
        assert lines[2].startswith("**#2** · /imagine · dall-e-2 · made <t:")
        assert lines[3:] == ["> `an owl`", "Post one again with `/show job:<number>`."]
        assert record.callback.json["data"]["flags"] & 64
        assert all(r.json.get("allowed_mentions", {}).get("parse") == [] for r in record.edits)


async def test_favourites_come_in_pages(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        for n in range(25):
            job = await env.store.create_job(
                NewJob(guild_id=h.guild_id, channel_id=h.channel_id, user_id=h.user_id,
                       operation="generate", model="gpt-image-1", prompt=f"picture {n}")
            )  # fmt: skip
            await env.store.toggle_favourite(h.guild_id, h.user_id, job.id)

        first = await h.slash("favourites")
        second = await h.slash("favourites", {"page": 2})
        beyond = await h.slash("favourites", {"page": 3})

        assert "Your favourites (25), page 1 of 2" in first.text
        assert first.text.count("**#") == 20 and "**#25**" in first.text
        assert "Your favourites (25), page 2 of 2" in second.text
        assert second.text.count("**#") == 5 and "**#1**" in second.text
        assert "There is no page 3: your 25 favourites fill 2 pages." in beyond.text


async def test_show_weeks_later_reads_fresh_links_and_its_buttons_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        photo, first = await edit_from_message(env, (200, 30, 30))
        made = env.discord.files_of(first)
        await star(env, 1)
        later = weeks_later(env, monkeypatch)
        old_link = first["attachments"][0]["url"]
        assert links.expired(old_link)
        downloads_before = len(env.discord.downloads)

        shown = await h.slash("show", {"job": 1})

        again = shown.result
        assert not again["flags"] & 64 and again["id"] != first["id"]
        assert [f.data for f in env.discord.files_of(again)] == [f.data for f in made]
        assert f"/channels/{h.guild_id}/{h.channel_id}/{first['id']}" in again["content"]
        (embed,) = again["embeds"]
        assert embed["title"] == "Edited with gpt-image-1" and embed["description"] == "add a hat"
        assert "job 1" in embed["footer"]["text"]
        assert {"img:reroll:1", "img:edit:1", "img:star:1", "img:delete:1"} <= set(
            custom_ids(again)
        )
        # The result was read again for a fresh link; the expired one was never tried.
        assert env.discord.requests_to("GET", f"/channels/{h.channel_id}/messages/{first['id']}")
        fetched = env.discord.downloads[downloads_before:]
        assert fetched and all(r.status == 200 and issued(r.query) == int(later) for r in fetched)

        # Re-roll on the message posted again: the photo's link has expired too, so the bot
        # reads the photo's message again and sends the photo as it was.
        rerolled = await h.click("img:reroll:1", message=again)

        request = env.api.image_requests[-1]
        (sent,) = request.files("image")
        assert request.endpoint == "edits" and centre(sent.data) == (200, 30, 30)
        assert env.discord.requests_to("GET", f"/channels/{h.channel_id}/messages/{photo['id']}")
        assert all(r.status == 200 for r in env.discord.downloads)
        assert rerolled.result["attachments"]
        job = await env.store.get_job(h.guild_id, 2)
        assert job is not None and job.status == "succeeded"

        # Edit on it edits the image posted again.
        opened = await h.click("img:edit:1", message=again)
        edited = await h.submit_modal(opened.modal["custom_id"], {"prompt": "now a scarf"})
        (sent,) = env.api.image_requests[-1].files("image")
        assert centre(sent.data) == centre(made[0].data)
        assert edited.result["attachments"]
        h.assert_clean()


async def test_an_expired_upload_of_the_command_itself_is_said_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash(
            "edit", {"prompt": "make it blue"}, attachments={"image": ("cat.png", png((0, 200, 0)))}
        )
        weeks_later(env, monkeypatch)
        downloads = len(env.discord.downloads)

        record = await h.click("img:reroll:1")

        assert "Discord's link to cat.png has expired" in record.failure_text
        assert "attached to the command itself" in record.failure_text
        assert "/edit" in record.failure_text
        assert len(env.discord.downloads) == downloads  # no request for a link known to be dead
        assert len(env.api.image_requests) == 1


async def test_show_someone_elses_job_is_for_moderators_or_who_saved_it(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("imagine", {"prompt": "a fox"}, user=h.moderator_id)
        other = await h.add_member("other")

        refused = await h.slash("show", {"job": 1})
        assert refused.ephemeral and "Job 1 is someone else's." in refused.text

        by_moderator = await h.slash("show", {"job": 1}, user=h.moderator_id)
        assert by_moderator.result["attachments"]

        await star(env, 1, user=other)
        by_saver = await h.slash("show", {"job": 1}, user=other)
        assert by_saver.result["attachments"]

        missing = await h.slash("show", {"job": 99})
        assert missing.ephemeral and "There is no job 99 on this server." in missing.text
        assert len(env.api.image_requests) == 1


async def test_show_of_a_deleted_result_says_so_and_offers_reroll(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        result = (await h.slash("imagine", {"prompt": "a fox"})).result
        env.discord.messages.pop(int(result["id"]))

        shown = await h.slash("show", {"job": 1})

        assert shown.ephemeral
        assert "The result of job 1 has been deleted" in shown.text
        assert custom_ids(shown.original or {}) == ["img:reroll:1"]
        rerolled = await h.click("img:reroll:1", message=shown.original)
        assert rerolled.result["attachments"] and len(env.api.image_requests) == 2


async def test_show_keeps_low_moderation_jobs_in_age_restricted_channels(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        job = await env.store.create_job(
            NewJob(guild_id=h.guild_id, channel_id=h.channel_id, user_id=h.user_id,
                   operation="generate", model="gpt-image-1", prompt="a fox",
                   params={"moderation": "low"})
        )  # fmt: skip
        await env.store.mark_succeeded(h.guild_id, job.id)

        record = await h.slash("show", {"job": job.id})

        assert record.ephemeral and "moderation low" in record.text
        assert "age-restricted" in record.text


async def test_reroll_weeks_later_after_the_photo_was_deleted_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        photo, _ = await edit_from_message(env, (10, 20, 200))
        weeks_later(env, monkeypatch)
        env.discord.messages.pop(int(photo["id"]))

        record = await h.click("img:reroll:1")

        assert "The message cat.png was on has been deleted" in record.failure_text
        assert "Nothing was charged" in record.failure_text
        assert len(env.api.image_requests) == 1
        job = await env.store.get_job(h.guild_id, 2)
        assert job is not None and (job.status, job.error_kind) == ("failed", "bad_image")


async def test_show_that_cant_download_the_images_tells_only_the_member(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        first = (await h.slash("imagine", {"prompt": "a fox"})).result
        env.discord.fail_next("GET", "/attachments/*", status=404)

        record = await h.slash("show", {"job": 1})

        assert "I couldn't download generate-1-1.png" in record.failure_text
        assert [m["id"] for m in env.discord.bot_messages() if m["attachments"]] == [first["id"]]
        assert record.original is None  # the public "thinking…" was taken away


# --- in the member's language --------------------------------------------------------------------


async def test_a_japanese_member_reads_their_favourites_in_japanese(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        empty = await h.slash("favourites", locale="ja")
        (embed,) = empty.original["embeds"]  # type: ignore[index]
        assert embed["title"] == "お気に入り（0）"
        assert embed["description"] == (
            "まだ何も保存していません。結果の下の ⭐ 保存 を押すと、ここに残せます。"
        )

        await h.slash("imagine", {"prompt": "a fox"}, locale="ja")
        await star(env, 1)
        listed = await h.slash("favourites", locale="ja")
        (embed,) = listed.original["embeds"]  # type: ignore[index]
        assert embed["title"] == "お気に入り（1）"
        job = await env.store.get_job(h.guild_id, 1)
        assert job is not None
        # The commands read as the member's Discord shows them.
        assert embed["description"].split("\n") == [
            f"**#1** · /画像生成 · gpt-image-1 · <t:{int(job.created_at)}:R>に作成",
            "> `a fox`",
            "`/表示 ジョブ:<番号>` でもう一度投稿できます。",
        ]
        beyond = await h.slash("favourites", {"page": 3}, locale="ja")
        assert "3 ページ目はありません。お気に入り 1 件は 1 ページに収まっています。" in beyond.text


async def test_show_refuses_and_reposts_in_the_members_language(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("imagine", {"prompt": "a fox"}, user=h.moderator_id)
        refused = await h.slash("show", {"job": 1}, locale="zh-CN")
        assert refused.ephemeral
        assert "任务 1 是别人的。你可以展示自己的任务和你收藏的任务；管理员可以展示任何任务。" in (
            refused.text
        )
        missing = await h.slash("show", {"job": 99}, locale="ru")
        assert "На этом сервере нет задания 99." in missing.text

        shown = await h.slash("show", {"job": 1}, user=h.moderator_id, locale="de")
        assert shown.result["content"].startswith("Auftrag 1, zuerst gepostet <t:")
        (embed,) = shown.result["embeds"]
        assert embed["title"] == "Erstellt mit gpt-image-1"
        assert labels(shown.result)[:4] == ["Neu würfeln", "Bearbeiten", "Speichern", "Löschen"]

        job = await env.store.get_job(h.guild_id, 1)
        assert job is not None and job.result_message_id
        env.discord.messages.pop(job.result_message_id)
        gone = await h.slash("show", {"job": 1}, user=h.moderator_id, locale="ru")
        assert (
            gone.ephemeral
            and (
                "Результат задания 1 удалён, поэтому я не могу показать его изображения. «Ещё раз» "
                "создаст новые с теми же настройками; кредиты спишутся как за новое задание."
            )
            in gone.text
        )
        assert labels(gone.original or {}) == ["Ещё раз"]
