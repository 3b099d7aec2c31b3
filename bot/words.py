"""How a count reads: "1 image", "2 images", never "image(s)".

The forms go through the catalogs' plural rules (``bot.i18n.tn``), English's included. Both forms
are given whole: English plurals aren't always "+s", and other languages have more than two.
Text not converted to the catalogs yet passes its English nouns here; converted text calls
``tn`` with the whole sentence, so that a translator sees it whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import SOURCE, Text, lazy_n, plural_index, tn


def noun(count: int, one: str, many: str) -> str:
    """The form of a noun that goes with ``count``: ``one`` for 1, ``many`` otherwise (0 too)."""
    return (one, many)[plural_index(SOURCE, count)]


def plural(count: int, one: str, many: str) -> str:
    """``count`` and its noun: plural(1, "image", "images") is "1 image", with 0 "0 images"."""
    return f"{count} {noun(count, one, many)}"


def credit_count(count: int) -> Text:
    """ "1 credit", "4 credits": the unit every limit and price is in, put in the reader's
    language where it is shown."""
    return lazy_n("{count} credit", "{count} credits", count)


def credits(count: int, locale: str = SOURCE) -> str:
    """``credit_count`` worded in ``locale`` now."""
    return credit_count(count).render(locale)


def images(count: int, locale: str = SOURCE) -> str:
    """ "1 image", "4 images", in ``locale``."""
    return tn(locale, "{count} image", "{count} images", count)


def listed(one: str, many: str, names: Sequence[str]) -> str:
    """A noun and a comma list after it: "model: a" or "models: a, b"."""
    return f"{noun(len(names), one, many)}: {', '.join(names)}"
