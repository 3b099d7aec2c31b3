"""What an image costs, in credits (about one US cent each), as data rather than branches.

Prices follow the providers' public per-image prices, rounded to the nearest cent (at least 1).
A guild can override any (model, size, quality), with "*" matching any size or quality. A model
missing from the table is priced like the model its catalog entry names (``like``), else at
``FALLBACK_CREDITS`` per image. A size the table doesn't list costs what its dearest size costs,
and more in proportion to its pixels beyond that size's (a 3840x2160 image about five times a
1536x1024 one), never less. "auto" quality is priced as the model's ``auto_quality`` (medium for
GPT image models) and "auto"/missing size as its default size; ``commit`` re-prices with what
the API says it made, so the estimate only decides whether the request may start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from bot.models.spec import parse_size
from bot.store import CostKey

FALLBACK_CREDITS = 4
ANY = "*"


@dataclass(frozen=True, slots=True)
class PriceTable:
    """One model's credits per image by quality then size."""

    prices: Mapping[str, Mapping[str, int]]
    default_size: str
    auto_quality: str

    def price(self, quality: str, size: str) -> int:
        """Exact price, else the dearest size of that quality (of all, for a quality the table
        lacks), and more in proportion to the pixels a size has beyond that one's."""
        by_size = self.prices.get(quality)
        if by_size is not None and size in by_size:
            return by_size[size]
        rows = [by_size] if by_size is not None else list(self.prices.values())
        dearest, credits = max(
            ((listed, price) for row in rows for listed, price in row.items()),
            key=lambda item: item[1],
        )
        return _by_pixels(credits, dearest, size)


def _by_pixels(credits: int, priced: str, size: str) -> int:
    """``credits`` for a ``priced`` image, scaled up to ``size``'s pixels (never down): what a
    GPT image model charges, in tokens, grows with the pixels it makes."""
    pixels, base = parse_size(size), parse_size(priced)
    if pixels is None or base is None or math.prod(pixels) <= math.prod(base):
        return credits
    return math.ceil(credits * math.prod(pixels) / math.prod(base))


def _gpt(low: tuple[int, int], medium: tuple[int, int], high: tuple[int, int]) -> PriceTable:
    """A GPT image model: (square, portrait/landscape) price per quality."""
    rows = {"low": low, "medium": medium, "high": high}
    return PriceTable(
        prices={
            quality: {"1024x1024": square, "1536x1024": wide, "1024x1536": wide}
            for quality, (square, wide) in rows.items()
        },
        default_size="1024x1024",
        auto_quality="medium",
    )


DEFAULT_PRICES: Mapping[str, PriceTable] = MappingProxyType(
    {
        "dall-e-2": PriceTable(
            prices={"standard": {"256x256": 2, "512x512": 2, "1024x1024": 2}},
            default_size="1024x1024",
            auto_quality="standard",
        ),
        "dall-e-3": PriceTable(
            prices={
                "standard": {"1024x1024": 4, "1792x1024": 8, "1024x1792": 8},
                "hd": {"1024x1024": 8, "1792x1024": 12, "1024x1792": 12},
            },
            default_size="1024x1024",
            auto_quality="standard",
        ),
        "gpt-image-1": _gpt(low=(1, 2), medium=(4, 6), high=(17, 25)),
        "gpt-image-1-mini": _gpt(low=(1, 1), medium=(1, 2), high=(4, 5)),
    }
)
# Models priced like another until the table has their own row.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "gpt-image-1.5": "gpt-image-1",
        "gpt-image-2": "gpt-image-1",
        "chatgpt-image-latest": "gpt-image-1",
    }
)


def price_table(model: str | None) -> PriceTable | None:
    """The default price table of a model or of the model it is an alias of."""
    if model is None:
        return None
    return DEFAULT_PRICES.get(ALIASES.get(model, model))


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of one image as a guild pays it: credits, and whether the guild set it.

    ``size``/``quality`` are what was priced: "auto" or nothing become the model's defaults.
    """

    credits: int
    set_here: bool
    size: str | None
    quality: str | None


def cost_per_image(
    model: str,
    size: str | None,
    quality: str | None,
    *,
    overrides: Mapping[CostKey, int] | None = None,
    like: Sequence[str] = (),
) -> int:
    """Credits for one image of this model, size and quality under a guild's overrides.

    ``like`` are the models the catalog says this one is like, nearest first (its lineage).
    """
    return quote(model, size, quality, overrides=overrides, like=like).credits


def quote(
    model: str,
    size: str | None,
    quality: str | None,
    *,
    overrides: Mapping[CostKey, int] | None = None,
    like: Sequence[str] = (),
) -> Quote:
    """``cost_per_image`` with what decided it: a guild's override, or the default prices."""
    table = price_table(model) or next(filter(None, map(price_table, like)), None)
    if table is not None:
        if size is None or size == "auto":
            size = table.default_size
        if quality is None or quality == "auto":
            quality = table.auto_quality
    found = _override(overrides or {}, model, size or ANY, quality or ANY)
    if found is not None:
        return Quote(found, True, size, quality)
    if table is None or size is None or quality is None:
        return Quote(FALLBACK_CREDITS, False, size, quality)
    return Quote(table.price(quality, size), False, size, quality)


def _override(overrides: Mapping[CostKey, int], model: str, size: str, quality: str) -> int | None:
    for key in (
        (model, size, quality),
        (model, size, ANY),
        (model, ANY, quality),
        (model, ANY, ANY),
    ):
        if key in overrides:
            return overrides[key]
    return None
