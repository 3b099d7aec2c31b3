"""Where a request's aspect ratio and detail become its size, and the note that says which.

``shaped`` is the one place: ``ImageService.check`` calls it before anything is downloaded or
charged, so the size is checked, reserved and sent like one the member typed. Aspect and detail
stay in the parameters (stored, never sent), so Try again and Re-roll make the same shape again.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import ValidationError
from bot.i18n import Text, Words, lazy
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
        raise ValidationError(
            [lazy("Aspect ratio and detail don't apply when you make variations.")]
        )
    tier = tier_named(params.detail or STANDARD).name
    photo = op == "edit" and params.aspect is None
    ratio = params.aspect or _default_ratio(spec, op)
    try:
        size = size_for_shape(spec, op, ratio, tier)
    except ValidationError as refused:
        able = [m for m in others if m.name != spec.name and makes(m, op, ratio, tier)]
        reasons: list[Words] = (
            [lazy("{model} can't make {tier} images.", model=spec.name, tier=tier)]
            if photo
            else list(refused.violations)  # still lazy: worded where they are shown
        )
        if able:
            reasons.append(_made_by(None if photo else ratio, tier, able))
        raise ValidationError(reasons) from None
    if params.size is not None and (photo or params.size != size):
        raise ValidationError([_both(params)])
    return params if photo else params.replace(size=size)


def tier_sizes(spec: ModelSpec, op: Operation, aspect: str | None) -> list[tuple[str, Words]]:
    """Each detail tier ``spec`` makes in ``aspect`` (its default shape when None), with the size
    it becomes, for autocomplete; an edit without a ratio keeps its image's shape."""
    photo = op == "edit" and aspect is None
    found: list[tuple[str, Words]] = []
    for tier in TIERS:
        try:
            size = size_for_shape(spec, op, aspect or _default_ratio(spec, op), tier.name)
        except ValidationError:
            continue
        found.append((tier.name, lazy("your image's shape") if photo else size))
    return found


def shape_note(spec: ModelSpec, request: ImageRequest) -> Text | None:
    """What the member reads about the size their ratio and detail became, e.g. "16:9 at 2K:
    2048x1152."; None when they chose neither."""
    params = request.params
    size = parse_size(params.size or "")
    if (params.aspect is None and params.detail is None) or size is None:
        return None
    tier = tier_named(params.detail or STANDARD)
    if params.aspect is None and request.operation == "edit":
        return lazy(
            "Your image's shape at {tier} detail: {size}.", tier=tier.name, size=params.size
        )
    ratio = params.aspect or _default_ratio(spec, request.operation)
    if not same_shape(size, ratio_value(ratio)):
        return lazy(
            "{ratio} on {model} is {size} ({shape}), the closest it makes.",
            ratio=ratio,
            model=spec.name,
            size=params.size,
            shape=ratio_text(size),
        )
    if tier.name == STANDARD:
        return lazy("{ratio} at standard detail: {size}.", ratio=ratio, size=params.size)
    values = {"ratio": ratio, "tier": tier.name, "size": params.size}
    if tier.long_edge is not None and max(size) < tier.long_edge * 0.95:
        return lazy(
            "{ratio} at {tier}: {size}, the largest {ratio} {model} makes.",
            model=spec.name,
            **values,
        )
    return lazy("{ratio} at {tier}: {size}.", **values)


def _made_by(ratio: str | None, tier: str, able: Sequence[ModelSpec]) -> Text:
    """The hint naming the models that make what was refused (``ratio`` None: a photo's shape)."""
    if ratio is None:
        return lazy("Models that make {tier} images: {models}.", tier=tier, models=names(able))
    return lazy(
        "Models that make {ratio} at {tier} detail: {models}.",
        ratio=ratio,
        tier=tier,
        models=names(able),
    )


def _both(params: Params) -> Text:
    """The refusal of a size given together with an aspect ratio or a detail."""
    if params.aspect and params.detail:
        return lazy(
            "Choose either a size or an aspect ratio and detail, not both; you gave size {size}, "
            "aspect ratio {ratio} and detail {detail}.",
            size=params.size,
            ratio=params.aspect,
            detail=params.detail,
        )
    if params.aspect:
        return lazy(
            "Choose either a size or an aspect ratio and detail, not both; you gave size {size} "
            "and aspect ratio {ratio}.",
            size=params.size,
            ratio=params.aspect,
        )
    return lazy(
        "Choose either a size or an aspect ratio and detail, not both; you gave size {size} "
        "and detail {detail}.",
        size=params.size,
        detail=params.detail,
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
