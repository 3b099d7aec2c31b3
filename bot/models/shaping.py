"""Where a request's aspect ratio and detail become its size, and the note that says which.

``shaped`` is the one place: ``ImageService.check`` calls it before anything is downloaded or
charged, so the size is checked, reserved and sent like one the member typed. Aspect and detail
stay in the parameters (stored, never sent), so Try again and Re-roll make the same shape again.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import ValidationError
from bot.images.params import Params
from bot.images.types import ImageRequest, Operation
from bot.models.aspect import (
    RATIOS,
    STANDARD,
    TIERS,
    ratio_text,
    ratio_value,
    same_shape,
    size_for_shape,
    tier_named,
)
from bot.models.spec import ModelSpec, parse_size
from bot.models.validate import names


def shaped(
    spec: ModelSpec, op: Operation, params: Params, others: Sequence[ModelSpec] = ()
) -> Params:
    """``params`` with the size their aspect and detail stand for on ``spec``.

    An edit with a detail but no ratio keeps its photo's shape: only the detail is checked here,
    its size follows once the photo is read. A size that isn't the shape's is refused naming both
    options; ``others`` are named when another model makes what ``spec`` can't.
    """
    if params.aspect is None and params.detail is None:
        return params
    if op == "variation":
        raise ValidationError(["Aspect ratio and detail don't apply when you make variations."])
    tier = tier_named(params.detail or STANDARD).name
    photo = op == "edit" and params.aspect is None
    ratio = params.aspect or _default_ratio(spec, op)
    try:
        size = size_for_shape(spec, op, ratio, tier)
    except ValidationError as refused:
        able = [m for m in others if m.name != spec.name and makes(m, op, ratio, tier)]
        what = f"{tier} images" if photo else f"{ratio} at {tier} detail"
        hint = [f"Models that make {what}: {names(able)}."] if able else []
        reasons = [f"{spec.name} can't make {tier} images."] if photo else refused.violations
        raise ValidationError([*reasons, *hint]) from None
    if params.size is not None and (photo or params.size != size):
        raise ValidationError([_both(params)])
    return params if photo else params.replace(size=size)


def tier_sizes(spec: ModelSpec, op: Operation, aspect: str | None) -> list[tuple[str, str]]:
    """Each detail tier ``spec`` makes in ``aspect`` (its default shape when None), with the size
    it becomes, for autocomplete; an edit without a ratio keeps its image's shape."""
    photo = op == "edit" and aspect is None
    found = []
    for tier in TIERS:
        try:
            size = size_for_shape(spec, op, aspect or _default_ratio(spec, op), tier.name)
        except ValidationError:
            continue
        found.append((tier.name, "your image's shape" if photo else size))
    return found


def shape_note(spec: ModelSpec, request: ImageRequest) -> str | None:
    """What the member reads about the size their ratio and detail became, e.g. "16:9 at 2K:
    2048x1152."; None when they chose neither."""
    params = request.params
    size = parse_size(params.size or "")
    if (params.aspect is None and params.detail is None) or size is None:
        return None
    tier = tier_named(params.detail or STANDARD)
    if params.aspect is None and request.operation == "edit":
        return f"Your image's shape at {tier.name} detail: {params.size}."
    ratio = params.aspect or _default_ratio(spec, request.operation)
    if not same_shape(size, ratio_value(ratio)):
        return (
            f"{ratio} on {spec.name} is {params.size} ({ratio_text(size)}), the closest it makes."
        )
    at = f"{ratio} at {tier.name}" if tier.name != STANDARD else f"{ratio} at standard detail"
    if tier.long_edge is not None and max(size) < tier.long_edge * 0.95:
        return f"{at}: {params.size}, the largest {ratio} {spec.name} makes."
    return f"{at}: {params.size}."


def _both(params: Params) -> str:
    chosen = [f"{name} {value}" for name, value in (("aspect", params.aspect),
                                                    ("detail", params.detail)) if value]  # fmt: skip
    return (
        f"Choose either a size or an aspect ratio and detail, not both; you gave size "
        f"{params.size} and {' and '.join(chosen)}."
    )


def _default_ratio(spec: ModelSpec, op: Operation) -> str:
    """The ratio of the model's default size, when the member gave a detail but no ratio."""
    size = parse_size(spec.default_size(op) or "")
    shape = ratio_text(size) if size is not None else "1:1"
    return shape if shape in RATIOS else "1:1"


def makes(spec: ModelSpec, op: Operation, ratio: str, tier: str | None = None) -> bool:
    """Whether ``spec`` makes ``ratio`` at ``tier`` (standard when None) for ``op``."""
    if not spec.can(op):
        return False
    try:
        size_for_shape(spec, op, ratio, tier or STANDARD)
    except ValidationError:
        return False
    return True
