"""The per-model rules of the OpenAI Images API (SDK 3.57 contract), as the fake enforces them.

``MODELS`` maps every model id to a ``FAMILIES`` key; a family is one set of rules:

    dall-e-2        256/512/1024 squares, n<=10, quality standard, variations, square PNG edits
    dall-e-3        three sizes, n=1, quality standard/hd, style, generations only
    gpt-image-1     gpt-image-1, gpt-image-1.5 (+ snapshot): standard sizes, input_fidelity high/low
    gpt-image-1-mini  the same, input_fidelity low only
    gpt-image       chatgpt-image-latest: a GPT image model with none of the extras below
    gpt-image-2.6   gpt-image-2.6-sunburst / -flare: the same rules as ``gpt-image``
    gpt-image-2     gpt-image-2 (+ snapshot): free sizes (multiples of 16 within 3840x2160 and 3:1,
                    655,360 to 8,294,400 pixels)
    gpt-image-2.5   the 2.5 models (+ snapshots): free sizes, quality xhigh/max, ``markup`` edits

Every GPT family takes complexity, safety_identifier, output_format (gif/svg when the server
grants access), background, moderation; none takes style or response_format. A refusal is a
``Reject`` the server answers as ``{"error": {message, type, param, code}}`` with ``param`` set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from multidict import CIMultiDict
from PIL import Image


@dataclass
class RecordedPart:
    """One multipart part as received."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """The part decoded as UTF-8 (for text fields)."""
        return self.data.decode("utf-8", "replace")


@dataclass
class RecordedRequest:
    """One request as received: ``endpoint`` is generations/edits/variations/models/files."""

    method: str
    path: str
    endpoint: str
    headers: CIMultiDict[str]
    json: Any = None
    parts: list[RecordedPart] = field(default_factory=list)

    @property
    def form(self) -> dict[str, str]:
        """Text (non-file) multipart fields by name."""
        return {p.name: p.text for p in self.parts if p.filename is None}

    def files(self, name: str | None = None) -> list[RecordedPart]:
        """File parts, all or those named ``name``, in the order sent."""
        return [p for p in self.parts if p.filename is not None and name in (None, p.name)]


@dataclass(frozen=True)
class FreeSize:
    """Which ``WxH`` sizes beyond the listed ones a model takes."""

    multiple: int = 16
    max_long: int = 3840
    max_short: int = 2160
    max_ratio: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400

    def fits(self, width: int, height: int) -> bool:
        """Whether ``width x height`` is one of these sizes."""
        long, short = max(width, height), min(width, height)
        return (
            short > 0
            and not (width % self.multiple or height % self.multiple)
            and long <= self.max_ratio * short
            and long <= self.max_long
            and short <= self.max_short
            and self.min_pixels <= width * height <= self.max_pixels
        )


@dataclass(frozen=True)
class Family:
    """Per-model rules of the real API, as the fake enforces them."""

    sizes: frozenset[str]
    max_n: int
    qualities: frozenset[str]
    prompt_max: int
    operations: frozenset[str]
    gpt: bool = False
    styles: frozenset[str] = frozenset()
    free_size: FreeSize | None = None
    revises_prompt: bool = False
    input_fidelities: frozenset[str] = frozenset()
    markup: bool = False


_GPT_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
_GPT_QUALITIES = frozenset({"low", "medium", "high", "auto"})
# fmt: off
_GPT = Family(_GPT_SIZES, 10, _GPT_QUALITIES, 32000, frozenset({"generate", "edit"}), gpt=True)
_GPT_2 = dataclasses.replace(_GPT, free_size=FreeSize())
FAMILIES: dict[str, Family] = {
    # "auto" is every model's default quality, so sending it is the same as omitting it.
    "dall-e-2": Family(frozenset({"256x256", "512x512", "1024x1024"}), 10,
                       frozenset({"standard", "auto"}), 1000,
                       frozenset({"generate", "edit", "variation"})),
    "dall-e-3": Family(frozenset({"1024x1024", "1792x1024", "1024x1792"}), 1,
                       frozenset({"standard", "hd", "auto"}), 4000, frozenset({"generate"}),
                       styles=frozenset({"vivid", "natural"}), revises_prompt=True),
    "gpt-image-1": dataclasses.replace(_GPT, input_fidelities=frozenset({"high", "low"})),
    "gpt-image-1-mini": dataclasses.replace(_GPT, input_fidelities=frozenset({"low"})),
    "gpt-image": _GPT,
    "gpt-image-2.6": _GPT,
    "gpt-image-2": _GPT_2,
    "gpt-image-2.5": dataclasses.replace(
        _GPT_2, qualities=_GPT_QUALITIES | {"xhigh", "max"}, markup=True),
}
# model id -> FAMILIES key
MODELS: dict[str, str] = {
    "dall-e-2": "dall-e-2", "dall-e-3": "dall-e-3",
    "gpt-image-1": "gpt-image-1", "gpt-image-1.5": "gpt-image-1",
    "gpt-image-1.5-2025-12-16": "gpt-image-1", "gpt-image-1-mini": "gpt-image-1-mini",
    "chatgpt-image-latest": "gpt-image",
    "gpt-image-2": "gpt-image-2", "gpt-image-2-2026-04-21": "gpt-image-2",
    "gpt-image-2.5-sunburst": "gpt-image-2.5", "gpt-image-2.5-sunburst-2026-09-08": "gpt-image-2.5",
    "gpt-image-2.5-flare": "gpt-image-2.5", "gpt-image-2.5-flare-2026-09-08": "gpt-image-2.5",
    "gpt-image-2.6-sunburst": "gpt-image-2.6", "gpt-image-2.6-flare": "gpt-image-2.6",
}
# fmt: on

IMAGE_MIMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
GATED_FORMATS = frozenset({"gif", "svg"})  # output formats a project needs access to
_SVG_FORM = {"svg[model]", "svg[reasoning][effort]"}  # multipart spelling of the svg object
_COMMON = {"model", "n", "size", "response_format", "user"}
_GPT_COMMON = {"output_format", "output_compression", "background", "moderation", "complexity"}
_GPT_COMMON |= {"safety_identifier", "frame_count", "frame_duration_ms", "svg"} | _SVG_FORM
_GPT_COMMON |= {"stream", "partial_images"}  # "only supported for the GPT image models"
_GPT_ONLY = _GPT_COMMON | {"input_fidelity", "markup"}
FIELDS = {
    "generations": _COMMON | _GPT_COMMON | {"prompt", "quality", "style"}
    | {"stream", "partial_images"},
    "edits": _COMMON | _GPT_COMMON | {"prompt", "image", "image[]", "mask", "markup", "quality"}
    | {"input_fidelity", "stream", "partial_images"},
    "variations": _COMMON | {"image"},
}  # fmt: skip
_OPERATION = {"generations": "generate", "edits": "edit", "variations": "variation"}
_CHOICES: dict[str, frozenset[str]] = {
    "response_format": frozenset({"url", "b64_json"}),
    "output_format": frozenset({"png", "jpeg", "webp"}) | GATED_FORMATS,
    "background": frozenset({"transparent", "opaque", "auto"}),
    "moderation": frozenset({"low", "auto"}),
    "complexity": frozenset({"low", "medium", "high"}),
}


class Reject(Exception):
    """A refused request: what the server answers in the spec's error shape."""

    def __init__(
        self,
        message: str,
        param: str | None,
        code: str | None = "invalid_value",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


def unknown(name: str) -> Reject:
    """A parameter the endpoint does not have (for this kind of model)."""
    return Reject(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def unsupported(name: str) -> Reject:
    """A parameter the endpoint has but this model does not take."""
    message = f"Unsupported parameter: '{name}' is not supported with this model."
    return Reject(message, name, "unsupported_parameter")


def missing(name: str) -> Reject:
    """A required parameter left out."""
    return Reject(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def invalid(name: str, value: object, allowed: Iterable[str] = ()) -> Reject:
    """A value this model does not take."""
    hint = f" Supported values are: {sorted(allowed)}." if allowed else ""
    return Reject(f"Invalid value for '{name}': '{value}'.{hint}", name)


@dataclass
class Job:
    """A validated request: what to render and how to answer."""

    family: Family
    n: int
    width: int
    height: int
    fmt: str
    url: bool
    prompt: str
    quality: str | None
    transparent: bool
    n_inputs: int = 0
    frames: int = 1
    safety_identifier: str | None = None
    stream: bool = False
    partial_images: int = 0


def validate(
    endpoint: str,
    rec: RecordedRequest,
    resolve: Callable[[str | None], Family],
    gated: frozenset[str],
) -> Job:
    """Check one image request like the real API; ``resolve`` turns the model id into rules."""
    multipart = endpoint != "generations"
    expected = "multipart/form-data" if multipart else "application/json"
    ctype = rec.headers.get("Content-Type", "").split(";")[0].strip()
    if ctype != expected:
        raise Reject(f"Invalid Content-Type header ({ctype}), expected {expected}.", None)
    if multipart:
        fields: dict[str, Any] = rec.form
        names = [p.name for p in rec.parts]
    else:
        if not isinstance(rec.json, dict):
            raise Reject("We could not parse the JSON body of your request.", None, None)
        fields, names = rec.json, list(rec.json)
    for name in names:
        if name not in FIELDS[endpoint]:
            raise unknown(name)
    model = fields.get("model")
    family = resolve(None if model is None else str(model))
    if _OPERATION[endpoint] not in family.operations:
        raise invalid("model", model)
    for name in names:
        if (name in _GPT_ONLY and not family.gpt) or (name == "style" and not family.styles):
            raise unknown(name)
    _check_params(family, fields)
    fmt = str(fields.get("output_format", "png"))
    frames = _check_output_format(fields, fmt, gated)
    prompt = fields.get("prompt")
    if endpoint != "variations":
        if not isinstance(prompt, str) or not prompt:
            raise missing("prompt")
        if len(prompt) > family.prompt_max:
            message = f"Invalid 'prompt': longer than {family.prompt_max} characters."
            raise Reject(message, "prompt", "string_above_max_length")
    n_inputs = _check_inputs(family, rec, fmt) if multipart else 0
    n = integer(fields, "n", 1, 1, family.max_n)
    if fmt == "svg" and n != 1:
        raise Reject("SVG output requires n=1.", "n", "invalid_value")
    width, height = _check_size(
        family, str(fields.get("size", "auto" if family.gpt else "1024x1024"))
    )
    safety = fields.get("safety_identifier") or fields.get("user") or None
    return Job(
        family=family,
        n=n,
        width=width,
        height=height,
        fmt=fmt,
        url=not family.gpt and fields.get("response_format", "url") == "url",
        prompt=str(prompt or ""),
        quality=fields.get("quality"),
        transparent=fields.get("background") == "transparent",
        n_inputs=n_inputs,
        frames=frames,
        safety_identifier=str(safety) if safety and family.gpt else None,
        stream=stream_flag(fields),
        partial_images=integer(fields, "partial_images", 0, 0, 3),
    )


def _check_params(family: Family, fields: dict[str, Any]) -> None:
    if family.gpt and "response_format" in fields:
        raise unknown("response_format")
    if "input_fidelity" in fields and not family.input_fidelities:
        raise unsupported("input_fidelity")
    stream_flag(fields)
    choices = {
        **_CHOICES,
        "quality": family.qualities,
        "style": family.styles,
        "input_fidelity": family.input_fidelities,
    }
    for name, allowed in choices.items():
        if name in fields and fields[name] not in allowed:
            raise invalid(name, fields[name], allowed)
    if "partial_images" in fields:
        integer(fields, "partial_images", 0, 0, 3)
    output_format = fields.get("output_format", "png")
    if fields.get("background") == "transparent" and output_format == "jpeg":
        raise Reject("Transparent background requires output_format png or webp.", "background")
    if "output_compression" in fields:
        level = integer(fields, "output_compression", 100, 0, 100)
        if level < 100 and output_format in ("png", "gif", "svg"):
            raise invalid("output_compression", level)


def _check_output_format(fields: dict[str, Any], fmt: str, gated: frozenset[str]) -> int:
    """The GIF/SVG preview rules; the number of frames to render."""
    if fmt in GATED_FORMATS and fmt not in gated:
        message = f"Your organization does not have access to output_format '{fmt}'."
        raise Reject(message, "output_format", "invalid_value")
    for name in ("frame_count", "frame_duration_ms"):
        if name in fields and fmt != "gif":
            raise Reject(f"'{name}' is only supported with output_format=gif.", name)
    if ("svg" in fields or _SVG_FORM & set(fields)) and fmt != "svg":
        raise Reject("'svg' is only supported with output_format=svg.", "svg")
    if fmt in GATED_FORMATS and fields.get("partial_images") not in (None, 0, "0"):
        raise Reject(f"output_format={fmt} does not support partial images.", "partial_images")
    if fmt in GATED_FORMATS and stream_flag(fields):
        raise Reject(f"output_format={fmt} does not support streaming.", "stream")
    if fmt != "gif":
        return 1
    integer(fields, "frame_duration_ms", 200, 1, 10**9)
    return integer(fields, "frame_count", 9, 2, 16)


def stream_flag(fields: dict[str, Any]) -> bool:
    """``stream`` as sent: a JSON boolean, or "true"/"false" in a multipart form (the SDK's)."""
    raw = fields.get("stream", False)
    if raw in (True, "true"):
        return True
    if raw in (False, None, "false"):
        return False
    raise Reject(f"Invalid type for 'stream': expected a boolean, got '{raw}'.", "stream",
                 "invalid_type")  # fmt: skip


def integer(fields: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    """An integer field (a JSON number or a multipart string) within ``low..high``."""
    raw = fields.get(name, default)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise Reject(f"Invalid type for '{name}': expected an integer.", name, "invalid_type")
    if raw < low:
        raise Reject(f"Invalid '{name}': below minimum {low}.", name, "integer_below_min_value")
    if raw > high:
        raise Reject(f"Invalid '{name}': above maximum {high}.", name, "integer_above_max_value")
    return raw


def _check_size(family: Family, size: str) -> tuple[int, int]:
    if size == "auto" and "auto" in family.sizes:
        return 1024, 1024
    if size in family.sizes:
        width, height = (int(v) for v in size.split("x"))
        return width, height
    w, _, h = size.partition("x")
    free = family.free_size
    if free and w.isdigit() and h.isdigit() and free.fits(int(w), int(h)):
        return int(w), int(h)
    raise invalid("size", size, family.sizes)


def _check_inputs(family: Family, rec: RecordedRequest, fmt: str) -> int:
    images = [p for p in rec.parts if p.name in ("image", "image[]")]
    if not images:
        raise missing("image")
    dalle = not family.gpt
    if len(images) > (1 if dalle else 16):
        raise Reject(f"Too many images: got {len(images)}.", "image", "too_many_images")
    first: tuple[int, int] | None = None
    for part in images:
        size = _check_file(part, "image", 4 * 1024 * 1024 if dalle else 50 * 1024 * 1024, dalle)
        first = first or size
        if dalle and size[0] != size[1]:
            raise Reject(
                "Uploaded image must be a square PNG under 4 MB.", "image", "invalid_image"
            )
    masks = [p for p in rec.parts if p.name == "mask"]
    if masks and fmt == "gif":
        raise Reject("output_format=gif does not support masks.", "mask")
    if masks and _check_file(masks[0], "mask", 4 * 1024 * 1024, True) != first:
        raise Reject("Invalid mask: must have the same size as the image.", "mask", "invalid_image")
    markups = [p for p in rec.parts if p.name == "markup"]
    if markups:
        _check_markup(family, markups[0], bool(masks), first)
    return len(images)


def _check_markup(
    family: Family, part: RecordedPart, with_mask: bool, first: tuple[int, int] | None
) -> None:
    if not family.markup:
        raise unsupported("markup")
    if with_mask:
        raise Reject("'markup' cannot be combined with 'mask'.", "markup", "invalid_value")
    if _check_file(part, "markup", 50 * 1024 * 1024, True) != first:
        message = "Invalid markup: must have the same dimensions as the first image."
        raise Reject(message, "markup", "invalid_image")
    with Image.open(BytesIO(part.data)) as im:
        alpha = im.convert("RGBA").getchannel("A")
    if alpha.getextrema()[0] == 255:
        raise Reject("Invalid markup: must contain transparent pixels.", "markup", "invalid_image")


def _check_file(part: RecordedPart, param: str, max_bytes: int, png_only: bool) -> tuple[int, int]:
    mime = (part.content_type or "").split(";")[0].strip()
    if mime not in IMAGE_MIMES or part.filename is None:
        message = f"Invalid file '{param}': unsupported mimetype ('{mime}')."
        raise Reject(message, param, "unsupported_file_mimetype")
    if png_only and mime != "image/png":
        raise Reject(f"Invalid file '{param}': must be a PNG.", param, "invalid_image_format")
    if len(part.data) > max_bytes:
        raise Reject(f"Invalid file '{param}': too large.", param, "image_too_large")
    try:
        with Image.open(BytesIO(part.data)) as im:
            real, size = im.format, im.size
    except (OSError, ValueError, SyntaxError):
        real, size = None, (0, 0)
    if real != IMAGE_MIMES[mime]:
        raise Reject(f"Invalid file '{param}': not a {mime}.", param, "invalid_image_format")
    return size
