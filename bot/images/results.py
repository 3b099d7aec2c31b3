"""Synchronous parsing of an Images API answer: JSON, base64 and image headers.

Several MB per image. The client cuts the base64 images out with ``cut_images`` and decodes them on
the event loop a slice at a time; ``parse_result`` (in the bot's worker processes, or a thread) does
whole bodies of any other shape.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from PIL import Image, UnidentifiedImageError

from bot.errors import BadResponse
from bot.i18n import lazy
from bot.images.errors_map import UNREADABLE
from bot.images.sniff import sniff_format
from bot.images.types import GeneratedImage, ImageFormat, ImageResult, Usage

NO_IMAGES = lazy("The image service returned no images.")
NOT_AN_IMAGE = lazy("The image service returned a file that is not a usable image.")
_B64_KEY = b'"b64_json"'
_COLON_QUOTE = re.compile(rb'[ \t\r\n]*:[ \t\r\n]*"')
_SKELETON_MAX = 64 * 1024  # what is left of a body once its images are cut out; parsed on the loop


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of ``data``: decoded bytes, or a URL still to download."""

    data: bytes | None
    url: str | None
    revised_prompt: str | None


@dataclass(frozen=True, slots=True)
class Encoded:
    """One entry of ``data`` whose base64 text is still in the body, at ``body[start:end]``."""

    start: int
    end: int
    revised_prompt: str | None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed success body: its top-level fields, and per entry an image or a URL to fetch."""

    fields: dict[str, Any]  # everything but ``data``
    entries: list[GeneratedImage | Item]  # an Item only for a URL still to download


def parse_result(chunks: Sequence[bytes]) -> Parsed:
    """Parse, decode and inspect a success body (its chunks as received) in one go."""
    payload, items = parse_items(b"".join(chunks))
    fields = {key: value for key, value in payload.items() if key != "data"}
    entries: list[GeneratedImage | Item] = [
        item if item.data is None else inspect_image(item.data, item.revised_prompt)
        for item in items
    ]
    return Parsed(fields, entries)


def parse_items(body: bytes) -> tuple[dict[str, Any], list[Item]]:
    """Parse a success body into its top-level fields and its decoded (or to-download) images."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadResponse(UNREADABLE) from None
    if not isinstance(payload, dict):
        raise BadResponse(UNREADABLE)
    entries = payload.get("data")  # an error in a 200 body was taken out by the client already
    if not isinstance(entries, list) or not entries:
        raise BadResponse(NO_IMAGES)
    items: list[Item] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadResponse(NOT_AN_IMAGE)
        revised = _revised(entry)
        b64, url = entry.get("b64_json"), _url(entry)
        if isinstance(b64, str) and b64:
            items.append(Item(decode_b64(b64), None, revised))
        elif url is not None:
            items.append(Item(None, url, revised))
        else:
            raise BadResponse(NOT_AN_IMAGE)
    return payload, items


def cut_images(body: bytes) -> tuple[dict[str, Any], list[Item | Encoded]] | None:
    """The body parsed with its base64 images left in place: fields and entries, or None.

    JSON parsing copies every base64 string into a new str, char by char; here only the small rest
    of the body is parsed, and each image's text stays a span of ``body`` to decode from. Only the
    plain shape of a success body qualifies (each ``b64_json`` a non-empty string without escapes,
    found exactly where the parse puts it); for anything else this returns None and
    ``parse_result`` does the whole job, with its errors.
    """
    spans = b64_spans(body)
    if not spans:
        return None
    skeleton = bytearray()
    done = 0
    for n, (start, end) in enumerate(spans):
        skeleton += body[done:start]
        skeleton += b"\\u0000%d" % n  # a NUL cannot come from a string without escapes
        done = end
    skeleton += body[done:]
    if len(skeleton) > _SKELETON_MAX:
        return None
    try:
        payload = json.loads(skeleton)
    except (ValueError, UnicodeDecodeError):
        return None
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    placed = [e["b64_json"] for e in entries if "b64_json" in e]
    if placed != [f"\x00{n}" for n in range(len(spans))]:
        return None  # a b64_json key somewhere else, or one that is not a string
    cut: list[Item | Encoded] = []
    for entry in entries:
        b64, url = entry.get("b64_json"), _url(entry)
        if b64 is None and url is None:
            return None
        revised = _revised(entry)
        if b64 is None:
            cut.append(Item(None, url, revised))
        else:
            start, end = spans[int(b64[1:])]
            cut.append(Encoded(start, end, revised))
    return {key: value for key, value in payload.items() if key != "data"}, cut


def b64_spans(body: bytes, first: int = 0, last: int | None = None) -> list[tuple[int, int]] | None:
    """Where each ``"b64_json": "..."`` string's text lies in ``body[first:last]``; None if one is
    empty or has escapes (then only a real JSON parse can tell what it holds)."""
    last = len(body) if last is None else last
    spans: list[tuple[int, int]] = []
    at = body.find(_B64_KEY, first, last)
    while at != -1:
        opening = _COLON_QUOTE.match(body, at + len(_B64_KEY), last)
        if opening is None:
            return None
        start = opening.end()
        end = body.find(b'"', start, last)
        if end <= start or body.find(b"\\", start, end) != -1:
            return None
        spans.append((start, end))
        at = body.find(_B64_KEY, end + 1, last)
    return spans


def _revised(entry: dict[str, Any]) -> str | None:
    revised = entry.get("revised_prompt")
    return revised if isinstance(revised, str) else None


def _url(entry: dict[str, Any]) -> str | None:
    url = entry.get("url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def decode_b64(text: str | bytes | memoryview) -> bytes:
    """Strict base64 decoding; a cut or corrupted string is a bad response."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise BadResponse(NOT_AN_IMAGE) from None


def inspect_image(data: bytes, revised_prompt: str | None = None) -> GeneratedImage:
    """Detect format (magic bytes) and size (header only) of a result; reject non-images."""
    fmt = sniff_format(data)
    if fmt is None or not _is_complete(fmt, data):
        raise BadResponse(NOT_AN_IMAGE)
    try:
        with Image.open(BytesIO(data)) as im:  # lazy: reads the header, decodes no pixels
            width, height = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise BadResponse(NOT_AN_IMAGE) from None
    return GeneratedImage(data, fmt, width, height, revised_prompt)


def _is_complete(fmt: ImageFormat, data: bytes) -> bool:
    """Whether the file has its end marker: a cut download or base64 string is not an image."""
    tail = data[-64:]
    if fmt == "png":
        return b"IEND" in tail
    if fmt == "jpeg":
        return b"\xff\xd9" in tail
    if fmt == "webp":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return tail.rstrip(b"\x00").endswith(b";")


def parse_usage(raw: object) -> Usage | None:
    """Token usage when the answer has it (GPT image models); None for DALL·E and most gateways."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        total_tokens=_int(raw.get("total_tokens")),
        input_text_tokens=_int(details.get("text_tokens")),
        input_image_tokens=_int(details.get("image_tokens")),
    )


def build_result(model: str, payload: dict[str, Any], images: list[GeneratedImage]) -> ImageResult:
    """The typed result of one call from its parsed payload and inspected images."""
    created = payload.get("created")
    return ImageResult(
        model=model,
        images=tuple(images),
        usage=parse_usage(payload.get("usage")),
        size=_str(payload.get("size")),
        quality=_str(payload.get("quality")),
        background=_str(payload.get("background")),
        output_format=_str(payload.get("output_format")),
        created=created if isinstance(created, int) and not isinstance(created, bool) else None,
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
