"""Sizes from shapes: an edited photo's own shape, or an aspect ratio at a detail tier.

A landscape photo edited at 1024x1024 comes back squashed or cropped; at 1536x1024 it keeps its
shape. A member who asks for 16:9 at 2K gets 2048x1152 from a model with free sizes, and the
nearest listed size in shape from one without (1536x1024 on gpt-image-1). Pure: it reads the
model's sizes from its spec, nothing else.

Prices (bot/quotas/costs.py) are per listed size; a size the price table doesn't list is priced
as the dearest size of its quality, and in proportion to its pixels above that size's (tokens
grow with pixels), so a 4K image costs several times a 1024 one. The standard tier and an edit's
photo shape stay at or under 1536x1024's pixels (``DEFAULT_MAX_PIXELS``): they cost what the
standard sizes cost. A listed size of the same shape is preferred there, as it is priced exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.errors import ValidationError
from bot.i18n import Listed, Text, lazy
from bot.images.types import Operation
from bot.models.spec import FreeSize, ModelSpec, parse_size

Size = tuple[int, int]
DEFAULT_MAX_PIXELS = 1536 * 1024
# Ratios within 1% of each other look the same; a free size may be that far off to be larger.
_SAME_SHAPE = math.log(1.01)


@dataclass(frozen=True, slots=True)
class Tier:
    """A detail tier: how large the image is made; ``long_edge`` None is the standard size."""

    name: str
    long_edge: int | None
    meaning: Text  # what it means for the image and its price, in the reader's language


STANDARD = "standard"
TIERS: tuple[Tier, ...] = (
    Tier(STANDARD, None, lazy("about a megapixel, the usual price")),
    Tier("2K", 2048, lazy("long side up to {edge} pixels, costs more", edge=2048)),
    Tier("4K", 3840, lazy("long side up to {edge} pixels, costs the most", edge=3840)),
)
_STANDARD_EDGE = (TIERS[1].long_edge or 0) - 1  # a standard free size's longest side
# The ratios members pick from (landscape, then their portrait twins), with what they are for:
# members read these words only in the /imagine aspect choices, which cogs/translator.py
# translates as command strings ("16:9 — widescreen"), so they stay English here.
RATIOS: Mapping[str, str] = MappingProxyType(
    {
        "1:1": "square",
        "4:3": "landscape",
        "3:2": "landscape photo",
        "16:9": "widescreen",
        "21:9": "cinema",
        "3:4": "portrait",
        "2:3": "portrait photo",
        "9:16": "phone screen",
        "9:21": "tall banner",
    }
)


def size_for_aspect(
    spec: ModelSpec,
    op: Operation,
    width: int,
    height: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> str | None:
    """The size closest in shape to ``width`` x ``height`` that ``spec`` takes for ``op``.

    None when the model's sizes can't follow a shape (one size, or only squares, and no free
    sizes) or the image has no size.
    """
    if width <= 0 or height <= 0 or not spec.can(op):
        return None
    if spec.free_size is None and len({_ratio(size) for size in _listed(spec, op)}) <= 1:
        return None
    chosen = _closest(spec, op, width / height, max_pixels)
    return _text(chosen) if chosen is not None else None


def size_for_shape(spec: ModelSpec, op: Operation, ratio: str, tier: str = STANDARD) -> str:
    """The size ``spec`` makes for ``op`` nearest ``ratio`` ("16:9") at ``tier`` ("2K").

    A ValidationError names the model, ratio and tier and what it makes instead when it makes
    nothing of that orientation, or nothing larger at ``tier`` than at the tier below.
    """
    return _text(_at_tier(spec, op, ratio_value(ratio), tier_named(tier), ratio))


def size_for_photo(
    spec: ModelSpec, op: Operation, width: int, height: int, tier: str | None
) -> str | None:
    """An edit's size when the member gave no size or ratio: the photo's shape, at ``tier``."""
    level = tier_named(tier or STANDARD)
    if level.long_edge is None or width <= 0 or height <= 0:
        return size_for_aspect(spec, op, width, height)
    return _text(_at_tier(spec, op, width / height, level, None))


def largest_size(spec: ModelSpec, op: Operation, tier: str | None = None) -> str | None:
    """The largest size an edit that follows its photo's shape can get (credits are held for it
    until the photo is read); None when the model has one size."""
    level = tier_named(tier or STANDARD)
    listed = _listed(spec, op)
    if len(listed) < 2 and spec.free_size is None:
        return None
    shapes = [_ratio(size) for size in listed] + [ratio_value(r) for r in RATIOS]
    free = spec.free_size
    if free is not None:  # the widest box the rules allow holds the most pixels
        edge = level.long_edge or free.max_long
        shapes.append(min(edge, free.max_long) / min(edge, free.max_short))
    found = [size for shape in shapes if (size := _pick(spec, op, shape, level)) is not None]
    return _text(max(found, key=_area)) if found else None


def tier_named(name: str) -> Tier:
    """The tier called ``name`` (any case); a ValidationError listing the tiers otherwise."""
    for tier in TIERS:
        if tier.name.lower() == name.strip().lower():
            return tier
    offered = Listed(tuple(t.name for t in TIERS), "or")
    raise ValidationError(
        [
            lazy(
                "Detail {detail} isn't one I offer. Choose one of: {choices}.",
                detail=name,
                choices=offered,
            )
        ]
    )


def ratio_value(ratio: str) -> float:
    """Width over height of one of ``RATIOS``; a ValidationError listing them otherwise."""
    if ratio in RATIOS:
        width, _, height = ratio.partition(":")
        return int(width) / int(height)
    offered = Listed(tuple(RATIOS), "or")
    raise ValidationError(
        [
            lazy(
                "Aspect ratio {ratio} isn't one I offer. Choose one of: {choices}.",
                ratio=ratio,
                choices=offered,
            )
        ]
    )


def ratio_text(size: Size) -> str:
    """A size's shape as members read it: 1536x1024 is 3:2, 1792x1024 is 7:4."""
    width, height = size
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def same_shape(size: Size, ratio: float) -> bool:
    """Whether ``size`` looks like ``ratio`` (within 1%)."""
    return _distance(_ratio(size), ratio) <= _SAME_SHAPE


