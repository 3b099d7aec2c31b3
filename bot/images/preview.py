"""A streamed partial image made small enough to show as a preview (run in a worker).

A partial is a full-size image (1-3 MB): shown as it comes, each would cost the bot a decode on its
event loop and an upload of that size, three times per image. A worker turns the base64 into a
small JPEG (WebP when it has transparency) instead; the loop ships text out and gets ~50 KB back.
"""

from __future__ import annotations

import io

from PIL import Image

from bot.images.codec import has_alpha
from bot.images.results import decode_b64

PREVIEW_SIDE = 512  # the longer side of a preview, in pixels


def thumbnail(b64: bytes, max_side: int = PREVIEW_SIDE) -> bytes:
    """The preview of a partial image's base64; empty when it isn't an image (it is skipped)."""
    data = decode_b64(b64)  # BadResponse when cut or corrupted
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_side, max_side))
            image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            out = io.BytesIO()
            if has_alpha(image):
                image.convert("RGBA").save(out, "WEBP", quality=80)
            else:
                image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return b""
