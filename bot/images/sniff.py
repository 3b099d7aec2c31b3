"""Recognise an image's real format from its first bytes, whatever its name says."""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

from bot.images.types import ImageFormat

# What members' phones, browsers and scanners make; read and converted, never uploaded as they are.
PhotoFormat = Literal["heic", "avif", "tiff", "bmp"]
SourceFormat = Literal[ImageFormat, PhotoFormat]
PHOTO_FORMATS: frozenset[str] = frozenset(get_args(PhotoFormat))
# ISO-BMFF brands (the ftyp box) of HEIF files coded in HEVC, or of HEIF with no codec named.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                          b"mif1", b"msf1"})  # fmt: skip
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_TIFF_PREFIXES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def sniff_format(data: bytes) -> ImageFormat | None:
    """The image format the magic bytes announce, or None when they announce none we use."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def sniff_source_format(data: bytes) -> SourceFormat | None:
    """Like ``sniff_format``, and also the photo formats members send (HEIC, AVIF, TIFF, BMP)."""
    known = sniff_format(data)
    if known is not None:
        return known
    if data.startswith(_TIFF_PREFIXES):
        return "tiff"
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    brands = _ftyp_brands(data)
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heic"
    return None


def is_upload_format(fmt: SourceFormat) -> TypeGuard[ImageFormat]:
    """Whether a model could take ``fmt`` as it is; photo formats are always converted."""
    return fmt not in PHOTO_FORMATS


def _ftyp_brands(data: bytes) -> frozenset[bytes]:
    """The major and compatible brands of an ISO-BMFF file's leading ftyp box; empty if none."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return frozenset()
    end = min(len(data), int.from_bytes(data[:4], "big"))
    compatible = (data[at : at + 4] for at in range(16, end - 3, 4))
    return frozenset({data[8:12], *compatible})
