"""What moderators read about a server's settings and quota rules, in their own language.

Pure functions on the built-in catalog: the settings listing, the notes of /settings models, a
limit's confirmation and a role rule's words, in the language of the moderator who asked.
"""

from __future__ import annotations

import pytest

from bot import moderation
from bot.errors import ValidationError
from bot.limits import describe_rule, given_limit, limit_in_credits
from bot.models import Catalog
from bot.moderation import describe_settings
from bot.provider import Provider
from bot.store import GuildSettings, RoleRule
from tests.fakes.bot_env import SNAPSHOT_DAY

GUILD = 1000
CATALOG = Catalog.load()
STRICT = GuildSettings(
    GUILD,
    allowed_models=("gpt-image-2", "dall-e-3"),
    allowed_channel_ids=(11,),
    moderator_role_ids=(22,),
    prompt_check=True,
)


def provider() -> Provider:
    """The built-in catalog on the fakes' day (gpt-image-2 usable); its client is never called."""
    return Provider("test", None, CATALOG, today=lambda: SNAPSHOT_DAY)  # type: ignore[arg-type]


def test_the_settings_read_in_english_by_default_and_in_the_moderators_language() -> None:
    assert str(describe_settings(GuildSettings(GUILD), "gpt-image-1")).splitlines() == [
        "**Allowed models:** all",
        "**Default model:** gpt-image-1 (the bot's default)",
        "**Channels:** every channel",
        "**Moderators:** members with Manage Server",
        "**Moderation log:** off",
        "**Less strict filtering (moderation low):** never",
        "**Results as spoilers:** off",
        "**Prompt check:** off",
        "**Blocked words:** none",
    ]
    assert describe_settings(STRICT, "gpt-image-1").render("ru").splitlines()[:8] == [
        "**Разрешённые модели:** gpt-image-2, dall-e-3",
        "**Модель по умолчанию:** gpt-image-1 (модель бота по умолчанию)",
        "**Каналы:** <#11>",
        "**Модераторы:** участники с правом «Управлять сервером» и <@&22>",
        "**Журнал модерации:** выкл.",
        "**Мягкая фильтрация (moderation low):** никогда",
        "**Результаты под спойлером:** выкл.",
        "**Проверка запросов:** вкл.",
    ]
    assert describe_settings(GuildSettings(GUILD), "gpt-image-1").render("ja").splitlines()[0] == (
        "**使えるモデル：** すべて"
    )


def test_allowing_models_says_in_the_moderators_language_what_became_the_default() -> None:
    _, notes = moderation.allow_models(GuildSettings(GUILD), ("dall-e-3",), CATALOG, "gpt-image-1")
    assert [str(n) for n in notes] == [
        "The default model is now dall-e-3 (the old one isn't allowed)."
    ]
    assert [n.render("de") for n in notes] == [
        "Das Standardmodell ist jetzt dall-e-3 (das alte ist nicht erlaubt)."
    ]
    changed, notes = moderation.allow_models(
        GuildSettings(GUILD, default_model="dall-e-3"), ("dall-e-2",), CATALOG, "gpt-image-1"
    )
    assert changed.default_model == "dall-e-2"
    assert [n.render("ru") for n in notes] == [
        "Теперь модель по умолчанию — dall-e-2 (прежняя не разрешена)."
    ]
    same, notes = moderation.allow_models(GuildSettings(GUILD), None, CATALOG, "gpt-image-1")
    assert same.allowed_models is None and notes == []


def test_a_limit_in_images_and_a_role_rule_read_in_the_moderators_language() -> None:
    limit = limit_in_credits(given_limit(None, 10, "gpt-image-2"), provider(), None, {})
    assert str(limit.changed("day", server=False)) == (
        "Each member may now make 10 images of gpt-image-2 per day (1024x1024, medium): 40 credits."
    )
    assert limit.changed("day", server=False).render("ru") == (
        "Теперь каждый участник может создавать 10 изображений gpt-image-2 в день "
        "(1024x1024, medium): 40 кредитов."
    )
    assert limit.changed("week", server=False).render("de") == (
        "Jedes Mitglied darf jetzt erstellen: 10 Bilder von gpt-image-2 pro Woche "
        "(1024x1024, medium): 40 Credits."
    )
    in_credits = limit_in_credits(given_limit(5, None, None), provider(), None, {})
    assert in_credits.changed("day", server=False).render("fr") == "Limite par membre modifiée."
    assert describe_rule(RoleRule("limit", 3), "week").render("ru") == (
        "может тратить 3 кредита в неделю"
    )
    assert (
        describe_rule(RoleRule("limit", 1), "day").render("ja")
        == "は1日あたり1 クレジットまで使えます"
    )
    assert describe_rule(None, "day").render("zh_CN") == "重新按成员限额计算"
    assert describe_rule(RoleRule("blocked"), "day").render("es") == "no puede crear imágenes"


@pytest.mark.parametrize(
    ("locale", "told"),
    [
        ("en", "Give the limit either in credits or in images, not both."),
        ("pt-BR", "Informe o limite em créditos ou em imagens, não nos dois."),
        ("ru", "Укажите лимит либо в кредитах, либо в изображениях, но не в обоих сразу."),
    ],
)
def test_a_refusal_is_worded_where_it_is_shown(locale: str, told: str) -> None:
    with pytest.raises(ValidationError) as refused:
        given_limit(3, 4, "gpt-image-2")
    assert refused.value.render(locale) == told
    assert refused.value.message == "Give the limit either in credits or in images, not both."
