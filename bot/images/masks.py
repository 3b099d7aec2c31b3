"""Make a member's mask fit the image it goes with: an RGBA PNG whose transparent area is edited.

Split from prepare.py; pure and synchronous like it, so it can run in a process pool.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from PIL import Image

from bot.errors import ImageInputError
from bot.i18n import Words, lazy
from bot.images import codec, metadata
from bot.images.types import InputImage, InputRules, RawImage

Fit = Literal["crop", "pad"]
Size = tuple[int, int]
NO_TRANSPARENT_AREA = lazy("The mask has no transparent area, so nothing would be edited.")


class Guide(NamedTuple):
    """What the mask must follow: the first image's name, size as sent, and size once prepared."""

    name: str
    source: Size
    target: Size


def prepare_mask(
    raw: RawImage, guide: Guide, rules: InputRules, fit: Fit, max_bytes: int, notes: list[Words]
) -> InputImage:
    """The mask as an RGBA PNG the size of the prepared first image (transparent = edit)."""
    image, fmt = codec.open_checked(raw, max_bytes=max_bytes)
    with image:
        codec.load_checked(image, raw.filename)
        turn, mode = codec.orientation(image), image.mode
        alpha, from_grey = _mask_alpha(image)
    if codec.min_value(alpha) > 0:
        raise ImageInputError(NO_TRANSPARENT_AREA)
    target = guide.target
    filename = codec.renamed(raw.filename, "png")
    as_is = (fmt, mode, turn, from_grey, alpha.size) == ("png", "RGBA", 1, False, target)
    clean = metadata.stripped_or_none(raw.data, "png") if as_is else None
    if clean is not None and len(clean) <= rules.mask_max_bytes:
        return InputImage(clean, filename, "png", *target)
    alpha = codec.upright(alpha, turn)
    if alpha.size != guide.source:
        size = f"{alpha.width}x{alpha.height}"
        notes.append(
            lazy(
                "Resized the mask {mask} ({size}) to match {image}.",
                mask=raw.filename,
                size=size,
                image=guide.name,
            )
        )
    alpha = _fit_mask(alpha, target, rules.square, fit)
    if from_grey:
        alpha = alpha.point(lambda v: 255 if v >= 128 else 0)
    if codec.min_value(alpha) > 0:
        raise ImageInputError(
            lazy(
                "The mask's transparent area is outside the part of {image} that was kept, "
                "so nothing would be edited.",
                image=guide.name,
            )
        )
    mask = Image.new("RGBA", target, (0, 0, 0, 255))
    mask.putalpha(alpha)
    data = codec.encode(mask, "png")
    if len(data) > rules.mask_max_bytes:
        raise ImageInputError(
            lazy(
                "The mask is {size} once prepared; the limit is {limit}.",
                size=codec.megabytes(len(data), round_up=True),
                limit=codec.megabytes(rules.mask_max_bytes),
            )
        )
    return InputImage(data, filename, "png", *target)


def _mask_alpha(image: Image.Image) -> tuple[Image.Image, bool]:
    """The mask's alpha (0 = edit) and whether it came from a black-and-white picture."""
    pixels = codec.to_rgb(image)
    if pixels.mode == "RGBA":
        alpha = pixels.getchannel("A")
        if codec.min_value(alpha) < 255:
            return alpha, False
    # Painted masks: white means "edit here"; a threshold keeps JPEG noise from leaving greys.
    return pixels.convert("L").point(lambda v: 0 if v >= 128 else 255), True


def _fit_mask(alpha: Image.Image, target: Size, square: bool, fit: Fit) -> Image.Image:
    """Crop or pad the mask as its image was, then stretch it to exactly ``target``."""
    width, height = alpha.size
    box = None
    if square and width != height and fit == "crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        box = (left, top, left + side, top + side)
    elif square and width != height:
        side = max(width, height)
        canvas = Image.new("L", (side, side), 0)  # the image's padding is transparent: edit it too
        canvas.paste(alpha, ((side - width) // 2, (side - height) // 2))
        alpha = canvas
    if alpha.size == target and box is None:
        return alpha
    return alpha.resize(target, Image.Resampling.BILINEAR, box=box)
