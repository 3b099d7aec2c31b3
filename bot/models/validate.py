"""Check a request against its model's limits, in a member's words, and adapt what can be.

Every refusal and note is a lazy ``Text``: whoever shows it puts it in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from bot.i18n import N_, Listed, Text, Words, lazy, lazy_n
from bot.images.params import CHOICES, Choice
from bot.images.types import ImageRequest, Operation
from bot.models.inputs import input_violations
from bot.models.spec import ModelSpec, Plan, parse_size, size_text

# Whole sentences per operation: a verb reads differently after "can't" and after "when you".
_CANT: Mapping[Operation, str] = {
    "generate": N_("{model} can't generate images. Models that can: {models}."),
    "edit": N_("{model} can't edit images. Models that can: {models}."),
    "variation": N_("{model} can't make variations. Models that can: {models}."),
}
_NOT_WHEN: Mapping[Operation, str] = {
    "generate": N_("{option} doesn't apply when you generate images."),
    "edit": N_("{option} doesn't apply when you edit images."),
    "variation": N_("{option} doesn't apply when you make variations."),
}
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")
DEFAULT_OUTPUT_FORMAT = "png"
RESPONSE_FORMAT = "b64_json"
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def violations(
    spec: ModelSpec,
    request: ImageRequest,
    models: Sequence[ModelSpec],
    max_n_adapted: int,
    *,
    image_count: int | None = None,
) -> list[Text]:
    """Every way ``request`` breaks ``spec``'s limits, phrased for a member; empty when none.

    With ``image_count``, the images are not prepared yet: only their number is checked.
    """
    op = request.operation
    found = _prompt(spec, op, request) + _count(spec, request.n, max_n_adapted)
    if not spec.supports(op):
        able = [m.name for m in models if m.supports(op)]
        listed = names_of(able) if able else lazy("none here")
        return [lazy(_CANT[op], model=spec.name, models=listed), *found]
    return (
        found
        + _size(spec, op, request.params.size)
        + _options(spec, op, request, models)
        + _output(spec, op, request, models)
        + input_violations(spec, request, image_count)
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
    note = lazy_n(
        "{model} makes {per_request}, so I sent {count} request.",
        "{model} makes {per_request}, so I sent {count} requests.",
        len(counts),
        model=spec.name,
        per_request=_per_request(spec),
    )
    requests = tuple(replace(request, params=request.params.replace(n=n)) for n in counts)
    return Plan(requests, (note,))


def _per_request(spec: ModelSpec) -> Text:
    if spec.n_max == 1:
        return lazy("one image per request")
    return lazy_n(
        "at most {count} image per request", "at most {count} images per request", spec.n_max
    )


def _prompt(spec: ModelSpec, op: Operation, request: ImageRequest) -> list[Text]:
    if op == "variation":
        return []
    if not request.prompt.strip():
        return [lazy("The prompt is empty; describe what you want to see.")]
    limit = spec.prompt_limit(op)
    if limit is not None and len(request.prompt) > limit:
        return [
            lazy_n(
                "Prompts for {model} can be at most {count} character; yours has {length}.",
                "Prompts for {model} can be at most {count} characters; yours has {length}.",
                limit,
                model=spec.name,
                length=len(request.prompt),
            )
        ]
    return []


def _count(spec: ModelSpec, n: int, max_n_adapted: int) -> list[Text]:
    cap = max(spec.n_max, max_n_adapted)
    if n < 1:
        return [lazy("Ask for at least 1 image; you asked for {asked}.", asked=n)]
    if n <= cap:
        return []
    if cap == spec.n_max:
        return [
            lazy_n(
                "{model} makes at most {count} image per request; you asked for {asked}.",
                "{model} makes at most {count} images per request; you asked for {asked}.",
                cap,
                model=spec.name,
                asked=n,
            )
        ]
    return [
        lazy(
            "{model} makes {per_request}, so I can make at most {most} at once; "
            "you asked for {asked}.",
            model=spec.name,
            per_request=_per_request(spec),
            most=cap,
            asked=n,
        )
    ]


def _size(spec: ModelSpec, op: Operation, size: str | None) -> list[Text]:
    if size is None or spec.size_allowed(op, size):
        return []
    parsed = parse_size(size)
    free = spec.free_size
    if parsed is not None and free is not None:
        reasons = Listed(free.problems(*parsed))
        return [
            lazy(
                "Size {size} doesn't work for {model}: {reasons}.",
                size=size,
                model=spec.name,
                reasons=reasons,
            )
        ]
    sizes: tuple[Words, ...] = spec.sizes(op)
    choices = Listed((*sizes, free.describe()) if free is not None else sizes, "or")
    if parsed is None and size != "auto":
        return [
            lazy(
                "Size {size} isn't a size; write WIDTHxHEIGHT. Choose one of: {choices}.",
                size=repr(size),
                choices=choices,
            )
        ]
    return [
        lazy(
            "Size {size} isn't available for {model}. Choose one of: {choices}.",
            size=size,
            model=spec.name,
            choices=choices,
        )
    ]


def _options(
    spec: ModelSpec, op: Operation, request: ImageRequest, models: Sequence[ModelSpec]
) -> list[Text]:
    found = []
    for choice in CHOICES:
        value = getattr(request.params, choice.name)
        allowed = spec.values(choice.name) if op in choice.operations else ()
        if value is None or value in allowed:
            continue
        if op not in choice.operations:
            found.append(lazy(_NOT_WHEN[op], option=label(choice)))
        elif not allowed:
            able = [m.name for m in models if m.can(op) and m.values(choice.name)]
            found.append(_only_for(label(choice), able))
        else:
            found.append(
                lazy(
                    "{option} {value} isn't available for {model}. Choose one of: {choices}.",
                    option=label(choice),
                    value=value,
                    model=spec.name,
                    choices=Listed(allowed, "or"),
                )
            )
    return found


def label(choice: Choice) -> Text:
    """How members read a choice parameter's name ("Quality") in their language."""
    return lazy(choice.label)


