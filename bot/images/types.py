"""Typed requests and results of the Images API, shared by the catalog, the client and the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.images.params import Params

Operation = Literal["generate", "edit", "variation"]
OPERATIONS: tuple[Operation, ...] = ("generate", "edit", "variation")
ImageFormat = Literal["png", "jpeg", "webp", "gif"]

MIME_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image to upload; ``format`` is detected from the bytes, never from the filename."""

    data: bytes = field(repr=False)
    filename: str
    format: ImageFormat
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One Images API call: endpoint, model, the member's parameters and the input files.

    ``operation`` names the endpoint (a variation made through the edits endpoint is an "edit").
    Fields the model doesn't take are ``None`` and never sent. ``partial_images`` > 0 asks for a
    streamed answer with that many previews before the result (0: not streamed).
    """

    operation: Operation
    model: str
    prompt: str = ""
    params: Params = field(default_factory=Params)
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    markup: InputImage | None = None
    response_format: str | None = None
    safety_identifier: str | None = None
    partial_images: int = 0

    @property
    def n(self) -> int:
        return self.params.n

    @property
    def streams(self) -> bool:
        """Whether this request asks for a streamed answer."""
        return self.partial_images > 0

    def text_fields(self) -> dict[str, Any]:
        """The non-file fields of the body, in the API's names; ``None`` values left out."""
        fields: dict[str, Any] = {"model": self.model}
        if self.operation != "variation":
            fields["prompt"] = self.prompt
        fields.update(self.params.sent())
        extra = {
            "response_format": self.response_format,
            "safety_identifier": self.safety_identifier,
        }
        fields.update({k: v for k, v in extra.items() if v is not None})
        if self.streams:
            fields.update(stream=True, partial_images=self.partial_images)
        return fields


@dataclass(frozen=True, slots=True)
class ModelListing:
    """One entry of ``GET /models``: the id, and its ``shutdown_date`` when the provider gives one."""

    id: str
    shutdown_date: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage as the API reports it (GPT image models); absent for DALL·E and many gateways."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text_tokens: int = 0
    input_image_tokens: int = 0


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One result image: its bytes, detected format and size, and the revised prompt if any."""

    data: bytes = field(repr=False)
    format: ImageFormat
    width: int
    height: int
    revised_prompt: str | None = None

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class PartialImage:
    """A preview of a streamed result, ``index`` counting from 0, before the image is finished."""

    index: int
    data: bytes = field(repr=False)
    format: str  # "png", "jpeg" or "webp", as GeneratedImage's

    @property
    def mime(self) -> str:
        return MIME_TYPES.get(self.format, "application/octet-stream")


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What one API call (or several parallel calls for one job) produced."""

    model: str
    images: tuple[GeneratedImage, ...]
    usage: Usage | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: str | None = None
    created: int | None = None


@dataclass(frozen=True, slots=True)
class RawImage:
    """Bytes as a member supplied them (attachment, file), before any checks."""

    data: bytes = field(repr=False)
    filename: str


@dataclass(frozen=True, slots=True)
class InputRules:
    """What a model accepts as input images and masks for edits and variations."""

    max_images: int = 1
    formats: frozenset[ImageFormat] = frozenset({"png"})
    max_bytes: int = 4 * 1024 * 1024
    square: bool = True
    max_side: int = 1024
    mask_max_bytes: int = 4 * 1024 * 1024
