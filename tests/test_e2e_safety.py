"""A server's safety settings end to end: moderation low, spoilers, blocked words, the prompt check.

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store. What
is asserted is what members and moderators notice: what the Images API was sent, what the fake
Discord shows, what is stored.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.i18n import Text
from bot.safety import CHECK_MISSING, LOW_NOT_ALLOWED, LOW_ONLY_AGE_RESTRICTED
from cogs.moderation import CHANGE_TITLE
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.openai_server import FakeImagesServer

JSON = dict[str, Any]
NOTHING_CHARGED = "Nothing was charged for this."


async def mod(env: BotEnv, name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
    """A moderator (Manage Server) runs a slash command."""
    return await env.harness.slash(name, options, user=env.harness.moderator_id)


async def imagine(
    env: BotEnv, prompt: str = "a red fox", channel: int | None = None, **options: Any
) -> InteractionRecord:
    """The ordinary member runs /imagine (in #general unless told otherwise)."""
    return await env.harness.slash("imagine", {"prompt": prompt, **options}, channel=channel)


async def with_log(env: BotEnv) -> int:
    """Turn the moderation log on (in #other); return its channel."""
    await mod(env, "settings log-channel", {"channel": env.harness.other_channel_id})
    return env.harness.other_channel_id


def log_posts(env: BotEnv, channel: int) -> list[JSON]:
    """The embeds the bot posted to the moderation log, but the settings changes (the audit
    trail's, tested in tests/test_e2e_audit.py)."""
    embeds = [embed for post in env.discord.bot_messages(channel) for embed in post["embeds"]]
    return [e for e in embeds if e.get("title") != CHANGE_TITLE]


def channel_link(env: BotEnv, channel: int | None = None) -> str:
    h = env.harness
    return f"https://discord.com/channels/{h.guild_id}/{channel or h.channel_id}"


async def failed_job(env: BotEnv) -> tuple[str, str | None]:
    (job,) = await env.store.recent_jobs(env.harness.guild_id)
    return job.status, job.error_kind


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "PNG")
    return out.getvalue()


# --- moderation low ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "told"), [(False, LOW_NOT_ALLOWED), (True, LOW_ONLY_AGE_RESTRICTED)]
)
async def test_moderation_low_in_an_ordinary_channel_is_refused_and_nothing_is_sent(
    tmp_path: Path, setting: bool, told: Text
) -> None:
    async with bot_env(tmp_path) as env:
        await mod(env, "settings safety", {"low_moderation": setting})

        refused = await imagine(env, moderation="low")

        assert refused.ephemeral and str(told) in refused.text
        assert NOTHING_CHARGED in refused.text
        assert env.api.image_requests == []
        assert await failed_job(env) == ("failed", "safety")
        assert await env.store.charges(env.harness.guild_id, 0, 2**40) == []


