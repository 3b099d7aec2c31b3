"""Check a request against its model's limits, in a member's words, and adapt what can be."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.images.types import (
    EditRequest,
    GenerateRequest,
    ImageRequest,
    InputImage,
    InputRules,
    Operation,
    VariationRequest,
)
from bot.models.fields import IMAGE_FORMATS
from bot.models.spec import ModelSpec, Plan, parse_size

_OPERATION: dict[type[Any], Operation] = {
    GenerateRequest: "generate",
    EditRequest: "edit",
    VariationRequest: "variation",
}
_CAN = {"generate": "generate images", "edit": "edit images", "variation": "make variations"}
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")
DEFAULT_OUTPUT_FORMAT = "png"
RESPONSE_FORMAT = "b64_json"
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Option:
    """A request field whose allowed values are a list on the ModelSpec."""

    field: str
    label: str
    choices: str


_OPTIONS = (
    _Option("quality", "Quality", "qualities"),
    _Option("style", "Style", "styles"),
    _Option("background", "Background", "backgrounds"),
    _Option("output_format", "Output format", "output_formats"),
    _Option("moderation", "Moderation", "moderations"),
    _Option("input_fidelity", "Input fidelity", "input_fidelities"),
)


def operation_of(request: ImageRequest) -> Operation:
    """Which operation a request asks for."""
    return _OPERATION[type(request)]


def violations(
    spec: ModelSpec,
    request: ImageRequest,
    models: Sequence[ModelSpec],
    max_n_adapted: int,
    *,
    image_count: int | None = None,
) -> list[str]:
    """Every way ``request`` breaks ``spec``'s limits, phrased for a member; empty when none.

    With ``image_count``, the images are not prepared yet: only their number is checked.
    """
    op = operation_of(request)
    found = _prompt(spec, op, request) + _count(spec, request.n, max_n_adapted)
    if not spec.supports(op):
        able = ", ".join(m.name for m in models if m.supports(op)) or "none here"
        return [f"{spec.name} can't {_CAN[op]}. Models that can: {able}.", *found]
    return (
        found
        + _size(spec, op, request.size)
        + _options(spec, op, request, models)
        + _output(spec, op, request, models)
        + _inputs(spec, request, image_count)
    )


def normalise(spec: ModelSpec, request: ImageRequest) -> ImageRequest:
    """Fill default size and quality, and send ``response_format`` only where the model takes it."""
    op = operation_of(request)
    changes: dict[str, Any] = {
        "response_format": RESPONSE_FORMAT if spec.response_format else None,
    }
    if request.size is None:
        changes["size"] = spec.default_size(op)
    if not isinstance(request, VariationRequest) and request.quality is None:
        changes["quality"] = spec.default_quality
    return replace(request, **changes)


def split(spec: ModelSpec, request: ImageRequest) -> Plan:
    """One request when the model makes ``n`` at once, else parallel requests and a note."""
    if request.n <= spec.n_max:
        return Plan((request,))
    full, rest = divmod(request.n, spec.n_max)
    counts = [spec.n_max] * full + ([rest] if rest else [])
    note = f"{spec.name} makes {_per_request(spec)}, so I sent {len(counts)} requests."
    return Plan(tuple(replace(request, n=n) for n in counts), (note,))


def _per_request(spec: ModelSpec) -> str:
    return (
        "one image per request" if spec.n_max == 1 else f"at most {spec.n_max} images per request"
    )


def _prompt(spec: ModelSpec, op: Operation, request: ImageRequest) -> list[str]:
    if isinstance(request, VariationRequest):
        return []
    if not request.prompt.strip():
        return ["The prompt is empty; describe what you want to see."]
    limit = spec.prompt_limit(op)
    if limit is not None and len(request.prompt) > limit:
        return [
            f"Prompts for {spec.name} can be at most {limit} characters; "
            f"yours has {len(request.prompt)}."
        ]
    return []


def _count(spec: ModelSpec, n: int, max_n_adapted: int) -> list[str]:
    cap = max(spec.n_max, max_n_adapted)
    if n < 1:
        return [f"Ask for at least 1 image; you asked for {n}."]
    if n <= cap:
        return []
    if cap == spec.n_max:
        return [f"{spec.name} makes at most {cap} images per request; you asked for {n}."]
    return [
        f"{spec.name} makes {_per_request(spec)}, so I can make at most {cap} at once; "
        f"you asked for {n}."
    ]


def _size(spec: ModelSpec, op: Operation, size: str | None) -> list[str]:
    if size is None or spec.size_allowed(op, size):
        return []
    parsed = parse_size(size)
    if parsed is not None and spec.free_size is not None:
        reasons = " and ".join(spec.free_size.problems(*parsed))
        return [f"Size {size} doesn't work for {spec.name}: {reasons}."]
    choices = ", ".join(spec.sizes(op))
    if spec.free_size is not None:
        choices += f", or {spec.free_size.describe()}"
    if parsed is None and size != "auto":
        return [f"Size {size!r} isn't a size; write WIDTHxHEIGHT. Choose one of: {choices}."]
    return [f"Size {size} isn't available for {spec.name}. Choose one of: {choices}."]


def _options(
    spec: ModelSpec, op: Operation, request: ImageRequest, models: Sequence[ModelSpec]
) -> list[str]:
    found = []
    for option in _OPTIONS:
        value = getattr(request, option.field, None)
        choices: tuple[str, ...] = getattr(spec, option.choices)
        if value is None or value in choices:
            continue
        if not choices:
            able = [m.name for m in models if m.supports(op) and getattr(m, option.choices)]
            found.append(_only_for(option.label, able))
        else:
            found.append(
                f"{option.label} {value} isn't available for {spec.name}. "
                f"Choose one of: {', '.join(choices)}."
            )
    return found


def _only_for(label: str, able: Sequence[str]) -> str:
    if not able:
        return f"{label} isn't available for any model here."
    return f"{label} only applies to {', '.join(able)}."


def _output(
    spec: ModelSpec, op: Operation, request: ImageRequest, models: Sequence[ModelSpec]
) -> list[str]:
    if isinstance(request, VariationRequest):
        return []
    fmt = request.output_format or DEFAULT_OUTPUT_FORMAT
    found = []
    transparent = request.background == "transparent" and "transparent" in spec.backgrounds
    if transparent and fmt not in TRANSPARENT_FORMATS:
        found.append(f"A transparent background needs png or webp output; you chose {fmt}.")
    compression = request.output_compression
    if compression is None:
        return found
    if not spec.output_compression:
        able = [m.name for m in models if m.supports(op) and m.output_compression]
        found.append(_only_for("Output compression", able))
    elif not 0 <= compression <= 100:
        found.append(f"Output compression must be between 0 and 100; you gave {compression}.")
    elif fmt not in COMPRESSED_FORMATS:
        found.append(f"Output compression only works with jpeg or webp output, not {fmt}.")
    return found


def _inputs(spec: ModelSpec, request: ImageRequest, image_count: int | None) -> list[str]:
    if isinstance(request, GenerateRequest):
        return []
    if isinstance(request, EditRequest):
        images, missing = request.images, "Attach an image to edit."
    else:
        images = tuple(i for i in (request.image,) if i is not None)
        missing = "Attach an image to make variations of."
    rules, given = spec.input, len(images) if image_count is None else image_count
    if not given:
        return [missing]
    found = []
    if given > rules.max_images:
        limit = (
            "one image at a time" if rules.max_images == 1 else f"at most {rules.max_images} images"
        )
        found.append(f"{spec.name} takes {limit}; you gave {given}.")
    for index, image in enumerate(images, start=1):
        label = "The image" if len(images) == 1 else f"Image {index}"
        found += [f"{label} {reason}." for reason in _image(spec.name, image, rules)]
    mask = request.mask if isinstance(request, EditRequest) else None
    if mask is None or not images:
        return found
    return found + _mask(mask, images[0], rules.mask_max_bytes)


def _image(name: str, image: InputImage, rules: InputRules) -> list[str]:
    formats = [f for f in IMAGE_FORMATS if f in rules.formats]
    size = f"{image.width}x{image.height}"
    checks = (
        (image.format in rules.formats, f"is a {image.format}; {name} takes {_any(formats)}"),
        (
            len(image.data) <= rules.max_bytes,
            f"is {_mb(len(image.data))}; {name} takes images up to {_mb(rules.max_bytes)}",
        ),
        (
            not rules.square or image.width == image.height,
            f"is {size}; {name} needs square images",
        ),
        (
            max(image.width, image.height) <= rules.max_side,
            f"is {size}; {name} takes images up to {rules.max_side} pixels on a side",
        ),
    )
    return [reason for ok, reason in checks if not ok]


def _mask(mask: InputImage, first: InputImage, max_bytes: int) -> list[str]:
    mask_size, image_size = f"{mask.width}x{mask.height}", f"{first.width}x{first.height}"
    checks = (
        (mask.format == "png", f"The mask must be a png; yours is a {mask.format}."),
        (
            len(mask.data) <= max_bytes,
            f"The mask is {_mb(len(mask.data))}; it can be at most {_mb(max_bytes)}.",
        ),
        (
            mask_size == image_size,
            f"The mask is {mask_size} but the image is {image_size}; they must match.",
        ),
    )
    return [message for ok, message in checks if not ok]


def _any(formats: Sequence[str]) -> str:
    if len(formats) == 1:
        return f"{formats[0]} images only"
    return f"{', '.join(formats[:-1])} or {formats[-1]} images"


def _mb(size: int) -> str:
    """Size in MB, rounded up so that a file just over a limit doesn't read as the limit."""
    return f"{math.ceil(size * 10 / _MIB) / 10:g} MB"
