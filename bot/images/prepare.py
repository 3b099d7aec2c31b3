"""Make member images fit what a model accepts (format, mode, square, size, bytes), and masks too.

Phone photos (HEIC, AVIF) and TIFF/BMP files are always converted: no model takes them as they are.
Pure and synchronous, with picklable inputs and outputs, so it can run in a process pool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from PIL import Image

from bot.errors import ImageInputError
from bot.i18n import N_, Words, lazy, lazy_n
from bot.images import codec, metadata
from bot.images.masks import NO_TRANSPARENT_AREA, Fit, Guide, Size, prepare_mask
from bot.images.sniff import SourceFormat, is_upload_format
from bot.images.types import ImageFormat, InputImage, InputRules, RawImage

__all__ = ["NO_TRANSPARENT_AREA", "Fit", "Prepared", "prepare_inputs"]
NOTHING_MARKED = N_(
    "Nothing in the image was marked for editing (no transparent area, no mask), so {who} can "
    "only return it nearly unchanged. Attach a mask — a PNG whose transparent area marks what to "
    "change — or use a GPT image model."
)
# Bicubic (antialiased when shrinking) measured 30% faster than Lanczos with no visible loss here.
_RESAMPLE = Image.Resampling.BICUBIC
_MIN_SIDE = 64
_PREFERRED: tuple[ImageFormat, ...] = ("png", "jpeg", "webp", "gif")
# A phone photo is lossy already: as JPEG it is a fraction of the PNG's bytes, with no visible loss.
_PHOTO_PREFERRED: tuple[ImageFormat, ...] = ("jpeg", "webp", "png")
_LOSSY_PHOTOS = frozenset({"heic", "avif"})


class _Done(NamedTuple):
    """One image ready to upload, its upright size as sent, and whether it has no transparency."""

    image: InputImage
    source: Size
    opaque: bool


@dataclass(frozen=True, slots=True)
class Prepared:
    """Input images and mask ready to upload, with one member-facing note per change made."""

    images: tuple[InputImage, ...]
    mask: InputImage | None
    notes: tuple[Words, ...]


def prepare_inputs(
    images: Sequence[RawImage],
    mask: RawImage | None,
    rules: InputRules,
    *,
    fit: Fit = "crop",
    max_bytes: int = 25 * codec.MB,
    model: str | None = None,
    edit: bool = False,
) -> Prepared:
    """Check member images and fix what the model would refuse; explain each fix in a note.

    ``edit``: the images go to the edits endpoint (not variations), where dall-e-2 changes only
    what a mask or the image's own transparency marks.
    """
    if not images:
        raise ImageInputError(lazy("Attach an image to edit."))
    if len(images) > rules.max_images:
        raise ImageInputError(
            lazy_n(
                "This model takes at most {count} image; you sent {sent}.",
                "This model takes at most {count} images; you sent {sent}.",
                rules.max_images,
                sent=len(images),
            )
        )
    notes: list[Words] = []
    who: Words = model or lazy("the model")
    done = [_prepare_image(raw, rules, fit, max_bytes, who, notes) for raw in images]
    ready_mask = None
    first = done[0]
    if mask is not None:
        target = (first.image.width, first.image.height)
        guide = Guide(images[0].filename, first.source, target)
        ready_mask = prepare_mask(mask, guide, rules, fit, max_bytes, notes)
    elif edit and _png_only(rules) and first.opaque:
        notes.append(lazy(NOTHING_MARKED, who=who))
    return Prepared(tuple(d.image for d in done), ready_mask, tuple(notes))


def _prepare_image(
    raw: RawImage, rules: InputRules, fit: Fit, max_bytes: int, who: Words, notes: list[Words]
) -> _Done:
    """One image made acceptable, with its upright size before any change."""
    image, fmt = codec.open_checked(raw, max_bytes=max_bytes)
    with image:
        header = image.size
        if fmt == "jpeg" and _needs_shaping(header, rules):
            # DCT scaling decodes at 1/2 to 1/8 size, much faster; both sides stay >= max_side.
            image.draft("RGB", (rules.max_side, rules.max_side))
        codec.load_checked(image, raw.filename)
        turn = codec.orientation(image)
        source = codec.upright_size(header, turn)
        if is_upload_format(fmt) and _acceptable(raw, image.mode, fmt, header, turn, rules):
            clean = metadata.stripped_or_none(raw.data, fmt)
            if clean is not None:
                ready = InputImage(clean, codec.renamed(raw.filename, fmt), fmt, *source)
                return _Done(ready, source, _opaque(image))
        had_alpha = codec.has_alpha(image)
        out_fmt = _output_format(fmt, rules, had_alpha)
        pixels = codec.to_rgb(image)
        rgba = _png_only(rules) or (pixels.mode == "RGBA" and out_fmt != "jpeg")
        if rgba and pixels.mode == "RGB" and fit == "pad":
            pixels = pixels.convert("RGBA")  # so the padding comes out transparent
        shaped = codec.upright(_shape(pixels, rules, fit), turn)
        if rgba and shaped.mode == "RGB":
            shaped = shaped.convert("RGBA")
        data, final, shrunk = _encode_within(shaped, out_fmt, rules.max_bytes, raw.filename)
        opaque = _opaque(shaped)
    notes.extend(
        _image_notes(raw.filename, fmt, out_fmt, source, final, shrunk, turn, rules, fit, who)
    )
    if had_alpha and out_fmt == "jpeg":
        notes.append(
            lazy("Removed the transparency from {name}, as JPEG has none.", name=raw.filename)
        )
    ready = InputImage(data, codec.renamed(raw.filename, out_fmt), out_fmt, *final)
    return _Done(ready, source, opaque)


def _opaque(image: Image.Image) -> bool:
    """Whether no pixel of a loaded image is even partly transparent."""
    if not codec.has_alpha(image):
        return True
    pixels = codec.to_rgb(image)
    return pixels.mode != "RGBA" or codec.min_value(pixels.getchannel("A")) == 255


def _png_only(rules: InputRules) -> bool:
    # Models that take only PNG (dall-e-2) refuse RGB PNGs for edits, so they get RGBA.
    return rules.formats == frozenset({"png"})


def _needs_shaping(size: Size, rules: InputRules) -> bool:
    return max(size) > rules.max_side or (rules.square and size[0] != size[1])


def _acceptable(
    raw: RawImage, mode: str, fmt: ImageFormat, size: Size, turn: int, rules: InputRules
) -> bool:
    """Whether the file can go as it is: its pixels byte for byte, only its metadata stripped."""
    mode_ok = mode == "RGBA" if _png_only(rules) else mode in ("RGB", "RGBA", "L")
    return (
        fmt in rules.formats
        and mode_ok
        and turn == 1
        and len(raw.data) <= rules.max_bytes
        and not _needs_shaping(size, rules)
    )


def _output_format(fmt: SourceFormat, rules: InputRules, alpha: bool) -> ImageFormat:
    # Re-encoding a GIF would quantise it again, so a changed GIF leaves as PNG when allowed.
    if is_upload_format(fmt) and fmt in rules.formats and fmt != "gif":
        return fmt
    preferred = _PHOTO_PREFERRED if fmt in _LOSSY_PHOTOS and not alpha else _PREFERRED
    return next((f for f in preferred if f in rules.formats), "png")


def _shape(image: Image.Image, rules: InputRules, fit: Fit) -> Image.Image:
    """Crop or pad to a centred square when the rules ask, with the long side <= max_side."""
    width, height = image.size
    if rules.square and width != height and fit == "crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        target = min(side, rules.max_side)
        box = (left, top, left + side, top + side)
        if target == side:
            return image.crop(box)
        return image.resize((target, target), _RESAMPLE, box=box, reducing_gap=3.0)
    scaled = _scale_to(image, rules.max_side)
    if not rules.square or width == height:
        return scaled
    side = max(scaled.size)
    canvas = Image.new(scaled.mode, (side, side))  # all zero: transparent for RGBA, else black
    canvas.paste(scaled, ((side - scaled.width) // 2, (side - scaled.height) // 2))
    return canvas


def _scale_to(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, _RESAMPLE, reducing_gap=3.0)


def _encode_within(
    image: Image.Image, fmt: ImageFormat, max_bytes: int, name: str
) -> tuple[bytes, Size, bool]:
    """Bytes under ``max_bytes`` (scaling down in steps), the final size, whether it shrank."""
    data = codec.encode(image, fmt)
    current = image
    while len(data) > max_bytes:
        factor = min(0.9, max(0.5, 0.95 * math.sqrt(max_bytes / len(data))))
        size = (max(1, int(current.width * factor)), max(1, int(current.height * factor)))
        if max(size) < _MIN_SIDE:
            limit = codec.megabytes(max_bytes)
            raise ImageInputError(
                lazy(
                    "{name} can't be made small enough for the {limit} limit.",
                    name=name,
                    limit=limit,
                )
            )
        current = image.resize(size, _RESAMPLE, reducing_gap=3.0)
        data = codec.encode(current, fmt)
    return data, current.size, current is not image


def _image_notes(
    name: str,
    fmt: SourceFormat,
    out_fmt: ImageFormat,
    source: Size,
    final: Size,
    shrunk: bool,
    turn: int,
    rules: InputRules,
    fit: Fit,
    who: Words,
) -> list[Words]:
    """What was done to one image, in the order it was done, for the member."""
    notes: list[Words] = []
    if turn != 1:
        notes.append(lazy("Turned {name} upright, as its camera orientation says.", name=name))
    if fmt != out_fmt:
        notes.append(
            lazy(
                "Converted {name} from {old} to {new}, as {model} needs.",
                name=name,
                old=fmt.upper(),
                new=out_fmt.upper(),
                model=who,
            )
        )
    width, height = source
    fitted = source
    if rules.square and width != height:
        side = min(source) if fit == "crop" else max(source)
        fitted = (side, side)
        sizes = {"name": name, "before": f"{width}x{height}", "after": f"{side}x{side}"}
        if fit == "crop":
            notes.append(lazy("Cropped {name} to a square ({before} -> {after}).", **sizes))
        else:
            notes.append(lazy("Padded {name} to a square ({before} -> {after}).", **sizes))
    size = f"{final[0]}x{final[1]}"
    if shrunk:
        limit = codec.megabytes(rules.max_bytes)
        notes.append(
            lazy(
                "Scaled {name} down to {size} to fit the {limit} limit.",
                name=name,
                size=size,
                limit=limit,
            )
        )
    elif max(final) < max(fitted):
        notes.append(
            lazy_n(
                "Scaled {name} down to {size}, as {model} takes at most {count} pixel a side.",
                "Scaled {name} down to {size}, as {model} takes at most {count} pixels a side.",
                rules.max_side,
                name=name,
                size=size,
                model=who,
            )
        )
    return notes
