"""Member text in the member's language: gettext catalogs read with Babel, English as the source.

The catalogs are ``bot/locales/<locale>/LC_MESSAGES/imagebot.po``, read with Babel's ``read_po``
the first time a locale is asked for and kept for the life of the process. Reading the .po files
themselves (instead of compiled .mo files) leaves no compile step to forget: what the test suite
checks is exactly what the bot shows, and reading a few hundred entries takes milliseconds once.

Message ids are the English text with named placeholders (``{count}``, ``{model}``). Whatever a
catalog lacks (no entry, an empty or fuzzy one) reads in English, so a new string never shows
blank. Plural forms come from each catalog's ``Plural-Forms`` header (Russian has three, Chinese
and Japanese one). ``scripts/i18n`` extracts the ids, updates the catalogs and checks them.
"""

from __future__ import annotations

import functools
import gettext
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.lists import format_list
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "imagebot"
SOURCE = "en"
# The catalogs, by gettext name; the order is the one /settings language offers.
LOCALES: tuple[str, ...] = ("en", "zh_CN", "ru", "es", "pt_BR", "ja", "de", "fr")
# Each language in its own words: how a member recognises theirs in a list.
AUTONYMS: Mapping[str, str] = {
    "en": "English",
    "zh_CN": "简体中文",
    "ru": "Русский",
    "es": "Español",
    "pt_BR": "Português do Brasil",
    "ja": "日本語",
    "de": "Deutsch",
    "fr": "Français",
}
# Discord's locale codes that have no catalog of their own read the nearest one.
_NEAREST: Mapping[str, str] = {
    "en-us": "en",
    "en-gb": "en",
    "zh-cn": "zh_CN",
    "es-es": "es",
    "es-419": "es",
    "pt-br": "pt_BR",
}
# msgctxt of the command strings Discord shows in its command picker (cogs/translator.py).
COMMAND_NAME = "command-name"  # slash command, group, subcommand and option names
MENU_NAME = "command-menu"  # context menu names (spaces and capitals allowed)
COMMAND_DESCRIPTION = "command-description"
COMMAND_CHOICE = "command-choice"


def N_(message: str) -> str:
    """Marks ``message`` for extraction where it is defined, to be passed through ``t`` later."""
    return message


@functools.cache
def catalog_locale(code: str | None) -> str | None:
    """The catalog for a Discord or gettext locale code ("pt-BR", "pt_BR", "de"), or None."""
    if not code:
        return None
    key = code.strip().replace("_", "-").lower()
    if key in _NEAREST:
        return _NEAREST[key]
    by_key = {name.replace("_", "-").lower(): name for name in LOCALES}
    return by_key.get(key) or by_key.get(key.split("-")[0])


def first_locale(*codes: str | None) -> str:
    """The first of ``codes`` that has a catalog, else English: the fallback chain in one place."""
    for code in codes:
        found = catalog_locale(code)
        if found is not None:
            return found
    return SOURCE


def server_locale(language: str | None, discord_locale: str | None, default: str) -> str:
    """What a server's channel posts read in: its /settings language, else its Discord
    language, else the operator's default (``IMAGEBOT_LOCALE``)."""
    return first_locale(language, discord_locale, default)


@dataclass(frozen=True, slots=True)
class Messages:
    """One locale's translations and its plural rule, read once from its catalog."""

    locale: str
    singular: Mapping[tuple[str | None, str], str]
    plural: Mapping[str, tuple[str, ...]]
    plural_index: Callable[[int], int]
    num_plurals: int


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    """A locale's catalog as Babel reads it (the workflow edits and checks these)."""
    with catalog_path(locale).open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN)


