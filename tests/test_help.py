"""/help end to end: the server's models in plain words, what an image costs the member, buttons."""

from __future__ import annotations

import dataclasses
import datetime
import string
from pathlib import Path
from typing import Any

from bot import help_text
from bot.store import RoleRule
from tests.fakes.bot_env import bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.openai_server import FakeImagesServer

DAY = datetime.date(2026, 12, 1)


def embed_of(record: InteractionRecord) -> dict[str, Any]:
    assert record.original is not None, "no /help answer"
    (embed,) = record.original["embeds"]
    return dict(embed)


def fields(record: InteractionRecord) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed_of(record).get("fields", [])}


def embed_length(embed: dict[str, Any]) -> int:
    """What Discord counts against its 6000 characters: title, description, fields, footer."""
    parts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text")]
    parts += [p for f in embed.get("fields", []) for p in (f["name"], f["value"])]
    return sum(len(p or "") for p in parts)


async def set_policy(env: Any, **changes: Any) -> None:
    await env.store.change_quota_policy(
        env.harness.guild_id, lambda p: dataclasses.replace(p, **changes)
    )


async def set_settings(env: Any, **changes: Any) -> None:
    await env.store.change_guild_settings(
        env.harness.guild_id, lambda s: dataclasses.replace(s, **changes)
    )


