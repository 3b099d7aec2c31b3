"""No member's metadata reaches a provider: GPS, camera, comments and text leave every input.

Files that can go as they are keep their compressed pixels byte for byte and what rendering needs
(colour profile, gamma, transparency); files that are re-encoded carry nothing over.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from bot.images.processing import prepare_inputs
from bot.images.types import InputRules, RawImage

MB = 1024 * 1024
GPT_IMAGE = InputRules(
    max_images=4, formats=frozenset({"png", "jpeg", "webp"}), max_bytes=50 * MB, square=False,
    max_side=2048,
)  # fmt: skip
DALL_E_2 = InputRules(max_images=1, formats=frozenset({"png"}), max_bytes=4 * MB)
SECRETS = (b"52.5163", b"PhoneMaker", b"GPS secret", b"COMMENT secret", b"text secret")


@functools.cache
def srgb_profile() -> bytes:
    """One profile for the whole module: each new one carries the time it was made."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 0.0), 3: "E", 4: (13.0, 24.0, 0.0), 27: "52.5163"})
    return exif.tobytes()


def picture(mode: str = "RGB", size: tuple[int, int] = (96, 96)) -> Image.Image:
    image = Image.new(mode, size, (200, 40, 30, 255)[: len(mode)])
    ImageDraw.Draw(image).ellipse(
        (10, 10, size[0] - 20, size[1] - 30), fill=(0, 90, 200, 128)[: len(mode)]
    )
    return image


def saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def only(data: bytes, name: str, rules: InputRules = GPT_IMAGE, mask: bytes | None = None):  # type: ignore[no-untyped-def]
    mask_raw = RawImage(mask, "mask.png") if mask is not None else None
    prepared = prepare_inputs([RawImage(data, name)], mask_raw, rules)
    return prepared.images[0], prepared.mask


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA").tobytes()


