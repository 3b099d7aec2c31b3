"""Members in their own language, end to end: the command picker in every language, and an
/imagine from a Russian or Chinese member shown to them in theirs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import tell_interrupted
from bot.i18n import COMMAND_NAME, LOCALES
from bot.i18n_catalogs import DESCRIPTION_LIMIT, command_rules
from bot.safety import CHECK_MISSING
from cogs.settings import LANGUAGE_CHOICES
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.openai_server import FakeImagesServer

# Discord's locales that have a catalog other than English's.
TRANSLATED = ["zh-CN", "ru", "es-ES", "es-419", "pt-BR", "ja", "de", "fr"]


def labels(message: dict[str, Any]) -> list[str]:
    return [c["label"] for row in message.get("components", []) for c in row["components"]]


def _check_options(where: str, options: list[dict[str, Any]], problems: list[str]) -> None:
    for locale in TRANSLATED:
        names = [o["name_localizations"].get(locale) for o in options]
        if len(set(names)) != len(names):
            problems.append(f"{where}: two options share a name in {locale}: {names}")
    for option in options:
        here = f"{where} {option['name']}"
        for locale in TRANSLATED:
            name = option["name_localizations"].get(locale)
            description = option["description_localizations"].get(locale)
            if not name or command_rules(COMMAND_NAME, name):
                problems.append(f"{here}: no valid {locale} name ({name!r})")
            if not description or len(description) > DESCRIPTION_LIMIT:
                problems.append(f"{here}: no {locale} description")
        for choice in option.get("choices") or []:
            if any(c.isalpha() for c in choice["name"]):
                missing = [x for x in TRANSLATED if x not in choice["name_localizations"]]
                if missing:
                    problems.append(f"{here} choice {choice['name']}: none in {missing}")
        _check_options(here, option.get("options") or [], problems)


async def test_command_sync_sends_every_name_and_description_in_every_language(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        await env.bot.tree.sync()
        (put,) = [r for r in env.discord.requests if r.method == "PUT" and "commands" in r.path]
        commands: list[dict[str, Any]] = put.json
        assert len(commands) >= 15
        problems: list[str] = []
        for command in commands:
            for locale in TRANSLATED:
                if not command["name_localizations"].get(locale):
                    problems.append(f"{command['name']}: no {locale} name")
                if command["type"] == 1 and not command["description_localizations"].get(locale):
                    problems.append(f"{command['name']}: no {locale} description")
            _check_options(f"/{command['name']}", command.get("options") or [], problems)
        for locale in TRANSLATED:
            names = [c["name_localizations"][locale] for c in commands if c["type"] == 1]
            if len(set(names)) != len(names):
                problems.append(f"two commands share a name in {locale}")
        assert problems == []
        imagine = next(c for c in commands if c["name"] == "imagine")
        assert imagine["description_localizations"]["ru"] == "Создайте изображения по описанию."
        assert imagine["description_localizations"]["ja"] == "説明文から画像を作ります。"
        assert "en-US" not in imagine["name_localizations"]  # Discord shows the English itself
        assert env.discord.commands()  # the fake Discord took them


async def test_a_russian_member_sees_their_imagine_in_russian(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("imagine", {"prompt": "рыжая лиса", "n": 2}, locale="ru")
        progress = record.callback.json["data"]["embeds"][0]
        assert progress["title"] in ("🎨 Создаю 2 изображения…", "⏳ Ждём свободного места")
        assert [f["name"] for f in progress["fields"]] == ["Модель", "Размер", "Изображения"]
        assert progress["footer"]["text"].startswith("Автор запроса: ")
        result = record.result
        assert result["content"] == f"<@{env.harness.user_id}>, готово: 2 изображения."
        (embed,) = result["embeds"]
        assert embed["title"] == "Создано с помощью gpt-image-1"
        assert {"Модель", "Размер", "Кредиты"} <= {f["name"] for f in embed["fields"]}
        assert "· задание 1" in embed["footer"]["text"]
        buttons = labels(result)
        assert buttons[:4] == ["Ещё раз", "Изменить", "Сохранить", "Удалить"]
        assert all(label.startswith("Вариация ") for label in buttons[4:])

        env.api.fail_always("server_error")
        failed = await env.harness.slash("imagine", {"prompt": "рыжая лиса"}, locale="ru")
        text = failed.failure_text
        assert "**Ваш запрос**\n```\nрыжая лиса\n```" in text
        assert text.endswith("С вас ничего не списано.")
        assert labels(failed.failure) == ["Попробовать снова", "Изменить запрос"]


async def test_a_chinese_member_sees_chinese_and_an_unknown_language_the_servers(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("imagine", {"prompt": "a fox"}, locale="zh-CN")
        (embed,) = record.result["embeds"]
        assert embed["title"] == "由 gpt-image-1 生成"
        assert record.result["content"].endswith("，你的图片好了。")
        assert labels(record.result)[:4] == ["重新生成", "编辑", "收藏", "删除"]
        # Korean has no catalog: the server's Discord language (German here) reads instead.
        record = await env.harness.slash(
            "imagine", {"prompt": "a fox"}, locale="ko", guild_locale="de"
        )
        assert record.result["embeds"][0]["title"] == "Erstellt mit gpt-image-1"
        assert await env.bot.server_locale(env.harness.guild_id) == "de"


async def test_settings_language_overrides_the_servers_discord_language(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        gid = env.harness.guild_id
        record = await env.harness.slash(
            "settings language", {"language": "fr"}, user=env.harness.moderator_id
        )
        assert "Language changed." in record.private_text
        assert (await env.store.get_guild_settings(gid)).language == "fr"
        (change,) = await env.store.recent_changes(gid, 5)
        assert (change.what, change.before, change.after) == (
            "language",
            "the server's Discord language",
            "Français",
        )
        assert await env.bot.server_locale(gid) == "fr"
        # A member whose own language has no catalog now reads the server's choice.
        record = await env.harness.slash("imagine", {"prompt": "a fox"}, locale="ko")
        assert record.result["embeds"][0]["title"] == "Imaginée avec gpt-image-1"
        await env.harness.slash(
            "settings language", {"language": "discord"}, user=env.harness.moderator_id
        )
        assert (await env.store.get_guild_settings(gid)).language is None
        choices = [c.value for c in LANGUAGE_CHOICES]
        assert choices == ["discord", *LOCALES]


# --- the moderation log in the server's language ----------------------------------------------


def log_embeds(env: BotEnv) -> list[dict[str, Any]]:
    posts = env.discord.bot_messages(env.harness.other_channel_id)
    return [embed for post in posts for embed in post.get("embeds", [])]


async def fill_the_log(env: BotEnv, guild_locale: str, language: str | None = None) -> None:
    """A moderator turns the log on (an audit post) with a budget and the prompt check; a member
    asks for a blocked word (a refusal report), then uses the budget up (an alert); the image
    service has no moderation endpoint (a notice). Every interaction from ``guild_locale``."""
    h = env.harness

    async def mod(name: str, options: dict[str, Any]) -> None:
        await h.slash(name, options, user=h.moderator_id, guild_locale=guild_locale)

    if language is not None:
        await mod("settings language", {"language": language})
    await mod("settings log-channel", {"channel": h.other_channel_id})
    await mod("settings blocked-words", {"action": "add", "word": "goblin"})
    await mod("settings safety", {"prompt_check": True})
    await mod("quota user-limit", {"credits": 10_000})
    await mod("quota server-budget", {"credits": 4, "window": "day"})
    refused = await h.slash("imagine", {"prompt": "a goblin"}, guild_locale=guild_locale)
    assert refused.ephemeral
    done = await h.slash("imagine", {"prompt": "a fox"}, guild_locale=guild_locale)
    assert len(done.files) == 1


@pytest.mark.parametrize(("guild_locale", "language"), [("en-US", "de"), ("de", None)])
async def test_the_moderation_log_of_a_german_server_is_in_german(
    tmp_path: Path, guild_locale: str, language: str | None
) -> None:
    api = FakeImagesServer(moderations_endpoint=False)
    async with api, bot_env(tmp_path, api=api) as env:
        await fill_the_log(env, guild_locale, language)
        by_title = {e["title"]: e["description"] for e in log_embeds(env)}
        audit = [d for title, d in by_title.items() if title == "⚙️ Einstellungen geändert"]
        assert audit and audit[-1].startswith(f"Von <@{env.harness.moderator_id}> <t:")
        assert "**Vorher:** " in audit[-1] and "**Nachher:** " in audit[-1]
        assert any(": **Serverbudget**\n**Vorher:** none\n" in d for d in audit)  # stored values
        refusal = by_title["🚫 Anfrage von den Sicherheitseinstellungen dieses Servers abgelehnt"]
        assert f"**Mitglied:** <@{env.harness.user_id}>" in refusal
        assert "**Abgelehnt durch:** " in refusal and "`goblin`" in refusal
        assert "([zur Nachricht](https://discord.com/channels/" in refusal
        assert by_title["Modelle"].startswith("Die Prompt-Prüfung ist an, aber der Bilddienst")
        budget = by_title["⛔ Das Serverbudget ist aufgebraucht"]
        assert "Dieser Server hat heute **4** von 4 Credits verbraucht (100 %)." in budget
        assert "Mitglieder können keine Bilder erstellen, bis es sich <t:" in budget
        assert "zu den Listenpreisen des Anbieters vom" in budget


async def test_the_moderation_log_of_an_english_server_stays_english(tmp_path: Path) -> None:
    api = FakeImagesServer(moderations_endpoint=False)
    async with api, bot_env(tmp_path, api=api) as env:
        await fill_the_log(env, "en-US")
        by_title = {e["title"]: e["description"] for e in log_embeds(env)}
        assert by_title["⚙️ Settings changed"].startswith(f"By <@{env.harness.moderator_id}> <t:")
        refusal = by_title["🚫 Request refused by this server's safety settings"]
        assert "**Refused by:** " in refusal and "`goblin`" in refusal
        assert by_title["Models"] == str(CHECK_MISSING)
        assert by_title["Models"].endswith(
            "Turn it off with /settings safety (prompt_check: False)."
        )
        budget = by_title["⛔ The server budget is used up"]
        assert "This server has used **4** of its 4 credits today (100 %)." in budget


async def test_the_restart_notice_in_a_channel_reads_in_the_servers_language(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("settings language", {"language": "de"}, user=h.moderator_id)
        await h.slash("imagine", {"prompt": "a fox"}, locale="ja")  # the member reads Japanese
        (job,) = await env.store.recent_jobs(h.guild_id)
        await tell_interrupted(env.bot, [job])
        (notice,) = [m for m in env.discord.bot_messages(h.channel_id) if not m.get("embeds")]
        assert notice["content"] == (
            f"<@{h.user_id}> Dein Bildauftrag wurde durch einen Neustart unterbrochen; es wurde "
            "nichts berechnet. Versuch es mit dem Button noch einmal."
        )


# --- the image service's refusals and the member's images, in the member's language ---------


def reason(record: InteractionRecord) -> str:
    """The first paragraph of a failure: why, before the prompt quoted back and the charge."""
    return record.failure_text.split("\n\n")[0]


async def test_a_russian_member_hears_the_image_services_refusals_in_russian(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_next("content_policy_violation")
        refused = await env.harness.slash("imagine", {"prompt": "рыжая лиса"}, locale="ru")
        assert reason(refused) == (
            "⚠️ Система безопасности сервиса изображений отклонила этот запрос. "
            "Попробуйте сформулировать его иначе или взять другие изображения."
        )
        assert refused.failure_text.endswith("С вас ничего не списано.")

        env.api.fail_always("rate_limit", retry_after=0.05)  # still busy after the retry
        busy = await env.harness.slash("imagine", {"prompt": "рыжая лиса"}, locale="ru")
        assert reason(busy) == "⚠️ Сервис изображений сейчас перегружен; попробуйте через 1 с."

        env.api.clear_failures()
        env.api.fail_always("server_error")
        down = await env.harness.slash("imagine", {"prompt": "рыжая лиса"}, locale="ru")
        assert reason(down) == "⚠️ У сервиса изображений сейчас проблемы; попробуйте позже."
        # The same refusal, for an English member of the same server, stays English.
        english = await env.harness.slash("imagine", {"prompt": "a fox"}, locale="en-US")
        assert reason(english) == (
            "⚠️ The image service is having trouble right now; try again later."
        )


async def test_a_chinese_member_hears_the_image_services_refusals_in_chinese(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path, max_retries=0) as env:
        env.api.fail_next("moderation_blocked")
        refused = await env.harness.slash("imagine", {"prompt": "一只狐狸"}, locale="zh-CN")
        assert reason(refused) == (
            "⚠️ 图片服务的安全系统拒绝了这个请求。试着换个说法写提示词，或换用其他图片。"
        )
        env.api.fail_next("billing_hard_limit")
        broke = await env.harness.slash("imagine", {"prompt": "一只狐狸"}, locale="zh-CN")
        assert reason(broke) == "⚠️ 机器人在图片服务的余额已用完；请告诉服务器所有者。"
        # Last: a 429 pauses the provider's queue for as long as it asked.
        env.api.fail_next("rate_limit", retry_after=120)
        busy = await env.harness.slash("imagine", {"prompt": "一只狐狸"}, locale="zh-CN")
        assert reason(busy) == "⚠️ 图片服务现在很忙；请 2 分钟后再试。"


async def test_an_unreadable_attachment_on_edit_is_refused_in_russian(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        notes = ("notes.png", b"just some notes, not a picture", "image/png")
        record = await env.harness.slash(
            "edit", {"prompt": "добавь шляпу"}, attachments={"image": notes}, locale="ru"
        )
        assert reason(record) == (
            "⚠️ Файл notes.png — не изображение, которое я могу прочитать "
            "(PNG, JPEG, WEBP, GIF, HEIC, AVIF, TIFF или BMP)."
        )
        assert record.original is None and env.api.image_requests == []
        # In Chinese, the formats are listed as Chinese lists them.
        record = await env.harness.slash(
            "edit", {"prompt": "加一顶帽子"}, attachments={"image": notes}, locale="zh-CN"
        )
        assert reason(record) == (
            "⚠️ notes.png 不是我能读取的图片（PNG、JPEG、WEBP、GIF、HEIC、AVIF、TIFF或BMP）。"
        )


async def test_what_was_done_to_a_members_photo_is_said_in_their_language(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        scan = io.BytesIO()
        Image.new("RGB", (300, 300), (200, 30, 30)).save(scan, "BMP")
        record = await env.harness.slash(
            "edit",
            {"prompt": "добавь шляпу", "model": "dall-e-2"},
            attachments={"image": ("scan.bmp", scan.getvalue())},
            locale="ru",
        )
        (embed,) = record.result["embeds"]
        notes = {f["name"]: f["value"] for f in embed["fields"]}["Исправлено"].split("\n")
        assert notes[0] == "• Файл scan.bmp преобразован из BMP в PNG, как требует dall-e-2."
        assert notes[1].startswith("• В изображении ничего не отмечено для изменения")
