"""Strip metadata from an image file without touching its pixels: what goes to a provider is the picture.

A phone's photo carries its GPS position, camera and time in EXIF and XMP; editors add text chunks
and comments, sometimes megabytes of them. None of it is needed to edit the picture, so a file that
can go to the provider as it is still leaves without it. Only the container is rewritten: the
compressed image data is copied as is, and what rendering needs stays (colour profile, gamma and
transparency chunks, JPEG's Adobe colour transform). Anything after the image's end (an MPO's
depth maps and previews, appended data) is dropped too.

Each function raises ``ValueError`` on a container it can't walk; the caller then re-encodes.
"""

from __future__ import annotations

import struct

from bot.images.types import ImageFormat

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary PNG chunks that change how the pixels look; every other ancillary chunk (tEXt, zTXt,
# iTXt, eXIf, tIME, pHYs, private ones...) is dropped. Critical chunks (upper-case first letter)
# are always kept.
_PNG_RENDERING = frozenset({b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP",
                            b"mDCv", b"cLLI", b"bKGD"})  # fmt: skip
_JPEG_APP0, _JPEG_APP2, _JPEG_APP14, _JPEG_COM = 0xE0, 0xE2, 0xEE, 0xFE
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field
# WebP chunks the picture is made of; EXIF, XMP and unknown chunks are dropped.
_WEBP_KEPT = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"})
_GIF_GRAPHIC_CONTROL = 0xF9  # transparency and timing; comment/application/text extensions go
_WEBP_EXIF_XMP_FLAGS = 0x08 | 0x04


def strip_metadata(data: bytes, fmt: ImageFormat) -> bytes:
    """``data`` without its metadata, its compressed pixels copied byte for byte."""
    if fmt == "png":
        return _strip_png(data)
    if fmt == "jpeg":
        return _strip_jpeg(data)
    if fmt == "webp":
        return _strip_webp(data)
    return _strip_gif(data)


def stripped_or_none(data: bytes, fmt: ImageFormat) -> bytes | None:
    """``strip_metadata``, or None when the container is too odd to walk (re-encode it then)."""
    try:
        return strip_metadata(data, fmt)
    except ValueError:
        return None


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    view = memoryview(data)
    kept = [view[:8]]
    at = 8
    while True:
        if at + 12 > len(data):
            raise ValueError("PNG ends before IEND")
        (length,) = struct.unpack_from(">I", data, at)
        kind = bytes(view[at + 4 : at + 8])
        end = at + 12 + length
        if end > len(data):
            raise ValueError("PNG chunk runs past the end")
        if kind[0:1].isupper() or kind in _PNG_RENDERING:
            kept.append(view[at:end])
        if kind == b"IEND":
            return b"".join(kept)
        at = end


def _strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    view = memoryview(data)
    kept = [view[:2]]
    at = 2
    while True:
        while at < len(data) and data[at] == 0xFF and at + 1 < len(data) and data[at + 1] == 0xFF:
            at += 1  # fill bytes before a marker
        if at + 2 > len(data) or data[at] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[at + 1]
        if marker == _JPEG_EOI:
            kept.append(view[at : at + 2])
            return b"".join(kept)
        if marker in _JPEG_STANDALONE:
            kept.append(view[at : at + 2])
            at += 2
            continue
        if at + 4 > len(data):
            raise ValueError("JPEG segment cut short")
        (length,) = struct.unpack_from(">H", data, at + 2)
        end = at + 2 + length
        if length < 2 or end > len(data):
            raise ValueError("JPEG segment runs past the end")
        if _keep_jpeg_segment(marker, view[at + 4 : end]):
            kept.append(view[at:end])
        at = end
        if marker == _JPEG_SOS:
            scan_end = _scan_end(data, at)
            kept.append(view[at:scan_end])
            at = scan_end


def _keep_jpeg_segment(marker: int, body: memoryview) -> bool:
    """Every segment but metadata: APP1 (EXIF, XMP), APP3-APP13, APP15, comments, non-ICC APP2."""
    if marker in (_JPEG_APP0, _JPEG_APP14):
        return True  # JFIF density; Adobe's colour transform (how CMYK/YCC decode)
    if marker == _JPEG_APP2:
        return bytes(body[:12]) == b"ICC_PROFILE\x00"  # not MPF, which points at dropped images
    return not (0xE0 <= marker <= 0xEF or marker == _JPEG_COM)


def _scan_end(data: bytes, at: int) -> int:
    """Where the entropy-coded data starting at ``at`` ends: the next marker that is not RSTn."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            raise ValueError("JPEG scan never ends")
        following = data[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            at += 1 if following == 0xFF else 2  # stuffed byte, restart marker, or fill
            continue
        return at


def _strip_webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end_of_file = min(len(data), 8 + riff_size)
    view = memoryview(data)
    chunks: list[bytes | memoryview] = []
    at = 12
    while at + 8 <= end_of_file:
        kind = bytes(view[at : at + 4])
        (length,) = struct.unpack_from("<I", data, at + 4)
        end = at + 8 + length + (length & 1)  # chunks are padded to an even size
        if at + 8 + length > end_of_file:
            raise ValueError("WebP chunk runs past the end")
        if kind == b"VP8X":
            header = bytearray(view[at:end])
            header[8] &= ~_WEBP_EXIF_XMP_FLAGS & 0xFF
            chunks.append(bytes(header))
        elif kind in _WEBP_KEPT:
            chunks.append(view[at:end])
        at = end
    body = b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _strip_gif(data: bytes) -> bytes:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ValueError("not a GIF")
    view = memoryview(data)
    flags = data[10]
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # the global colour table
    kept = [view[:at]]
    while at < len(data):
        block = data[at]
        if block == 0x3B:  # trailer
            kept.append(view[at : at + 1])
            return b"".join(kept)
        if block == 0x21 and at + 1 < len(data):
            end = _sub_blocks_end(data, at + 2)
            if data[at + 1] == _GIF_GRAPHIC_CONTROL:
                kept.append(view[at:end])
        elif block == 0x2C and at + 10 <= len(data):
            local = data[at + 9]
            table = 3 << ((local & 7) + 1) if local & 0x80 else 0
            end = _sub_blocks_end(data, at + 10 + table + 1)  # + the LZW code size byte
            kept.append(view[at:end])
        else:
            raise ValueError("unknown GIF block")
        at = end
    raise ValueError("GIF ends before its trailer")


def _sub_blocks_end(data: bytes, at: int) -> int:
    """The offset just past a chain of GIF data sub-blocks starting at ``at``."""
    while at < len(data) and data[at]:
        at += data[at] + 1
    if at >= len(data):
        raise ValueError("GIF sub-blocks run past the end")
    return at + 1
