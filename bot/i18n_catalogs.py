"""The translators' workflow: extract the English ids, update every catalog, check them all.

``scripts/i18n extract|update|check`` runs these. The ids come from two places: ``t``, ``tn`` and
``N_`` calls in bot/ and cogs/ (Babel's Python extractor), and the command strings Discord shows
in its command picker, collected from the command tree itself (cogs/translator.py) with a
msgctxt that says where each one goes. ``problems`` is what the test suite and ``check`` assert:
a catalog that lacks an id, loses a placeholder or has the wrong number of plural forms fails.
"""

from __future__ import annotations

import gettext
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from bot import i18n

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("bot", "cogs")
# t(locale, msgid, ...), tn(locale, singular, plural, n, ...), N_(msgid), lazy(msgid, ...),
# lazy_n(singular, plural, n, ...): where the ids are.
KEYWORDS: Mapping[str, tuple[int, ...] | None] = {
    "t": (2,),
    "tn": (2, 3),
    "N_": None,
    "lazy": (1,),
    "lazy_n": (1, 2),
}
TEMPLATE = i18n.LOCALES_DIR / f"{i18n.DOMAIN}.pot"
# Discord's limits on what its command picker shows.
NAME_LIMIT = 32
DESCRIPTION_LIMIT = 100
CHOICE_LIMIT = 100
# Context menus may use spaces and capitals; slash command and option names may not.
_EXTRA_SCRIPTS = ("DEVANAGARI", "THAI")

CommandString = tuple[str, str]  # (msgctxt, English text)


def source_messages(root: Path = ROOT) -> list[tuple[str | tuple[str, str], str]]:
    """(id, "path:line") of every ``t``/``tn``/``N_`` call in bot/ and cogs/."""
    found: list[tuple[str | tuple[str, str], str]] = []
    for folder in SOURCE_DIRS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            root / folder,
            method_map=[("**.py", "python")],
            keywords=dict(KEYWORDS),
            comment_tags=(),
            strip_comment_tags=True,
        ):
            msgid = message if isinstance(message, str) else (message[0], message[1])
            found.append((msgid, f"{folder}/{filename}:{lineno}"))
    return found


def template(commands: Iterable[CommandString], root: Path = ROOT) -> Catalog:
    """Every id the bot uses, as one template catalog (what ``extract`` writes as the .pot)."""
    catalog = Catalog(domain=i18n.DOMAIN, project="imagebot", charset="utf-8")
    for msgid, where in source_messages(root):
        path, _, line = where.rpartition(":")
        catalog.add(msgid, locations=[(path, int(line))], flags=_flags(msgid))
    for context, text in commands:
        catalog.add(text, context=context)
    return catalog


def _flags(msgid: str | tuple[str, str]) -> tuple[str, ...]:
    texts = msgid if isinstance(msgid, tuple) else (msgid,)
    return ("python-brace-format",) if any(i18n.placeholders(x) for x in texts) else ()


def write_catalog(catalog: Catalog, path: Path, *, locations: bool = False) -> None:
    """Write a catalog; only the template says where each id is used (line numbers in every
    catalog would change them all whenever code moves, and conflict in every merge)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    with path.open("wb") as file:
        write_po(
            file, catalog, width=100, ignore_obsolete=True, include_previous=False,
            no_location=not locations, sort_output=True,
        )  # fmt: skip


def update(source: Catalog, locales: Sequence[str] = i18n.LOCALES) -> None:
    """Bring every catalog in line with ``source``: new ids added empty, gone ones dropped.

    No fuzzy matching: a guess from a similar id would read as a wrong translation, while an
    empty one reads in English until a translator fills it in (``check`` says which).
    """
    write_catalog(source, TEMPLATE, locations=True)
    for locale in locales:
        catalog = i18n.read_catalog(locale)
        catalog.update(source, no_fuzzy_matching=True, update_header_comment=False)
        write_catalog(catalog, i18n.catalog_path(locale))


def problems(source: Catalog, catalogs: Mapping[str, Catalog]) -> list[str]:
    """What is wrong with the catalogs against ``source``; empty when all is well."""
    found: list[str] = []
    for locale, catalog in catalogs.items():
        for message in source:
            if not message.id:
                continue
            entry = catalog.get(message.id, message.context)
            name = _name(message)
            if entry is None:
                found.append(f"{locale}: {name} is missing")
            elif locale != i18n.SOURCE:
                found += [f"{locale}: {name} {p}" for p in _entry_problems(message, entry, catalog)]
        for entry in catalog:
            if entry.id and source.get(entry.id, entry.context) is None:
                found.append(f"{locale}: {_name(entry)} is no longer used (run update)")
    return found


def _name(message: Message) -> str:
    key = _ids(message)[0]
    return f"[{message.context}] {key!r}" if message.context else repr(key)


def _ids(message: Message) -> tuple[str, ...]:
    """A message's id as a tuple: (singular,) or (singular, plural)."""
    found = message.id
    return tuple(found) if isinstance(found, tuple | list) else (str(found or ""),)