async def test_age_restricted_channel_with_the_setting_on_sends_moderation_low(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        nsfw = await h.add_channel("after-dark", nsfw=True)
        before = await imagine(env, channel=nsfw)  # the setting is off: the usual filtering
        await mod(env, "settings safety", {"low_moderation": True})

        made = await imagine(env, channel=nsfw)
        chosen = await imagine(env, channel=nsfw, moderation="auto")
        asked_low = await imagine(env, channel=nsfw, moderation="low")

        assert all(len(r.files) == 1 for r in (before, made, chosen, asked_low))
        sent = [r.json.get("moderation") for r in env.api.image_requests]
        assert sent == [None, "low", "auto", "low"]  # a member's own choice stands


async def test_threads_follow_their_parent_channel(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        nsfw = await h.add_channel("after-dark", nsfw=True)
        await mod(env, "settings safety", {"low_moderation": True})
        ordinary_thread = await h.add_thread(h.channel_id)
        unknown_thread = await h.add_thread(h.channel_id, cached=False)
        nsfw_thread = await h.add_thread(nsfw, cached=False)

        for thread in (ordinary_thread, unknown_thread, nsfw_thread):
            assert len((await imagine(env, channel=thread)).files) == 1
        refused = await imagine(env, channel=ordinary_thread, moderation="low")

        assert str(LOW_ONLY_AGE_RESTRICTED) in refused.text
        sent = [r.json.get("moderation") for r in env.api.image_requests]
        assert sent == [None, None, "low"]  # never in threads of ordinary channels


async def test_a_model_without_a_moderation_parameter_gets_none(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        nsfw = await env.harness.add_channel("after-dark", nsfw=True)
        await mod(env, "settings safety", {"low_moderation": True})

        made = await imagine(env, channel=nsfw, model="dall-e-3")

        assert len(made.files) == 1
        (request,) = env.api.image_requests
        assert "moderation" not in request.json


# --- spoilers ----------------------------------------------------------------------------------


async def test_spoilers_hide_results_outside_age_restricted_channels_only(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        nsfw = await h.add_channel("after-dark", nsfw=True)
        plain = await imagine(env)
        await mod(env, "settings safety", {"spoilers": True})

        hidden = await imagine(env, n=2)
        in_thread = await imagine(env, channel=await h.add_thread(h.channel_id))
        shown = await imagine(env, channel=nsfw)

        assert [f.filename for f in plain.files] == ["generate-1-1.png"]
        assert [f.filename for f in hidden.files] == [
            "SPOILER_generate-2-1.png",
            "SPOILER_generate-2-2.png",
        ]
        assert [a["filename"] for a in hidden.result["attachments"]] == [
            "SPOILER_generate-2-1.png",
            "SPOILER_generate-2-2.png",
        ]
        assert all(f.filename.startswith("SPOILER_") for f in in_thread.files)
        assert [f.filename for f in shown.files] == ["generate-4-1.png"]


async def test_spoilered_previews_are_attachments_not_embed_images(tmp_path: Path) -> None:
    api = FakeImagesServer(partial_delay=0.05)
    async with api, bot_env(tmp_path, api=api, partial_images=1) as env:
        await mod(env, "settings safety", {"spoilers": True})

        record = await imagine(env)

        previews = [r for r in record.edits if r.files and 200 <= r.status < 300]
        assert previews
        for edit in previews:
            (upload,) = edit.files
            assert upload.filename == "SPOILER_preview.jpg"  # previews are small JPEGs
            (embed,) = edit.json["embeds"]
            assert "image" not in embed  # Discord would show an embed's image unblurred
        assert record.result["attachments"][0]["filename"] == "SPOILER_generate-1-1.png"


# --- blocked words -----------------------------------------------------------------------------


async def test_blocked_words_and_patterns_are_refused_logged_and_stored(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        log = await with_log(env)
        for word in ("Grumpy Goblin", "cat*"):
            added = await mod(env, "settings blocked-words", {"action": "add", "word": word})
            assert added.ephemeral and "Blocked words changed." in added.text
        settings = await env.store.get_guild_settings(h.guild_id)
        assert settings.blocked_words == ("grumpy goblin", "cat*")

        by_word = await imagine(env, "a GRUMPY  goblin in a hat")
        by_pattern = await imagine(env, "a field of Catnip")
        fine = await imagine(env, "a bobcat and a concatenated goblin")

        assert '"grumpy goblin"' in by_word.text and NOTHING_CHARGED in by_word.text
        assert '"catnip"' in by_pattern.text and by_pattern.ephemeral
        assert len(fine.files) == 1
        assert [r.json["prompt"] for r in env.api.image_requests] == [
            "a bobcat and a concatenated goblin"
        ]
        jobs = await env.store.recent_jobs(h.guild_id)
        assert [(j.status, j.error_kind) for j in jobs] == [
            ("succeeded", None),
            ("failed", "blocked"),
            ("failed", "blocked"),
        ]
        first, second = log_posts(env, log)
        assert "safety settings" in first["title"]
        assert f"[jump]({channel_link(env)})" in first["description"]
        assert "`grumpy goblin`" in first["description"]
        assert "`a GRUMPY goblin in a hat`" in first["description"]  # the prompt, quoted
        assert "`cat*`" in second["description"]
        posts = env.discord.requests_to("POST", f"/channels/{log}/messages")
        assert all(post.json["allowed_mentions"] == {"parse": []} for post in posts)


async def test_blocked_words_in_a_reply_link_the_members_message(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        log = await with_log(env)
        await mod(env, "settings blocked-words", {"action": "add", "word": "goblin"})
        target = h.build_message("", attachments=[("cat.png", png())])

        record = await h.message(
            f"{h.bot_mention} add a goblin", reference=target["id"], mentions=[h.bot_id]
        )

        assert env.api.image_requests == []
        assert any('"goblin"' in m["embeds"][0]["description"] for m in record.messages)
        (entry,) = log_posts(env, log)
        (asked,) = [
            m for m in env.discord.messages.values() if m.get("content", "").endswith("goblin")
        ]
        assert f"[jump]({channel_link(env)}/{asked['id']})" in entry["description"]
        assert await failed_job(env) == ("failed", "blocked")


async def test_moderators_edit_the_blocked_words(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        gid = env.harness.guild_id
        await mod(env, "settings blocked-words", {"action": "add", "word": "ogre"})
        again = await mod(env, "settings blocked-words", {"action": "add", "word": "OGRE"})
        assert (await env.store.get_guild_settings(gid)).blocked_words == ("ogre",)
        assert '**Blocked words:** "ogre"' in again.text

        missing = await mod(env, "settings blocked-words", {"action": "remove", "word": "troll"})
        stars = await mod(env, "settings blocked-words", {"action": "add", "word": "* **"})
        no_word = await mod(env, "settings blocked-words", {"action": "add"})

        assert '"troll" isn\'t in the list.' in missing.text
        assert "at least one letter" in stars.text
        assert "Say which one to add." in no_word.text
        await mod(env, "settings blocked-words", {"action": "remove", "word": "ogre"})
        assert (await env.store.get_guild_settings(gid)).blocked_words == ()
        for n in range(100):
            await mod(env, "settings blocked-words", {"action": "add", "word": f"w{n}"})
        full = await mod(env, "settings blocked-words", {"action": "add", "word": "one more"})
        assert "already has 100 blocked words" in full.text
        assert len((await env.store.get_guild_settings(gid)).blocked_words) == 100
        cleared = await mod(env, "settings blocked-words", {"action": "clear"})
        assert "**Blocked words:** none" in cleared.text
        assert (await env.store.get_guild_settings(gid)).blocked_words == ()


async def test_members_cannot_change_safety_settings(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        refused = await env.harness.slash("settings safety", {"low_moderation": True})
        word = await env.harness.slash("settings blocked-words", {"action": "clear"})

        assert "Only moderators" in refused.text and "Only moderators" in word.text
        settings = await env.store.get_guild_settings(env.harness.guild_id)
        assert not settings.low_moderation


async def test_settings_show_the_safety_settings(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        shown = await mod(env, "settings show")
        assert "**Less strict filtering (moderation low):** never" in shown.text
        assert "**Results as spoilers:** off" in shown.text
        assert "**Prompt check:** off" in shown.text

        changed = await mod(env, "settings safety", {"low_moderation": True, "prompt_check": True})
        empty = await mod(env, "settings safety")

        assert "✅ Safety settings changed." in changed.text
        assert "**Less strict filtering (moderation low):** in age-restricted channels" in (
            changed.text
        )
        assert "**Prompt check:** on" in changed.text
        assert "**Results as spoilers:** off" in changed.text  # not given: left as it was
        assert "Choose at least one of" in empty.text


# --- the prompt check --------------------------------------------------------------------------


async def test_a_flagged_prompt_is_refused_before_any_image_request(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        log = await with_log(env)
        await mod(env, "settings safety", {"prompt_check": True})

        refused = await imagine(env, "a murder scene")
        fine = await imagine(env, "a garden party")

        assert refused.ephemeral
        assert "flagged your prompt for violence and graphic violence" in refused.text
        assert NOTHING_CHARGED in refused.text
        assert [r.json["prompt"] for r in env.api.image_requests] == ["a garden party"]
        assert len(fine.files) == 1
        bodies = [r.json for r in env.api.moderation_requests]
        assert bodies == [
            {"model": "omni-moderation-latest", "input": "a murder scene"},
            {"model": "omni-moderation-latest", "input": "a garden party"},
        ]
        (entry,) = log_posts(env, log)
        assert "prompt check: violence and graphic violence" in entry["description"]
        assert f"[jump]({channel_link(env)})" in entry["description"]
        jobs = await env.store.recent_jobs(env.harness.guild_id)
        assert [j.error_kind for j in jobs] == [None, "blocked"]


async def test_the_prompt_check_is_off_by_default(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        made = await imagine(env, "a murder mystery novel cover")

        assert len(made.files) == 1
        assert env.api.moderation_requests == []


async def test_a_provider_without_moderations_runs_jobs_and_tells_moderators_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeImagesServer(moderations_endpoint=False)
    async with api, bot_env(tmp_path, api=api) as env:
        log = await with_log(env)
        await mod(env, "settings safety", {"prompt_check": True})

        first = await imagine(env, "a murder scene")
        second = await imagine(env, "another one")

        assert len(first.files) == 1 and len(second.files) == 1
        assert len(env.api.moderation_requests) == 1  # a missing endpoint isn't asked again
        (notice,) = log_posts(env, log)
        assert notice["description"] == str(CHECK_MISSING)
        warnings = [r for r in caplog.records if "no moderation endpoint" in r.getMessage()]
        assert len(warnings) == 1


async def test_a_failing_prompt_check_does_not_block(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await mod(env, "settings safety", {"prompt_check": True})
        env.api.fail_next("server_error", on="moderations", times=None)

        made = await imagine(env, "a murder scene")

        assert len(made.files) == 1
        assert env.api.moderation_requests  # it was asked, and answered 500
        assert await env.store.recent_jobs(env.harness.guild_id)


async def test_the_moderation_menu_offers_low_only_where_it_is_allowed(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        nsfw = await h.add_channel("after-dark", nsfw=True)

        async def offered(channel: int | None = None) -> list[str]:
            options = {"prompt": "a fox", "model": "gpt-image-1"}
            extra = {"channel": channel} if channel else {}
            choices = await h.autocomplete("imagine", options, focused="moderation", **extra)
            return [c["value"] for c in choices]

        assert await offered(nsfw) == ["auto"]  # the setting is off
        await mod(env, "settings safety", {"low_moderation": True})
        assert await offered() == ["auto"]  # an ordinary channel
        assert sorted(await offered(nsfw)) == ["auto", "low"]


# --- in the reader's language ------------------------------------------------------------------


async def test_a_blocked_word_reaches_a_german_member_in_german_and_the_log_in_french(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness

        async def french_mod(name: str, options: dict[str, Any]) -> InteractionRecord:
            return await h.slash(name, options, user=h.moderator_id, locale="fr", guild_locale="fr")

        await french_mod("settings log-channel", {"channel": h.other_channel_id})
        added = await french_mod("settings blocked-words", {"action": "add", "word": "goblin"})
        assert "✅ Mots bloqués modifiés." in added.text
        refused = await h.slash(
            "imagine", {"prompt": "a grumpy goblin"}, locale="de", guild_locale="fr"
        )

        assert refused.ephemeral
        assert (
            "Dein Prompt enthält „goblin“, und das ist auf diesem Server gesperrt." in refused.text
        )
        assert "Dafür wurde nichts berechnet." in refused.text
        assert env.api.image_requests == []
        # For the server, in its language (its settings changes aside).
        (entry,) = [e for e in log_posts(env, h.other_channel_id) if "⚙️" not in e["title"]]
        assert entry["title"] == "🚫 Demande refusée par les réglages de sécurité de ce serveur"
        assert "**Refusée par :** mot bloqué `goblin`" in entry["description"]


async def test_a_flagged_prompt_is_refused_in_japanese_with_its_categories(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await mod(env, "settings safety", {"prompt_check": True})

        refused = await env.harness.slash("imagine", {"prompt": "a murder scene"}, locale="ja")

        assert (
            "このサーバーのプロンプトチェックで、プロンプトが問題あり（暴力、過激な暴力描写）と"
            "判定されたため、送信しませんでした。"
        ) in refused.text
        assert env.api.image_requests == []


async def test_moderation_low_is_refused_in_spanish(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await mod(env, "settings safety", {"low_moderation": True})

        refused = await env.harness.slash(
            "imagine", {"prompt": "a fox", "moderation": "low"}, locale="es-ES"
        )

        assert (
            "En este servidor, el filtrado menos estricto (moderation low) solo se permite en "
            "canales con restricción de edad."
        ) in refused.text


async def test_a_russian_moderator_reads_the_safety_settings_and_refusals_in_russian(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness

        async def russian(name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
            return await h.slash(name, options, user=h.moderator_id, locale="ru")

        empty = await russian("settings safety")
        stars = await russian("settings blocked-words", {"action": "add", "word": "* **"})
        changed = await russian("settings safety", {"spoilers": True})

        assert (
            "Укажите хотя бы один параметр: мягкая_модерация, спойлеры или проверка_запросов."
            in empty.text
        )
        assert "кроме *, должна быть хотя бы одна буква" in stars.text
        (embed,) = changed.edits[-1].json["embeds"]
        assert embed["title"] == "Настройки сервера"
        assert embed["description"].startswith("✅ Настройки безопасности изменены.\n\n")
        assert (
            "**Сервис изображений:** бота (собственный сервис сервера подключается через "
            in (embed["description"])
        )
        for n in range(100):
            await mod(env, "settings blocked-words", {"action": "add", "word": f"w{n}"})
        full = await russian("settings blocked-words", {"action": "add", "word": "one more"})
        assert "В списке уже 100 запрещённых слов; удалите одно" in full.text
        listed = await russian("settings changes", {"limit": 3})
        assert listed.edits[-1].json["embeds"][0]["title"] == "Последние изменения (3)"
        everyone = await h.slash(
            "settings moderator-role",
            {"action": "add", "role": h.guild_id},
            user=h.moderator_id,
            locale="pt-BR",
        )
        assert "@everyone não pode ser um cargo de moderador." in everyone.text


async def test_the_missing_prompt_check_notice_names_the_command_as_the_server_reads_it(
    tmp_path: Path,
) -> None:
    api = FakeImagesServer(moderations_endpoint=False)
    async with api, bot_env(tmp_path, api=api) as env:
        h = env.harness
        for name, options in (
            ("settings log-channel", {"channel": h.other_channel_id}),
            ("settings safety", {"prompt_check": True}),
        ):
            await h.slash(name, options, user=h.moderator_id, guild_locale="ru")
        await h.slash("imagine", {"prompt": "a fox"}, guild_locale="ru")

        (notice,) = [e for e in log_posts(env, h.other_channel_id) if "⚙️" not in e["title"]]
        assert notice["description"].endswith(
            "Отключите её через /настройки безопасность (проверка_запросов: False)."
        )