def _at_tier(spec: ModelSpec, op: Operation, shape: float, tier: Tier, ratio: str | None) -> Size:
    """The size at ``tier``, refused when the model can't keep the orientation or gives no more
    at ``tier`` than at the tier below it. ``ratio`` None: the shape is the member's photo's."""
    found = _pick(spec, op, shape, tier)
    if found is None or _side(_ratio(found)) != _side(shape):
        able = tuple(r for r in RATIOS if _fits_side(spec, op, ratio_value(r)))
        raise ValidationError([_no_shape(spec.name, ratio, able)])
    below = TIERS[TIERS.index(tier) - 1] if tier in TIERS[1:] else None
    lower = _pick(spec, op, shape, below) if below is not None else None
    if below is not None and lower is not None and _area(found) <= _area(lower):
        best = next(t for t in TIERS if _pick(spec, op, shape, t) == lower)
        shown = (
            _text(lower) if same_shape(lower, shape) else f"{_text(lower)} ({ratio_text(lower)})"
        )
        values = {"model": spec.name, "tier": tier.name, "size": shown, "best": best.name}
        if ratio is None:
            message = lazy(
                "{model} can't make your image's shape at {tier} detail; the most it makes for "
                "your image's shape is {size}, at {best} detail.",
                **values,
            )
        else:
            message = lazy(
                "{model} can't make {ratio} at {tier} detail; the most it makes for {ratio} is "
                "{size}, at {best} detail.",
                ratio=ratio,
                **values,
            )
        raise ValidationError([message])
    return found


def _no_shape(name: str, ratio: str | None, able: tuple[str, ...]) -> Text:
    """The refusal of a shape the model can't make in its orientation, naming those it can."""
    shapes = Listed(able)
    if ratio is None and able:
        return lazy(
            "{model} can't make your image's shape at any detail; it makes {shapes}.",
            model=name,
            shapes=shapes,
        )
    if ratio is None:
        return lazy("{model} can't make your image's shape at any detail.", model=name)
    if able:
        return lazy(
            "{model} can't make {ratio} images at any detail; it makes {shapes}.",
            model=name,
            ratio=ratio,
            shapes=shapes,
        )
    return lazy("{model} can't make {ratio} images at any detail.", model=name, ratio=ratio)


