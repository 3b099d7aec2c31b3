"""The output size that keeps an edited photo's shape, when the member chose none.

A landscape photo edited at 1024x1024 comes back squashed or cropped; at 1536x1024 it keeps its
shape. Pure: it reads the model's sizes from its spec, nothing else.

Prices are per listed size (bot/quotas/costs.py). A free size the price table doesn't list is
priced as the dearest size of its quality, which for GPT image models is the 1536x1024 price; so
free sizes stay at or under 1536x1024's pixels (``DEFAULT_MAX_PIXELS``), where what they really
cost (tokens grow with pixels) is at most what is charged. A listed size of the same shape is
preferred, as it is priced exactly.
"""

from __future__ import annotations

import math

from bot.images.types import Operation
from bot.models.spec import FreeSize, ModelSpec, parse_size

Size = tuple[int, int]
DEFAULT_MAX_PIXELS = 1536 * 1024
# Ratios within 1% of each other look the same; a free size may be that far off to be larger.
_SAME_SHAPE = math.log(1.01)


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
    listed = [size for size in map(parse_size, spec.sizes(op)) if size is not None]
    free = spec.free_size
    if free is None and len({_ratio(size) for size in listed}) <= 1:
        return None
    ratio = width / height
    reference = parse_size(spec.default_size(op) or "") or (1024, 1024)
    best = min(
        listed,
        key=lambda size: (_distance(_ratio(size), ratio), abs(_area(size) - _area(reference))),
        default=None,
    )
    if best is not None and (free is None or _distance(_ratio(best), ratio) <= _SAME_SHAPE):
        return _text(best)
    chosen = (_free_size(free, ratio, max_pixels) if free is not None else None) or best
    return _text(chosen) if chosen is not None else None


def _free_size(rules: FreeSize, ratio: float, max_pixels: int) -> Size | None:
    """The largest size under ``max_pixels`` of (nearly) ``ratio`` that ``rules`` allow."""
    ratio = min(max(ratio, 1 / rules.max_ratio), rules.max_ratio)
    budget = min(max_pixels, rules.max_pixels or max_pixels)
    step = rules.multiple
    candidates: list[tuple[tuple[int, float], Size]] = []
    for height in range(step, rules.max_long + 1, step):
        width = max(step, round(height * ratio / step) * step)
        if width * height > budget or rules.problems(width, height):
            continue
        off = _distance(width / height, ratio)
        # Shape first (within what the eye can tell), then as many pixels as the budget allows.
        rank = (0, -width * height) if off <= _SAME_SHAPE else (1, off)
        candidates.append((rank, (width, height)))
    return min(candidates)[1] if candidates else None


def _ratio(size: Size) -> float:
    return size[0] / size[1]


def _area(size: Size) -> int:
    return size[0] * size[1]


def _distance(a: float, b: float) -> float:
    """How different two ratios look: 3:2 is as far from 1:1 as 1:1 is from 2:3."""
    return abs(math.log(a / b))


def _text(size: Size) -> str:
    return f"{size[0]}x{size[1]}"