async def test_help_lists_the_allowed_models_default_first_with_what_they_do(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        await set_settings(
            env, allowed_models=("dall-e-3", "gpt-image-1", "dall-e-2"), default_model="dall-e-3"
        )
        record = await env.harness.slash("help")
        assert record.ephemeral
        models = [name for name in fields(record) if "(" in name]
        assert models == [
            "DALL·E 3 (dall-e-3) — default",
            "GPT Image 1 (gpt-image-1) — default",  # dall-e-3 can't edit: /edit gets this one
            "DALL·E 2 (dall-e-2)",
        ]
        dalle3 = fields(record)["DALL·E 3 (dall-e-3) — default"]
        assert "vivid or natural" in dalle3  # the catalog's description
        assert "Works with /imagine." in dalle3
        gpt = fields(record)["GPT Image 1 (gpt-image-1) — default"]
        assert "Works with /imagine, /edit, and /vary." in gpt
        assert "The default for /edit and /vary." in gpt
        assert "gpt-image-2" not in record.text  # not allowed here


async def test_help_prices_each_model_as_the_quota_charges_it(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await set_settings(env, allowed_models=("dall-e-3", "gpt-image-1-mini", "gpt-image-2"))
        await set_policy(env, costs={("dall-e-3", "*", "*"): 9})  # this server's own price
        found = fields(await env.harness.slash("help"))
        assert (
            "An image costs 9 credits at the default size (1024x1024)."
            in (found["DALL·E 3 (dall-e-3)"])
        )
        assert (
            "An image costs 1 credit at the default size (1024x1024)."
            in (found["GPT Image 1 mini (gpt-image-1-mini)"])
        )
        # Priced like the model it is like (gpt-image-1, medium quality).
        assert "An image costs 4 credits" in found["GPT Image 2 (gpt-image-2) — default"]
        record = await env.harness.slash("imagine", {"prompt": "a fox", "model": "dall-e-3"})
        assert record.result
        (job,) = await env.store.recent_jobs(env.harness.guild_id, 5, None)
        assert job.credits == 9  # what the member was really charged


async def test_help_shows_what_the_member_has_left_as_usage_does(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        first = await env.harness.slash("imagine", {"prompt": "a fox"})
        assert first.result
        usage = await env.harness.slash("usage")
        assert usage.original is not None
        usage_text = usage.original["embeds"][0]["description"]
        assert "**16** left" in usage_text  # 20 a day, one gpt-image-1 image at 4
        credits = fields(await env.harness.slash("help"))["Your credits"]
        assert credits == usage_text


async def test_help_says_images_are_free_when_the_server_has_no_quota(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await set_policy(env, user_limit=None)
        record = await env.harness.slash("help")
        assert fields(record)["Your credits"] == help_text.FREE
        assert "credits at the default size" not in record.text


async def test_help_tells_a_moderator_they_are_not_charged_when_the_server_says_so(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        moderator = env.harness.moderator_id
        same_as_everyone = fields(await env.harness.slash("help", user=moderator))
        assert "**20** left" in same_as_everyone["Your credits"]
        await set_policy(env, moderators_unlimited=True)
        free = fields(await env.harness.slash("help", user=moderator))
        assert free["Your credits"] == help_text.MODERATOR_FREE
        member = fields(await env.harness.slash("help"))
        assert "**20** left" in member["Your credits"]  # members still have their limit
        await set_policy(env, server_budget=500)
        budget = fields(await env.harness.slash("help", user=moderator))["Your credits"]
        assert budget.startswith(help_text.MODERATOR_BUDGET)
        assert "Server budget: 0 of 500 credits used" in budget


async def test_help_tells_a_blocked_member_so(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        newcomer = await env.harness.add_role("Newcomer")
        member = await env.harness.add_member("new", roles=[newcomer])
        await set_policy(env, roles={newcomer: RoleRule("blocked")})
        found = fields(await env.harness.slash("help", user=member))
        assert found["Your credits"] == help_text.BLOCKED


async def test_help_explains_every_button_and_command(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("help")
        buttons = fields(record)["Buttons"]
        for button in ("Re-roll", "Vary", "Edit", "Delete", "Cancel", "Try again", "Change prompt"):
            assert f"**{button}" in buttons
        assert "Nothing was charged for the failure" in buttons
        description = embed_of(record)["description"]
        for command in ("/imagine", "/edit", "/vary", "Reply + @mention", "Apps →", "/usage"):
            assert command in description
        assert "mention you when your images are ready" in description


async def test_help_in_a_direct_message_says_kindly_that_commands_work_in_servers(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("help", dm=True)
        assert record.callback_type == 4 and record.ephemeral
        assert embed_of(record)["description"] == help_text.DM_TEXT.format(help="/help")
        assert "Your credits" not in record.text


async def test_help_warns_of_a_shutdown_and_names_a_new_model_by_its_family(
    tmp_path: Path,
) -> None:
    async with (
        FakeImagesServer(
            world="openai",
            today=DAY,
            shutdown_dates={"gpt-image-2": "2026-12-20"},
            extra_models={"gpt-image-2.7-sunburst": "gpt-image-2.6"},
        ) as api,
        bot_env(tmp_path, api=api, default_model=None) as env,
    ):
        found = fields(await env.harness.slash("help"))
        assert (
            "⚠️ This model shuts down on 2026-12-20; use gpt-image-2.6-sunburst instead."
            in found["GPT Image 2 (gpt-image-2)"]
        )
        new = found["gpt-image-2.7-sunburst (new, like GPT Image 2.6 Sunburst)"]
        assert "limits assumed from gpt-image-2.6-sunburst" in new
        assert "An image costs 4 credits" in new  # priced like its family
        german = fields(await env.harness.slash("help", locale="de"))
        assert (
            "⚠️ Dieses Modell wird am 2026-12-20 abgeschaltet; nimm stattdessen "
            "gpt-image-2.6-sunburst." in german["GPT Image 2 (gpt-image-2)"]
        )
        assert "gpt-image-2.7-sunburst (neu, wie GPT Image 2.6 Sunburst)" in german
        assert (
            "die Grenzen sind von gpt-image-2.6-sunburst übernommen."
            in german["gpt-image-2.7-sunburst (neu, wie GPT Image 2.6 Sunburst)"]
        )
        offered = await env.harness.autocomplete(
            "imagine", {"prompt": "x"}, focused="model", locale="de"
        )
        assert "gpt-image-2.7-sunburst (neu, wie GPT Image 2.6 Sunburst)" in [
            c["name"] for c in offered
        ]


def _many_models(tmp_path: Path, count: int) -> tuple[Path, dict[str, str]]:
    names = [f"house-model-{n}" for n in range(count)]
    text = "".join(
        f'[models."{name}"]\nlike = "gpt-image-1"\nlabel = "House model {n} with a long name"\n'
        f'description = "{"A very long description of what this model is good at. " * 20}"\n'
        for n, name in enumerate(names)
    )
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path, dict.fromkeys(names, "gpt-image-1")


async def test_help_keeps_within_discords_embed_limits_with_fifteen_long_models(
    tmp_path: Path,
) -> None:
    models_file, extra = _many_models(tmp_path, 15)
    async with (
        FakeImagesServer(extra_models=extra) as api,
        bot_env(tmp_path, api=api, models_file=models_file, default_model="house-model-3") as env,
    ):
        await set_settings(env, allowed_models=tuple(extra))
        record = await env.harness.slash("help")
        embed = embed_of(record)
        assert embed_length(embed) <= 6000 and len(embed["fields"]) <= 25
        assert all(len(f["value"]) <= 1024 for f in embed["fields"])
        models = [f for f in embed["fields"] if f["name"].startswith("House model")]
        assert len(models) == 15
        assert models[0]["name"] == "House model 3 with a long name (house-model-3) — default"
        for field in models:  # cut descriptions, never what it works with or costs
            assert field["value"].startswith("A very long description")
            assert "Works with /imagine, /edit, and /vary." in field["value"]
            assert "An image costs 4 credits" in field["value"]


async def test_help_names_the_models_that_no_longer_fit_in_a_field(tmp_path: Path) -> None:
    models_file, extra = _many_models(tmp_path, 30)
    async with (
        FakeImagesServer(extra_models=extra) as api,
        bot_env(tmp_path, api=api, models_file=models_file, default_model="house-model-0") as env,
    ):
        await set_settings(env, allowed_models=tuple(extra))
        embed = embed_of(await env.harness.slash("help"))
        assert embed_length(embed) <= 6000 and len(embed["fields"]) == 25
        assert embed["fields"][-1]["name"] == "More models"
        assert "house-model-29" in embed["fields"][-1]["value"]


def test_member_text_is_whole_sentences_with_named_placeholders() -> None:
    """Ready for gettext (issue 14): a translator gets sentences, and names for what goes in."""
    texts = [v for v in vars(help_text).values() if isinstance(v, str)]
    texts += [form for v in vars(help_text).values() if isinstance(v, tuple) for form in v]
    for text in filter(lambda t: isinstance(t, str), texts):
        for _, name, _, _ in string.Formatter().parse(text):
            assert name is None or name.isidentifier(), (text, name)


async def test_help_for_a_russian_member_reads_in_russian_and_names_russian_commands(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        await set_settings(env, allowed_models=("gpt-image-1", "dall-e-3"))
        record = await env.harness.slash("help", locale="ru")
        embed = embed_of(record)
        assert embed["title"] == "Как создавать изображения здесь"
        # Commands are named as a Russian member's Discord shows them in its command picker.
        description = embed["description"]
        assert description.startswith("**/создать** — опишите картинку, и я её нарисую.\n")
        assert "**/избранное**, **/показать** — " in description
        assert "**Приложения → Изменить изображение / Вариации изображения** — " in description
        assert "/imagine" not in description
        found = fields(record)
        assert list(found)[:2] == ["Ваши кредиты", "Кнопки"]
        buttons = found["Кнопки"]  # by the labels the buttons carry in Russian
        assert buttons.startswith("🔁 **Ещё раз** — тот же запрос и те же настройки ещё раз;")
        assert "🔀 **Вариация / Вариация 2…** — " in buttons
        assert "⭐ **Сохранить** — сохранить результат в /избранное;" in buttons
        gpt = found["GPT Image 1 (gpt-image-1) — по умолчанию"]
        assert "Работает с /создать, /изменить и /вариации." in gpt
        assert "Изображение размера по умолчанию (1024x1024) стоит 4 кредита." in gpt
        dalle3 = found["DALL·E 3 (dall-e-3)"]
        assert "Работает с /создать." in dalle3
        usage = await env.harness.slash("usage", locale="ru")  # the same lines /usage shows
        assert usage.original is not None
        assert found["Ваши кредиты"] == usage.original["embeds"][0]["description"]


async def test_help_in_chinese_and_a_japanese_direct_message(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await set_policy(env, user_limit=None)
        found = fields(await env.harness.slash("help", locale="zh-CN"))
        assert found["你的点数"] == "本服务器没有设置点数限额：你在这里生成图片是免费的。"
        assert "适用于 /生成、/编辑和/变体。" in found["GPT Image 1 (gpt-image-1) — 默认"]
        dm = embed_of(await env.harness.slash("help", dm=True, locale="ja"))
        assert dm["title"] == "このサーバーでの画像の作り方"
        assert "私がいるサーバーで /ヘルプ を使うと" in dm["description"]