def _entry_problems(source: Message, entry: Message, catalog: Catalog) -> list[str]:
    if entry.fuzzy:
        return ["is fuzzy"]
    ids = _ids(source)
    if len(ids) > 1:
        found = entry.string
        forms = (
            tuple(str(f or "") for f in found) if isinstance(found, tuple) else (str(found or ""),)
        )
        if len(forms) != catalog.num_plurals:
            return [f"has {len(forms)} plural forms, the locale has {catalog.num_plurals}"]
        if not all(forms):
            return ["is not translated"]
        return [
            f"form {n} has placeholders {sorted(i18n.placeholders(f))}, not {sorted(wanted)}"
            for n, f in enumerate(forms)
            for wanted in [_plural_placeholders(ids, catalog, n)]
            if not wanted <= i18n.placeholders(f) <= wanted | {"count"}
        ]
    text = entry.string if isinstance(entry.string, str) else ""
    if not text:
        return ["is not translated"]
    if i18n.placeholders(text) != i18n.placeholders(ids[0]):
        wanted, got = sorted(i18n.placeholders(ids[0])), sorted(i18n.placeholders(text))
        return [f"has placeholders {got}, not {wanted}"]
    return [f"{why}: {text!r}" for why in command_rules(source.context, text)]


def _plural_placeholders(msgid: tuple[str, ...], catalog: Catalog, form: int) -> frozenset[str]:
    """What a plural form must show: the English placeholders, ``{count}`` optional (``tn``
    always supplies it) except in a form that serves several numbers when English shows it."""
    wanted = (i18n.placeholders(msgid[0]) | i18n.placeholders(msgid[1])) - {"count"}
    expr = gettext.c2py(catalog.plural_expr)
    several = sum(1 for n in range(1000) if expr(n) == form) > 1
    if several and "count" in i18n.placeholders(msgid[1]):
        return wanted | {"count"}
    return wanted


def command_rules(context: str | None, text: str) -> list[str]:
    """Why Discord would refuse ``text`` where ``context`` puts it (empty: it wouldn't)."""
    if context == i18n.COMMAND_NAME:
        ok = (
            0 < len(text) <= NAME_LIMIT
            and text == text.lower()
            and all(_name_character(c) for c in text)
        )
        return [] if ok else ["is not a valid command or option name"]
    if context == i18n.MENU_NAME:
        return [] if 0 < len(text) <= NAME_LIMIT else ["is not a valid menu name"]
    if context == i18n.COMMAND_DESCRIPTION:
        return [] if 0 < len(text) <= DESCRIPTION_LIMIT else ["is longer than 100 characters"]
    if context == i18n.COMMAND_CHOICE:
        return [] if 0 < len(text) <= CHOICE_LIMIT else ["is longer than 100 characters"]
    return []


def _name_character(char: str) -> bool:
    """Discord's ``[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]``: letters, digits, - and _."""
    if char in "-_" or unicodedata.category(char)[0] in "LN":
        return True
    return unicodedata.name(char, "").startswith(_EXTRA_SCRIPTS)


def read_all(locales: Sequence[str] = i18n.LOCALES) -> dict[str, Catalog]:
    return {locale: i18n.read_catalog(locale) for locale in locales}
