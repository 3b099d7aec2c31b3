"""The catalogs and the machinery that reads them: every id everywhere, placeholders and plural
forms as English has them, Discord's rules for command names, and no new English literal."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot import i18n, i18n_catalogs, i18n_scan, words
from bot.errors import ConfigError, NotAllowed, ValidationError
from bot.i18n import first_locale, server_locale, t, tn
from bot.i18n_cli import fresh_template
from bot.settings import Settings


@pytest.fixture(scope="module")
def template() -> object:
    import asyncio

    return asyncio.run(fresh_template())


def test_every_id_is_in_every_catalog_with_its_placeholders_and_plural_forms(
    template: object,
) -> None:
    assert isinstance(template, Catalog)
    assert len(template) > 250  # the member strings of the first slice and every command string
    assert i18n_catalogs.problems(template, i18n_catalogs.read_all()) == []


def test_the_check_names_what_a_translator_got_wrong(template: object) -> None:
    assert isinstance(template, Catalog)
    ru = i18n.read_catalog("ru")
    ru.get("Imagined with {model}").string = "Создано"  # the model is gone
    ru.get("{count} credit").string = ("{count} кредит", "{count} кредита")  # one form short
    ru.get("imagine", i18n.COMMAND_NAME).string = "Создать Картинку"  # a capital and a space
    ru.delete("Try again")
    found = i18n_catalogs.problems(template, {"ru": ru})
    assert "ru: 'Imagined with {model}' has placeholders [], not ['model']" in found
    assert "ru: '{count} credit' has 2 plural forms, the locale has 3" in found
    assert any("'imagine' is not a valid command or option name" in p for p in found)
    assert "ru: 'Try again' is missing" in found


@pytest.mark.parametrize(
    ("code", "catalog"),
    [
        ("zh-CN", "zh_CN"),
        ("pt-BR", "pt_BR"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("ja", "ja"),
        ("de", "de"),
        ("fr", "fr"),
        ("ru", "ru"),
        ("pt_BR", "pt_BR"),
        ("ko", None),
        ("zh-TW", None),
        ("", None),
    ],
)
def test_discord_locales_map_onto_the_catalogs(code: str, catalog: str | None) -> None:
    assert i18n.catalog_locale(code) == catalog


def test_an_unknown_language_falls_back_server_then_operator_then_english() -> None:
    assert first_locale("ko", server_locale("de", "fr", "es")) == "de"
    assert first_locale("ko", server_locale(None, "fr", "es")) == "fr"
    assert first_locale("ko", server_locale(None, "zh-TW", "es")) == "es"
    assert first_locale("ko", None) == "en"
    assert first_locale("ru", server_locale("de", None, "en")) == "ru"  # the member's own wins


def test_russian_has_three_plural_forms_chinese_one() -> None:
    assert [tn("ru", "{count} credit", "{count} credits", n) for n in (1, 3, 5, 21, 11)] == [
        "1 кредит",
        "3 кредита",
        "5 кредитов",
        "21 кредит",
        "11 кредитов",
    ]
    assert tn("zh-CN", "{count} credit", "{count} credits", 3) == "3 点"
    assert tn("en-GB", "{count} credit", "{count} credits", 1) == "1 credit"
    assert words.credits(2) == "2 credits" and words.credits(2, "de") == "2 Credits"
    assert words.plural(0, "image", "images") == "0 images"


def test_what_a_catalog_lacks_reads_in_english() -> None:
    assert t("ru", "Nothing was charged for this.") == "С вас ничего не списано."
    assert t("ru", "Not in any catalog, {name}.", name="Ann") == "Not in any catalog, Ann."
    assert t("ko", "Try again") == "Try again"
    assert tn("ja", "one {x}", "many {x}", 2, x="y") == "many y"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("создать", True),
        ("画像生成", True),
        ("in-flight", True),
        ("low_moderation", True),
        ("Создать", False),
        ("two words", False),
        ("a" * 33, False),
        ("dot.name", False),
    ],
)
def test_command_names_follow_discords_rules(text: str, ok: bool) -> None:
    assert (i18n_catalogs.command_rules(i18n.COMMAND_NAME, text) == []) is ok


def test_no_member_facing_literal_is_added_outside_the_catalogs() -> None:
    new, stale = i18n_scan.unlisted(i18n_scan.scan(), i18n_scan.allowed())
    assert [f"{x.path}:{x.line}: {x.text}" for x in new] == [], (
        "member-facing text belongs in the catalogs: t(locale, ...) and ./scripts/i18n update"
    )
    assert stale == set(), "converted literals: drop them from tests/i18n_allow.txt"


def test_the_scan_sees_prose_and_leaves_ids_logs_and_catalogued_text(tmp_path: Path) -> None:
    (tmp_path / "cogs").mkdir()
    (tmp_path / "cogs" / "x.py").write_text(
        '"""Docstring."""\n'
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        'ID = "img:reroll:{job}"\n'
        "def f(locale, n):\n"
        '    """Docstring."""\n'
        '    log.info("Started %s", n)\n'
        '    t(locale, "Catalogued text.")\n'
        '    return f"You have {n} images."\n',
        encoding="utf-8",
    )
    found = i18n_scan.scan(tmp_path, ["cogs/*.py"])
    assert [x.text for x in found] == ["You have {} images."]


def test_the_operator_default_is_a_known_language() -> None:
    env = {"OPENAI_API_KEY": "k", "IMAGEBOT_LOCALE": "pt-BR"}
    assert Settings.from_env(env, require_discord=False).locale == "pt_BR"
    assert Settings.from_env({"OPENAI_API_KEY": "k"}, require_discord=False).locale == "en"
    with pytest.raises(ConfigError, match="IMAGEBOT_LOCALE"):
        Settings.from_env({**env, "IMAGEBOT_LOCALE": "klingon"}, require_discord=False)


def test_a_lazy_message_reads_in_whoever_sees_it() -> None:
    refusal = NotAllowed(i18n.lazy("You can't use this command here."))
    assert str(refusal) == refusal.message == "You can't use this command here."
    assert refusal.render("ru") == "Здесь эту команду использовать нельзя."
    assert refusal.render("xx") == "You can't use this command here."  # no catalog: English
    plain = NotAllowed("An already worded message.")  # not catalogued: shown as it is
    assert plain.render("de") == "An already worded message."


def test_commands_and_lists_in_a_message_take_the_readers_words() -> None:
    assert str(i18n.Command("quota set")) == "/quota set"
    assert i18n.Command("usage").render("ru") == "/использование"
    assert (str(i18n.Option("clear")), i18n.Option("clear").render("ru")) == ("clear", "сбросить")
    names = i18n.Listed(("a", "b", "c"))
    assert (str(names), names.render("ru"), names.render("zh-CN")) == (
        "a, b, and c",
        "a, b и c",
        "a、b和c",
    )
    assert i18n.Listed(("a", "b"), "or").render("de") == "a oder b"
    several = ValidationError([i18n.lazy("You can't use this command here."), "plain"])
    assert several.render("ru") == (
        "Этот запрос нельзя отправить:\n- Здесь эту команду использовать нельзя.\n- plain"
    )


def test_rewriting_the_allow_list_keeps_its_kept_section() -> None:
    found = [i18n_scan.Literal("cogs/a.py", "Not yet"), i18n_scan.Literal("cogs/a.py", "An id")]
    old = "# head\ncogs/a.py: Gone\n# Kept\n# why: never shown\ncogs/a.py: An id\n"
    text = i18n_scan.allow_list_text(found, old)
    pending, kept = text.split("# Kept\n")
    assert "cogs/a.py: Not yet" in pending and "Gone" not in text
    assert kept == "# why: never shown\ncogs/a.py: An id\n"


def test_numbers_in_a_message_are_written_the_readers_way() -> None:
    size = i18n.lazy("{size} MB", size=i18n.Number(31.2))
    assert (str(size), size.render("de")) == ("31.2 MB", "31,2 MB")
    assert str(i18n.Number(25.0)) == "25"  # no ".0"
