"""Recognise an image's real format from its first bytes, whatever its name says."""

from __future__ import annotations

from bot.images.types import ImageFormat


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