def _only_for(option: Text, able: Sequence[str]) -> Text:
    if not able:
        return lazy("{option} isn't available for any model here.", option=option)
    return lazy("{option} only applies to {models}.", option=option, models=names_of(able))


def names(models: Iterable[ModelSpec]) -> Listed:
    """A short list of model names for a message: snapshots left out, at most a handful."""
    return names_of([m.name for m in models])


def names_of(found: Sequence[str], most: int = 6) -> Listed:
    """``found`` without dated snapshots (when their model is listed too), at most ``most``,
    listed as the reader's language lists names."""
    shown = [n for n in found if not (_SNAPSHOT.search(n) and _SNAPSHOT.sub("", n) in found)]
    more = len(shown) - most
    if more <= 0:
        return Listed(tuple(shown))
    return Listed((*shown[:most], lazy_n("{count} more", "{count} more", more)))


def _output(
    spec: ModelSpec, op: Operation, request: ImageRequest, models: Sequence[ModelSpec]
) -> list[Text]:
    params = request.params
    compression_label = lazy("Output compression")
    if op == "variation":
        return [] if params.output_compression is None else [_only_for(compression_label, [])]
    fmt = params.output_format or DEFAULT_OUTPUT_FORMAT
    found = []
    transparent = params.background == "transparent" and "transparent" in spec.values("background")
    if transparent and fmt not in TRANSPARENT_FORMATS:
        found.append(
            lazy(
                "A transparent background needs {formats}, not {format}.",
                formats=Listed(TRANSPARENT_FORMATS, "or"),
                format=fmt,
            )
        )
    compression = params.output_compression
    if compression is None:
        return found
    if not spec.output_compression:
        able = [m.name for m in models if m.supports(op) and m.output_compression]
        found.append(_only_for(compression_label, able))
    elif not 0 <= compression <= 100:
        found.append(
            lazy(
                "Output compression must be between 0 and 100; you gave {value}.",
                value=compression,
            )
        )
    elif fmt not in COMPRESSED_FORMATS:
        found.append(
            lazy(
                "Output compression only works with {formats} output, not {format}.",
                formats=Listed(COMPRESSED_FORMATS, "or"),
                format=fmt,
            )
        )
    return found


def _markup(spec: ModelSpec, request: ImageRequest, models: Sequence[ModelSpec]) -> list[Text]:
    markup = request.markup
    if markup is None:
        return []
    if request.operation != "edit" or not spec.markup:
        return [_only_for(lazy("A markup overlay"), [m.name for m in models if m.markup])]
    found = []
    if request.mask is not None:
        found.append(lazy("A markup overlay can't be combined with a mask; send one or the other."))
    first = request.images[0] if request.images else None
    if markup.format != "png":
        found.append(
            lazy("The markup overlay must be a png; yours is a {format}.", format=markup.format)
        )
    if first is not None and (markup.width, markup.height) != (first.width, first.height):
        found.append(
            lazy(
                "The markup overlay is {overlay} but the image is {image}; they must match.",
                overlay=size_text(markup.width, markup.height),
                image=size_text(first.width, first.height),
            )
        )
    return found
