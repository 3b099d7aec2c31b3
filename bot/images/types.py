"""Typed requests and results of the Images API, shared by the catalog, the client and the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
class GenerateRequest:
    """Body of ``POST /images/generations``; ``None`` fields are not sent."""

    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    response_format: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class EditRequest:
    """Body of ``POST /images/edits`` (multipart); one image goes as ``image``, several as ``image[]``."""

    model: str
    prompt: str
    images: tuple[InputImage, ...]
    mask: InputImage | None = None
    n: int = 1
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    input_fidelity: str | None = None
    response_format: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class VariationRequest:
    """Body of ``POST /images/variations`` (multipart)."""

    model: str
    image: InputImage
    n: int = 1
    size: str | None = None
    response_format: str | None = None
    user: str | None = None


ImageRequest = GenerateRequest | EditRequest | VariationRequest


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