def assert_no_secrets(data: bytes) -> None:
    found = [s for s in SECRETS if s in data]
    assert not found, f"{found} still in the file sent to the provider"


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(kind, whole chunk) for each chunk up to IEND."""
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        chunks.append((kind, data[at : at + 12 + length]))
        if kind == b"IEND":
            break
        at += 12 + length
    return chunks


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_carrying_6_mb_of_text_leaves_as_its_picture() -> None:
    info = PngImagePlugin.PngInfo()
    for index in range(6):  # Pillow reads text chunks of up to 1 MB each
        info.add_text(f"Comment{index}", "text secret " + "x" * (MB - 100))
    info.add_itxt("XML:com.adobe.xmp", "GPS secret")
    image = picture("RGBA")
    data = saved(image, "PNG", pnginfo=info, exif=phone_exif(), icc_profile=srgb_profile())
    assert len(data) > 6 * 10**6
    sent, _ = only(data, "tiny.png")
    assert len(sent.data) < 10_000  # was forwarded as it came, megabytes of text included
    assert_no_secrets(sent.data)
    assert [kind for kind, _ in png_chunks(sent.data)] == [b"IHDR", b"iCCP", b"IDAT", b"IEND"]
    original_idat = [chunk for kind, chunk in png_chunks(data) if kind == b"IDAT"]
    assert [chunk for kind, chunk in png_chunks(sent.data) if kind == b"IDAT"] == original_idat
    assert pixels(sent.data) == pixels(data)
    with Image.open(io.BytesIO(sent.data)) as back:
        assert back.info.get("icc_profile") == srgb_profile()


def test_png_keeps_gamma_and_transparency_chunks_and_drops_what_follows_iend() -> None:
    data = saved(picture("RGB"), "PNG", transparency=(200, 40, 30))
    gamma = png_chunk(b"gAMA", struct.pack(">I", 45455))
    data = data[:33] + gamma + png_chunk(b"tIME", b"\x07\xe8\x01\x02\x03\x04\x05") + data[33:]
    data += b"appended after IEND: text secret"
    sent, _ = only(data, "flat.png")
    assert_no_secrets(sent.data)
    kinds = [kind for kind, _ in png_chunks(sent.data)]
    assert kinds == [b"IHDR", b"gAMA", b"tRNS", b"IDAT", b"IEND"]
    assert sent.data.endswith(png_chunk(b"IEND", b""))
    assert pixels(sent.data) == pixels(data)


@pytest.mark.parametrize("progressive", [False, True])
def test_phone_jpeg_loses_exif_xmp_and_comments_but_keeps_its_colour_profile(
    progressive: bool,
) -> None:
    data = saved(
        picture(size=(640, 480)),
        "JPEG",
        quality=90,
        exif=phone_exif(),
        xmp=b"<x:xmpmeta>GPS secret</x:xmpmeta>",
        comment=b"COMMENT secret",
        icc_profile=srgb_profile(),
        progressive=progressive,
    )
    sent, _ = only(data + b"trailing text secret", "phone.jpg")
    assert sent.format == "jpeg"
    assert_no_secrets(sent.data)
    assert pixels(sent.data) == pixels(data)
    with Image.open(io.BytesIO(sent.data)) as back:
        assert back.info.get("icc_profile") == srgb_profile()
        assert not back.getexif() and "xmp" not in back.info and "comment" not in back.info


def test_mpo_from_a_phone_leaves_as_its_first_picture_only() -> None:
    first, depth = picture(size=(320, 240)), Image.new("RGB", (320, 240), "gray")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[depth], exif=phone_exif())
    data = out.getvalue()
    sent, _ = only(data, "portrait.jpg")
    assert_no_secrets(sent.data)
    assert len(sent.data) < len(data) * 0.7
    with Image.open(io.BytesIO(sent.data)) as back:
        assert back.format == "JPEG"
    assert pixels(sent.data) == pixels(data)  # the first picture, untouched


def test_webp_loses_exif_and_xmp_but_keeps_its_profile_and_pixels() -> None:
    data = saved(
        picture("RGBA"),
        "WEBP",
        lossless=True,
        exif=phone_exif(),
        xmp=b"<x:xmpmeta>GPS secret</x:xmpmeta>",
        icc_profile=srgb_profile(),
    )
    assert b"EXIF" in data and b"XMP " in data
    sent, _ = only(data, "sticker.webp")
    assert sent.format == "webp"
    assert_no_secrets(sent.data)
    assert b"EXIF" not in sent.data and b"XMP " not in sent.data
    assert pixels(sent.data) == pixels(data)
    with Image.open(io.BytesIO(sent.data)) as back:
        assert back.info.get("icc_profile") == srgb_profile()


def test_gif_loses_its_comments_when_a_model_takes_gif() -> None:
    rules = InputRules(max_images=1, formats=frozenset({"gif"}), max_bytes=4 * MB, square=False)
    data = saved(picture("P"), "GIF", comment=b"COMMENT secret")
    sent, _ = only(data, "old.gif", rules)
    assert_no_secrets(sent.data)
    assert pixels(sent.data) == pixels(data)


def test_a_mask_sent_as_it_is_loses_its_text_too() -> None:
    image = saved(Image.new("RGBA", (256, 256), (9, 9, 9, 255)), "PNG")
    mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((0, 0, 99, 99), fill=(0, 0, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "text secret")
    mask_data = saved(mask, "PNG", pnginfo=info, exif=phone_exif())
    _, sent_mask = only(image, "in.png", DALL_E_2, mask=mask_data)
    assert sent_mask is not None
    assert_no_secrets(sent_mask.data)
    assert pixels(sent_mask.data) == pixels(mask_data)


def test_a_re_encoded_photo_carries_none_of_its_metadata() -> None:
    # Too large for the model's longest side: decoded, scaled and encoded again as JPEG.
    data = saved(
        picture(size=(3000, 1000)), "JPEG", exif=phone_exif(), comment=b"COMMENT secret",
        xmp=b"<x:xmpmeta>GPS secret</x:xmpmeta>",
    )  # fmt: skip
    sent, _ = only(data, "wide.jpg")
    assert (sent.format, sent.width) == ("jpeg", 2048)
    assert_no_secrets(sent.data)
