"""Prices in images, as moderators think of them: a limit given in images of a model becomes
credits, and /quota show lists what one image of each kind costs and how many the limit buys.

Everything is priced by ``costs.quote``, as a job of that kind is reserved and charged (the
guild's overrides, then the model's own prices, then those of the models it is ``like``), so a
limit of "10 images of gpt-image-2" admits exactly 10 such images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot import words
from bot.i18n import SOURCE, Text, lazy, t
from bot.images.types import Operation
from bot.models import ModelSpec
from bot.quotas.costs import Quote, quote
from bot.quotas.windows import credits_per, images_per
from bot.store import CostKey, QuotaPolicy, Window

OPERATIONS: tuple[Operation, ...] = ("generate", "edit", "variation")


@dataclass(frozen=True, slots=True)
class ImageKind:
    """One kind of image: a model at a size and quality (None: the model takes none)."""

    model: str
    size: str | None
    quality: str | None
    like: tuple[str, ...] = ()  # the models its prices follow when it has none of its own


@dataclass(frozen=True, slots=True)
class ImageCount:
    """A number of images of one kind, priced in this guild."""

    images: int
    kind: ImageKind
    price: Quote  # one image; its size and quality are what was priced ("auto" resolved)

    @property
    def credits(self) -> int:
        """What the images cost together."""
        return self.images * self.price.credits

    def describe(self, window: Window) -> Text:
        """ "10 images of gpt-image-2 per day (1024x1024, medium): 40 credits", put in the
        reader's language where it is shown (``str()`` is the English)."""
        images = images_per(self.images, self.kind.model, window)
        cost = words.credit_count(self.credits)
        shown = ", ".join(filter(None, (self.price.size, self.price.quality)))
        if shown:
            return lazy(
                "{images} ({details}): {credits}", images=images, details=shown, credits=cost
            )
        return lazy("{images}: {credits}", images=images, credits=cost)


def offered(usable: Iterable[ModelSpec], allowed: Sequence[str] | None) -> tuple[ModelSpec, ...]:
    """The models a server allows among those its provider can use today, in the provider's order."""
    return tuple(spec for spec in usable if allowed is None or spec.name in allowed)


def main_operation(spec: ModelSpec) -> Operation | None:
    """The command a model is priced for: /imagine when it can, else the first it can do."""
    return next((op for op in OPERATIONS if spec.can(op)), None)


def default_kind(spec: ModelSpec, size: str | None = None, quality: str | None = None) -> ImageKind:
    """What a member gets from ``spec`` when they pick nothing (or only ``size``/``quality``)."""
    op = main_operation(spec)
    default_size = spec.default_size(op) if op else None
    return ImageKind(spec.name, size or default_size, quality or spec.default_quality, spec.lineage)


def count_of(images: int, kind: ImageKind, overrides: Mapping[CostKey, int]) -> ImageCount:
    """``images`` of ``kind`` priced under a guild's price overrides."""
    price = quote(kind.model, kind.size, kind.quality, overrides=overrides, like=kind.like)
    return ImageCount(images, kind, price)


# --- the price list of /quota show ------------------------------------------------------------


def price_lines(
    policy: QuotaPolicy, models: Sequence[ModelSpec], locale: str = SOURCE
) -> list[str]:
    """One line per model and quality: each listed size's credits per image, and how many images
    the member limit buys; the default quality and prices set here are marked. In ``locale``."""
    if not models:
        return []
    limit = policy.user_limit or None  # no limit, or 0, buys no count worth showing
    if limit is None:
        header = t(locale, "**Prices** in credits per image.")
    else:
        header = t(
            locale,
            "**Prices** in credits per image; in brackets, how many images the member limit "
            "({limit}) buys.",
            limit=credits_per(limit, policy.window),
        )
    lines = [
        header,
        t(
            locale,
            "Prices are the defaults unless marked (set here); each model's default size comes "
            "first.",
        ),
    ]
    for spec in models:
        lines += _model_lines(spec, policy.costs, limit, locale)
    return lines


def _model_lines(
    spec: ModelSpec, costs: Mapping[CostKey, int], limit: int | None, locale: str
) -> list[str]:
    kind = default_kind(spec)
    op = main_operation(spec)
    listed = (kind.size, *(spec.sizes(op) if op else ()))
    sizes: list[str | None] = [s for s in dict.fromkeys(listed) if s and s != "auto"] or [None]
    qualities: list[str | None] = [q for q in spec.values("quality") if q != "auto"]
    lines = []
    for quality in qualities or [None]:
        head = f"**{spec.name}**"
        if quality is not None:
            shown = t(locale, "{quality} (default)", quality=quality)
            head += " · " + (shown if quality == spec.default_quality else quality)
        entries = [
            _entry(
                size,
                quote(spec.name, size, quality, overrides=costs, like=spec.lineage),
                limit,
                locale,
            )
            for size in sizes
        ]
        lines.append(f"{head}: {' · '.join(entries)}")
    return lines


def _entry(size: str | None, price: Quote, limit: int | None, locale: str) -> str:
    notes = [t(locale, "set here")] if price.set_here else []
    if limit is not None:
        if price.credits == 0:
            notes.append(t(locale, "any number"))
        else:
            count = limit // price.credits
            notes.append(words.images(count, locale))
    shown = f"{size or t(locale, 'any size')} {price.credits}"
    return f"{shown} ({', '.join(notes)})" if notes else shown