def _fits_side(spec: ModelSpec, op: Operation, shape: float) -> bool:
    found = _pick(spec, op, shape, TIERS[0])
    return found is not None and _side(_ratio(found)) == _side(shape)


def _pick(spec: ModelSpec, op: Operation, shape: float, tier: Tier) -> Size | None:
    """The size nearest ``shape`` at ``tier``: the largest of that shape with a long side up to
    the tier's, from the listed sizes and the free ones."""
    if tier.long_edge is None:
        return _closest(spec, op, shape, DEFAULT_MAX_PIXELS)
    edge = tier.long_edge
    candidates = [size for size in _listed(spec, op) if max(size) <= edge]
    if spec.free_size is not None:
        made = _free_size(spec.free_size, shape, None, max_edge=edge)
        candidates += [made] if made is not None else []
    return min(candidates, key=lambda size: _rank(size, shape), default=None)


def _rank(size: Size, shape: float) -> tuple[int, float, int]:
    """Shape first (within what the eye can tell), then as many pixels as allowed."""
    off = _distance(_ratio(size), shape)
    return (0, 0.0, -_area(size)) if off <= _SAME_SHAPE else (1, off, -_area(size))


def _closest(spec: ModelSpec, op: Operation, ratio: float, max_pixels: int) -> Size | None:
    """The listed size closest in shape (the default's area breaking ties), unless a free size
    under ``max_pixels`` keeps the shape better."""
    if not spec.can(op):
        return None
    listed = _listed(spec, op)
    free = spec.free_size
    reference = parse_size(spec.default_size(op) or "") or (1024, 1024)
    best = min(
        listed,
        key=lambda size: (_distance(_ratio(size), ratio), abs(_area(size) - _area(reference))),
        default=None,
    )
    if best is not None and (free is None or _distance(_ratio(best), ratio) <= _SAME_SHAPE):
        return best
    # Shorter than the 2K tier's long side, so that 2K is larger whatever the shape.
    made = _free_size(free, ratio, max_pixels, max_edge=_STANDARD_EDGE) if free else None
    return made or best


def _free_size(
    rules: FreeSize, ratio: float, max_pixels: int | None, *, max_edge: int | None = None
) -> Size | None:
    """The largest size of (nearly) ``ratio`` that ``rules`` allow, under ``max_pixels`` (None:
    the rules' own limit) and with no side over ``max_edge``."""
    if ratio < 1:  # a portrait is the landscape turned, so twins get the same pixels
        turned = _free_size(rules, 1 / ratio, max_pixels, max_edge=max_edge)
        return (turned[1], turned[0]) if turned is not None else None
    ratio = min(ratio, rules.max_ratio)
    budget = min(filter(None, (max_pixels, rules.max_pixels)), default=None)
    step = rules.multiple
    candidates: list[tuple[tuple[int, float], Size]] = []
    sizes = [
        (max(step, round(h * ratio / step) * step), h)
        for h in range(step, rules.max_long + 1, step)
    ]
    if max_edge:  # the long side right at the edge, which rounding from the short side can miss
        long = max_edge // step * step
        sizes.append((long, max(step, round(long / ratio / step) * step)))
    for width, height in sizes:
        if budget is not None and width * height > budget:
            continue
        if (max_edge and max(width, height) > max_edge) or rules.problems(width, height):
            continue
        off = _distance(width / height, ratio)
        rank = (0, -width * height) if off <= _SAME_SHAPE else (1, off)
        candidates.append((rank, (width, height)))
    return min(candidates)[1] if candidates else None


def _listed(spec: ModelSpec, op: Operation) -> list[Size]:
    return [size for size in map(parse_size, spec.sizes(op)) if size is not None]


def _side(ratio: float) -> int:
    """Landscape 1, portrait -1, square 0."""
    if abs(math.log(ratio)) <= _SAME_SHAPE:
        return 0
    return 1 if ratio > 1 else -1


def _ratio(size: Size) -> float:
    return size[0] / size[1]


def _area(size: Size) -> int:
    return size[0] * size[1]


def _distance(a: float, b: float) -> float:
    """How different two ratios look: 3:2 is as far from 1:1 as 1:1 is from 2:3."""
    return abs(math.log(a / b))


def _text(size: Size) -> str:
    return f"{size[0]}x{size[1]}"
