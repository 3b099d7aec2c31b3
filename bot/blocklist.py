"""A server's blocked words: what an entry may be, and finding one in a prompt. Pure.

An entry is a word or a phrase, matched as whole words and regardless of case; ``*`` stands for
any letters or digits inside one word ("cat*" blocks "cats" and "catnip", not "bobcat"). Entries
are moderators' text, never a regular expression: each is compiled here from escaped literal
parts. Every ``*`` between two parts is an atomic lazy scan to the next part, so a match never
backtracks into an earlier star, and a prompt is searched in time linear in its length (times
the entry's) whatever the entry and the prompt are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.errors import ValidationError
from bot.i18n import Words, lazy, lazy_n

MAX_ENTRIES = 100
MAX_LENGTH = 60
WILDCARD = "*"
# Characters that show as nothing: "c\u200bat" must not get past "cat".
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\ufeff]")  # fmt: skip
_STARS = re.compile(r"\*+")
_MARKDOWN = re.compile(r"([\\*_~|`>#\[\]()<@:])")


@dataclass(frozen=True, slots=True)
class Found:
    """A blocked entry and the text of the prompt it matched (both normalised)."""

    entry: str
    matched: str


def normalise(text: str) -> str:
    """``text`` as entries and prompts are compared: compatibility forms, case-folded, invisible
    characters dropped and whitespace runs made one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_INVISIBLE.sub("", folded).split())


def entry(text: str) -> str:
    """A moderator's word as a checked entry (normalised, ``**`` made ``*``); refused if unusable."""
    word = _STARS.sub(WILDCARD, normalise(text))
    if not word.replace(WILDCARD, "").strip():
        raise ValidationError(
            [lazy("A blocked word needs at least one letter, digit or sign besides *.")]
        )
    if len(word) > MAX_LENGTH:
        too_long = lazy_n(
            "A blocked word can be at most {count} character long.",
            "A blocked word can be at most {count} characters long.",
            MAX_LENGTH,
        )
        raise ValidationError([too_long])
    return word


def find(entries: Sequence[str], text: str) -> Found | None:
    """The first entry found in ``text`` as whole words, with what it matched; None if none."""
    if not entries or not text:
        return None
    prompt = normalise(text)
    for word, pattern in _compiled(tuple(entries)):
        match = pattern.search(prompt)
        if match is not None:
            return Found(word, match.group(0))
    return None


def shown(entries: Sequence[str], limit: int = 1500) -> Words:
    """The entries as moderators read them, quoted, within about ``limit`` characters (put in
    the reader's language where it is shown)."""
    parts: list[str] = []
    for word in entries:
        if sum(len(p) + 2 for p in parts) + len(word) > limit:
            more = len(entries) - len(parts)
            return lazy_n(
                "{words} and {count} more",
                "{words} and {count} more",
                more,
                words=", ".join(parts),
            )
        parts.append(f'"{plain(word)}"')
    return ", ".join(parts) if parts else lazy("none")


def plain(text: str, limit: int = MAX_LENGTH) -> str:
    """Text on one line with every markdown and mention sign escaped, to show inside quotes."""
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
    return _MARKDOWN.sub(r"\\\1", flat)


@lru_cache(maxsize=256)
def _compiled(entries: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    # Cached per list: a server's list changes rarely and is checked on every job.
    return tuple((word, _pattern(word)) for word in entries)


def _pattern(word: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in word.split(WILDCARD)]
    body = parts[0]
    if len(parts) > 1:
        # Middle parts: the nearest next occurrence, committed (atomic) so nothing backtracks
        # into it; the last part ends the word, found by one scan back from the word's end.
        body += "".join(rf"(?>\w*?{part})" for part in parts[1:-1]) + rf"\w*{parts[-1]}"
    return re.compile(rf"(?<!\w){body}(?!\w)")
