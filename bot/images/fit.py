"""Shrink result images that are too big to upload, leaving the ones that fit untouched.

Pure and synchronous, with picklable inputs and outputs, so it can run in a process pool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image

from bot.errors import ImageInputError
from bot.i18n import Text, Words, lazy
from bot.images import codec
from bot.images.types import GeneratedImage, ImageFormat, RawImage

MIN_SIDE = 256
_STEP = 0.75
_FULL_SIZE_LADDER: tuple[tuple[ImageFormat, int], ...] = (
    ("webp", 90),
    ("webp", 80),
    ("webp", 70),
    ("webp", 60),
    ("jpeg", 85),
    ("jpeg", 70),
)
_SMALLER_LADDER: tuple[tuple[ImageFormat, int], ...] = (("webp", 80), ("jpeg", 70))


@dataclass(frozen=True, slots=True)
class Fitted:
    """Result images ready to attach, with one member-facing note per image that was changed."""

    images: tuple[GeneratedImage, ...]
    notes: tuple[Words, ...] = ()


def fit_for_upload(
    images: Sequence[GeneratedImage],
    limit_bytes: int,
    *,
    total_limit: int | None = None,
    total_known: bool = True,
) -> Fitted:
    """Re-encode, then scale down, only the images over the per-file (and per-message) limit.

    ``total_known=False``: ``total_limit`` is a guess made after Discord refused the upload as
    too large, not a limit Discord stated, so the notes don't name it.
    """
    budgets = _budgets([len(image.data) for image in images], limit_bytes, total_limit)
    fitted: list[GeneratedImage] = []
    notes: list[Words] = []
    for index, (image, budget) in enumerate(zip(images, budgets, strict=True), start=1):
        if len(image.data) <= budget:
            fitted.append(image)
            continue
        smaller, how = _shrink(image, budget, index)
        fitted.append(smaller)
        notes.append(
            _note(index, how, budget >= limit_bytes, limit_bytes, total_limit, total_known)
        )
    return Fitted(tuple(fitted), tuple(notes))


def _note(
    index: int, how: Text, under_file_limit: bool, limit: int, total: int | None, known: bool
) -> Text:
    """What the member reads about image ``index`` sent as ``how``, and which limit made it so."""
    if under_file_limit or total is None:
        return lazy(
            "Sent image {index} as {encoding} to fit Discord's {limit} limit.",
            index=index,
            encoding=how,
            limit=codec.megabytes(limit),
        )
    if known:
        return lazy(
            "Sent image {index} as {encoding} to fit Discord's {limit} limit per message.",
            index=index,
            encoding=how,
            limit=codec.megabytes(total),
        )
    return lazy(
        "Discord refused the images as too large, so I sent image {index} as {encoding}.",
        index=index,
        encoding=how,
    )


def _budgets(sizes: list[int], limit_bytes: int, total_limit: int | None) -> list[int]:
    """Per-image byte budgets: small images keep their size, big ones share what is left."""
    if total_limit is None:
        return [limit_bytes] * len(sizes)
    budgets = [limit_bytes] * len(sizes)
    remaining = total_limit
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    for left, index in enumerate(order):
        share = min(limit_bytes, max(0, remaining) // (len(sizes) - left))
        budgets[index] = share
        remaining -= min(sizes[index], share)
    return budgets


def _shrink(image: GeneratedImage, budget: int, index: int) -> tuple[GeneratedImage, Text]:
    """The image re-encoded (and if need be scaled down) under ``budget``, and how it was sent."""
    with _decoded(image, index) as source:
        pixels = codec.to_rgb(source)
        if pixels.mode == "RGBA" and codec.min_value(pixels.getchannel("A")) == 255:
            pixels = pixels.convert("RGB")  # opaque after all: JPEG may be tried
        for attempt, (fmt, quality) in _attempts(pixels):
            try:
                data = codec.encode(attempt, fmt, quality=quality)
            except (OSError, ValueError):  # e.g. WEBP refuses sides over 16383
                continue
            if len(data) <= budget:
                how = lazy("{format} (quality {quality})", format=fmt.upper(), quality=quality)
                if attempt.size != pixels.size:
                    size = f"{attempt.width}x{attempt.height}"
                    how = lazy(
                        "{format} (quality {quality}) at {size}",
                        format=fmt.upper(),
                        quality=quality,
                        size=size,
                    )
                resized = dataclasses.replace(
                    image, data=data, format=fmt, width=attempt.width, height=attempt.height
                )
                return resized, how
    raise ImageInputError(
        lazy(
            "Image {index} is too large to send here, even made smaller; try fewer images.",
            index=index,
        )
    )


def _decoded(image: GeneratedImage, index: int) -> Image.Image:
    """Image ``index`` opened and decoded; a member-facing error naming it when it can't be."""
    raw = RawImage(image.data, f"image-{index}")  # only named in the codec's errors, not shown
    try:
        source, _ = codec.open_checked(raw, max_bytes=len(image.data))
    except ImageInputError:
        raise ImageInputError(_unreadable(index)) from None
    try:
        codec.load_checked(source, raw.filename)
    except ImageInputError:
        source.close()
        raise ImageInputError(_unreadable(index)) from None
    return source


def _unreadable(index: int) -> Text:
    return lazy(
        "I couldn't read image {index} to make it smaller, so I can't send it.", index=index
    )


def _attempts(pixels: Image.Image) -> Iterator[tuple[Image.Image, tuple[ImageFormat, int]]]:
    """Encodings to try, best first: lower qualities, then ever smaller sizes down to MIN_SIDE."""
    # JPEG would drop real transparency, so transparent images only ever go as WEBP.
    keep = ("webp",) if pixels.mode == "RGBA" else ("webp", "jpeg")
    for step in _FULL_SIZE_LADDER:
        if step[0] in keep:
            yield pixels, step
    long_side = max(pixels.size)
    while long_side > MIN_SIDE:
        long_side = max(MIN_SIDE, int(long_side * _STEP))
        scale = long_side / max(pixels.size)
        size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
        smaller = pixels.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        for step in _SMALLER_LADDER:
            if step[0] in keep:
                yield smaller, step