@functools.cache
def messages(locale: str) -> Messages:
    """The translations of ``locale`` (cached: the catalogs don't change while the bot runs)."""
    catalog = read_catalog(locale)
    singular: dict[tuple[str | None, str], str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            forms = tuple(message.string) if isinstance(message.string, tuple) else ()
            if forms and all(forms):
                plural[message.id[0]] = forms
        elif isinstance(message.id, str) and isinstance(message.string, str) and message.string:
            singular[(message.context, message.id)] = message.string
    return Messages(
        locale,
        singular,
        plural,
        gettext.c2py(catalog.plural_expr),
        catalog.num_plurals,
    )


def translate(locale: str | None, msgid: str, context: str | None = None) -> str | None:
    """The catalog's translation of ``msgid`` (no formatting), or None when it has none."""
    found = catalog_locale(locale)
    if found is None or found == SOURCE:
        return None
    return messages(found).singular.get((context, msgid))


def t(locale: str | None, msgid: str, **values: object) -> str:
    """``msgid`` in ``locale`` (English when the catalog lacks it), placeholders filled in.

    ``locale`` is a Discord or gettext code; an unknown one reads in English (callers resolve
    their fallback chain with ``first_locale`` first). A value that is itself ``Localized`` (a
    ``Text``, a ``Command``...) is put in the same language.
    """
    return (translate(locale, msgid) or msgid).format(**_in(locale, values))


def tn(locale: str | None, singular: str, plural: str, n: int, **values: object) -> str:
    """The form of ``singular``/``plural`` that goes with ``n`` in ``locale``, filled in.

    ``{count}`` is ``n`` unless given. English: ``singular`` for 1, ``plural`` otherwise (0 too).
    """
    values.setdefault("count", n)
    values = _in(locale, values)
    found = catalog_locale(locale)
    text = singular if n == 1 else plural
    if found is not None and found != SOURCE:
        table = messages(found)
        forms = table.plural.get(singular)
        if forms is not None:
            text = forms[min(table.plural_index(n), len(forms) - 1)]
    return text.format(**values)


def plural_index(locale: str | None, n: int) -> int:
    """Which plural form of ``locale`` goes with ``n`` (English: 0 for 1, 1 otherwise)."""
    table = messages(first_locale(locale))
    return min(table.plural_index(n), table.num_plurals - 1)


def placeholders(text: str) -> frozenset[str]:
    """The named ``{placeholders}`` of a message (literal ``{{`` braces are not)."""
    return frozenset(
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in string.Formatter().parse(text)
        if field is not None
    )


def every(locales: Iterable[str] = LOCALES) -> dict[str, Messages]:
    """Every catalog read (the checks and the command translator use them all)."""
    return {locale: messages(locale) for locale in locales}


def _in(locale: str | None, values: Mapping[str, object]) -> dict[str, object]:
    return {k: value_in(locale, v) for k, v in values.items()}


def value_in(locale: str | None, value: object) -> object:
    """A message's value as ``locale`` reads it: a ``Localized`` one (a ``Text``, ``Command``,
    ``Option``, ``Listed``, ``Number``) put in that language, anything else as it is."""
    return value.render(locale) if isinstance(value, Localized) else value


class Localized:
    """Words that depend on who reads them: ``render(locale)`` puts them in that language,
    ``str()`` is the English (for logs and tests)."""

    __slots__ = ()

    def render(self, locale: str | None) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render(SOURCE)


@dataclass(frozen=True, slots=True)
class Text(Localized):
    """A member-facing message not put in a language yet: its English id and its values.

    Code that can't know who will read a message (an error raised in bot/, a note made while a
    request is checked) makes one with ``lazy``/``lazy_n``; whoever shows it calls ``render``
    with the reader's locale. ``str()`` is the English, for logs and tests.
    """

    msgid: str
    values: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    n: int = 0

    def render(self, locale: str | None) -> str:
        if self.plural is not None:
            return tn(locale, self.msgid, self.plural, self.n, **self.values)
        return t(locale, self.msgid, **self.values)


Words = str | Text  # a member-facing message: worded already, or to be put in the reader's language


def lazy(msgid: str, **values: object) -> Text:
    """``msgid`` with its values, to be put in the reader's language where it is shown."""
    return Text(msgid, values)


def lazy_n(singular: str, plural: str, n: int, **values: object) -> Text:
    """The plural message for ``n`` (``{count}`` unless given), put in a language when shown."""
    return Text(singular, values, plural, n)


def render(locale: str | None, text: Words) -> str:
    """``text`` in ``locale``: a ``Text`` is translated, a plain string (already worded, or a
    name) is shown as it is."""
    return str(value_in(locale, text))


@dataclass(frozen=True, slots=True)
class Command(Localized):
    """A slash command as the member's Discord shows it: ``Command("settings language")`` reads
    "/settings language" in English and "/настройки язык" in Russian (cogs/translator.py gives
    Discord the same names). Messages name commands through this, never by their English name."""

    path: str

    def render(self, locale: str | None) -> str:
        parts = (translate(locale, part, COMMAND_NAME) or part for part in self.path.split())
        return "/" + " ".join(parts)


@dataclass(frozen=True, slots=True)
class Option(Localized):
    """A command's option as the member's Discord shows it: ``Option("clear")`` reads "clear" in
    English and "сбросить" in Russian (option names are command names to the catalogs)."""

    name: str

    def render(self, locale: str | None) -> str:
        return translate(locale, self.name, COMMAND_NAME) or self.name


@functools.cache
def _babel(locale: str | None) -> Locale:
    """Babel's locale for a catalog's (parsed once: lists and numbers are worded often)."""
    return Locale.parse(first_locale(locale))


@dataclass(frozen=True, slots=True)
class Listed(Localized):
    """Items joined the way the reader's language lists them: "a, b, and c", "a, b и c",
    "a、b和c" (Babel's CLDR lists). ``style="or"`` joins alternatives ("a, b, or c"). Items may
    be ``Text`` or ``Command`` values themselves."""

    items: tuple[object, ...]
    style: str = "standard"

    def render(self, locale: str | None) -> str:
        words = [str(value_in(locale, item)) for item in self.items]
        return format_list(words, style=self.style, locale=_babel(locale))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Number(Localized):
    """A number written the reader's way: ``Number(31.2)`` is "31.2" in English, "31,2" in
    Russian, German or French (Babel's CLDR), with at most ``digits`` decimals."""

    value: float
    digits: int = 1

    def render(self, locale: str | None) -> str:
        pattern = "#,##0." + "#" * self.digits if self.digits else "#,##0"
        return format_decimal(self.value, format=pattern, locale=_babel(locale))
