"""Check a request against its model's limits, in a member's words, and adapt what can be."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.images.params import CHOICES
from bot.images.types import ImageRequest, InputImage, InputRules, Operation
from bot.models.fields import IMAGE_FORMATS
from bot.models.spec import ModelSpec, Plan, parse_size

_CAN = {"generate": "generate images", "edit": "edit images", "variation": "make variations"}
_NO_VARY_IMAGE = "Attach an image to make variations of."
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")
DEFAULT_OUTPUT_FORMAT = "png"
RESPONSE_FORMAT = "b64_json"
_MIB = 1024 * 1024
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


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
    op = request.operation
    found = _prompt(spec, op, request) + _count(spec, request.n, max_n_adapted)
    if not spec.supports(op):
        able = names(m for m in models if m.supports(op)) or "none here"
        return [f"{spec.name} can't {_CAN[op]}. Models that can: {able}.", *found]
    return (
        found
        + _size(spec, op, request.params.size)
        + _options(spec, op, request, models)
        + _output(spec, op, request, models)
        + _inputs(spec, request, image_count)
        + _markup(spec, request, models)
    )


def normalise(spec: ModelSpec, request: ImageRequest) -> ImageRequest:
    """Fill default size and quality; send ``response_format`` and the safety identifier only
    where the model takes them."""
    op = request.operation
    params = request.params
    if params.size is None:
        params = params.replace(size=spec.default_size(op))
    if op != "variation" and params.quality is None:
        params = params.replace(quality=spec.default_quality)
    return replace(
        request,
        params=params,
        response_format=RESPONSE_FORMAT if spec.response_format else None,
        safety_identifier=request.safety_identifier if spec.safety_identifier else None,
    )


def split(spec: ModelSpec, request: ImageRequest) -> Plan:
    """One request when the model makes ``n`` at once, else parallel requests and a note."""
    if request.n <= spec.n_max:
        return Plan((request,))
    full, rest = divmod(request.n, spec.n_max)
    counts = [spec.n_max] * full + ([rest] if rest else [])
    note = f"{spec.name} makes {_per_request(spec)}, so I sent {len(counts)} requests."
    requests = tuple(replace(request, params=request.params.replace(n=n)) for n in counts)
    return Plan(requests, (note,))


def _per_request(spec: ModelSpec) -> str:
    return (
        "one image per request" if spec.n_max == 1 else f"at most {spec.n_max} images per request"
    )


def _prompt(spec: ModelSpec, op: Operation, request: ImageRequest) -> list[str]:
    if op == "variation":
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
    for choice in CHOICES:
        value = getattr(request.params, choice.name)
        allowed = spec.values(choice.name) if op in choice.operations else ()
        if value is None or value in allowed:
            continue
        if op not in choice.operations:
            found.append(f"{choice.label} doesn't apply when you {_CAN[op]}.")
        elif not allowed:
            able = [m.name for m in models if m.can(op) and m.values(choice.name)]
            found.append(_only_for(choice.label, able))
        else:
            found.append(
                f"{choice.label} {value} isn't available for {spec.name}. "
                f"Choose one of: {', '.join(allowed)}."
            )
    return found


def _only_for(label: str, able: Sequence[str]) -> str:
    if not able:
        return f"{label} isn't available for any model here."
    return f"{label} only applies to {names_of(able)}."


def names(models: Iterable[ModelSpec]) -> str:
    """A short list of model names for a message: snapshots left out, at most a handful."""
    return names_of([m.name for m in models])


def names_of(found: Sequence[str], most: int = 6) -> str:
    """``found`` without dated snapshots (when their model is listed too), at most ``most``."""
    shown = [n for n in found if not (_SNAPSHOT.search(n) and _SNAPSHOT.sub("", n) in found)]
    more = len(shown) - most
    return ", ".join(shown[:most]) + (f" and {more} more" if more > 0 else "")


def _output(
    spec: ModelSpec, op: Operation, request: ImageRequest, models: Sequence[ModelSpec]
) -> list[str]:
    params = request.params
    if op == "variation":
        return [] if params.output_compression is None else [_only_for("Output compression", [])]
    fmt = params.output_format or DEFAULT_OUTPUT_FORMAT
    found = []
    transparent = params.background == "transparent" and "transparent" in spec.values("background")
    if transparent and fmt not in TRANSPARENT_FORMATS:
        found.append(f"A transparent background needs png or webp, not {fmt}.")
    compression = params.output_compression
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
    if request.operation == "generate":
        return []
    images = request.images
    missing = "Attach an image to edit." if request.operation == "edit" else _NO_VARY_IMAGE
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
    if request.mask is None or not images:
        return found
    return found + _mask(request.mask, images[0], rules.mask_max_bytes)


def _markup(spec: ModelSpec, request: ImageRequest, models: Sequence[ModelSpec]) -> list[str]:
    markup = request.markup
    if markup is None:
        return []
    if request.operation != "edit" or not spec.markup:
        return [_only_for("A markup overlay", [m.name for m in models if m.markup])]
    found = []
    if request.mask is not None:
        found.append("A markup overlay can't be combined with a mask; send one or the other.")
    first = request.images[0] if request.images else None
    if markup.format != "png":
        found.append(f"The markup overlay must be a png; yours is a {markup.format}.")
    if first is not None and (markup.width, markup.height) != (first.width, first.height):
        found.append(
            f"The markup overlay is {markup.width}x{markup.height} but the image is "
            f"{first.width}x{first.height}; they must match."
        )
    return found


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
