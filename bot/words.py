"""How a count reads in English: "1 image", "2 images", never "image(s)".

One place for it, so that member text can go through gettext's ``ngettext`` later (issue 14) by
changing these functions only. Both forms are given whole: English plurals aren't always "+s".
"""

from __future__ import annotations

from collections.abc import Sequence


def noun(count: int, one: str, many: str) -> str:
    """The form of a noun that goes with ``count``: ``one`` for 1, ``many`` otherwise (0 too)."""
    return one if count == 1 else many


def plural(count: int, one: str, many: str) -> str:
    """``count`` and its noun: plural(1, "image", "images") is "1 image", with 0 "0 images"."""
    return f"{count} {noun(count, one, many)}"


def credits(count: int) -> str:
    """ "1 credit", "4 credits": the unit every limit and price is in."""
    return plural(count, "credit", "credits")


def listed(one: str, many: str, names: Sequence[str]) -> str:
    """A noun and a comma list after it: "model: a" or "models: a, b"."""
    return f"{noun(len(names), one, many)}: {', '.join(names)}"
