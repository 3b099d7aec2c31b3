"""Phone and scanner formats (HEIC, AVIF, TIFF, BMP): read, turned upright, converted, stripped.

Every file is made here with Pillow and pillow-heif, like the photos members send.
"""

from __future__ import annotations

import io
import struct

import pillow_heif
import pytest
from PIL import Image, ImageDraw

from bot.errors import ImageInputError
from bot.images.prepare import NOTHING_MARKED
from bot.images.processing import inspect, prepare_inputs
from bot.images.sniff import sniff_format, sniff_source_format
from bot.images.types import InputRules, RawImage
from tests.test_processing import (
    BLUE,
    DALL_E_2,
    GPT_IMAGE,
    MB,
    RED,
    decoded,
    encode,
    english,
    noise,
)

pillow_heif.register_heif_opener()  # to write HEIC here; the bot registers it itself to read
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def top_red(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """Top half red, bottom half blue: once turned, the red half ends on one side."""
    image = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, size[0], size[1] // 2 - 1), fill=RED)
    return image


def phone_exif(orientation: int = 1) -> bytes:
    """EXIF as a phone writes it: an orientation and a GPS position."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    return exif.tobytes()


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def tiff_rgb16(width: int, height: int, pixel: tuple[int, int, int]) -> bytes:
    """An uncompressed 16-bit-per-sample RGB TIFF (what scanners write), every pixel ``pixel``."""
    data = struct.pack("<3H", *pixel) * (width * height)
    bits_at, count = 8 + 2 + 12 * 10 + 4, 10
    data_at = bits_at + 6
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, data_at), (277, 3, 1, 3), (278, 3, 1, height),
               (279, 4, 1, len(data)), (284, 3, 1, 1)]  # fmt: skip
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, count))
    for tag, kind, n, value in entries:
        short = kind == 3 and n == 1
        out += struct.pack("<HHIHH" if short else "<HHII", tag, kind, n, value, *([0] * short))
    return bytes(out + struct.pack("<I3H", 0, 16, 16, 16) + data)


# --- recognised from the bytes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"), [("HEIF", "heic"), ("AVIF", "avif"), ("TIFF", "tiff"), ("BMP", "bmp")]
)
def test_photo_formats_are_recognised_by_their_bytes(fmt: str, expected: str) -> None:
    data = encode(Image.new("RGB", (32, 32), RED), fmt)
    assert sniff_source_format(data) == expected
    assert sniff_format(data) is None  # never taken for a format a result may come back in
    info = inspect(RawImage(data, "renamed.png"), max_bytes=MB)
    assert (info.format, info.width, info.height) == (expected, 32, 32)


# --- converted to what the model takes ------------------------------------------------------


def test_heic_photo_from_a_phone_becomes_an_upright_jpeg_without_its_gps() -> None:
    """libheif turns the picture as the file says; the EXIF orientation must not turn it again."""
    source = RawImage(encode(top_red(), "HEIF", exif=phone_exif(6)), "photo.heic")
    prepared = prepare_inputs([source], None, GPT_IMAGE, model="gpt-image-1")
    (image,) = prepared.images
    assert (image.format, image.filename, image.mime) == ("jpeg", "photo.jpg", "image/jpeg")
    result = decoded(image.data)
    assert result.format == "JPEG" and result.size == (300, 400) == (image.width, image.height)
    assert near(result.getpixel((290, 200)), RED) and near(result.getpixel((10, 200)), BLUE)
    exif = result.getexif()
    assert exif.get(ORIENTATION, 1) == 1 and not exif.get_ifd(GPS_IFD)
    assert "exif" not in result.info and "xmp" not in result.info
    assert english(prepared.notes) == (
        "Converted photo.heic from HEIC to JPEG, as gpt-image-1 needs.",
    )


def test_heic_becomes_a_square_rgba_png_for_dall_e_2() -> None:
    source = RawImage(encode(top_red((400, 300)), "HEIF"), "IMG_0001.HEIC")
    prepared = prepare_inputs([source], None, DALL_E_2, model="dall-e-2")
    (image,) = prepared.images
    assert (image.format, image.filename, image.width, image.height) == (
        "png",
        "IMG_0001.png",
        300,
        300,
    )
    result = decoded(image.data)
    assert result.mode == "RGBA" and near(result.getpixel((150, 10)), RED)
    assert str(prepared.notes[0]) == "Converted IMG_0001.HEIC from HEIC to PNG, as dall-e-2 needs."


def test_avif_with_an_exif_orientation_is_turned_upright() -> None:
    """Pillow reports AVIF's rotation as an EXIF orientation, without turning the pixels."""
    source = RawImage(encode(top_red(), "AVIF", exif=phone_exif(8)), "shot.avif")
    prepared = prepare_inputs([source], None, GPT_IMAGE, model="gpt-image-1")
    result = decoded(prepared.images[0].data)
    assert result.size == (300, 400)
    assert near(result.getpixel((10, 200)), RED) and near(result.getpixel((290, 200)), BLUE)
    assert result.getexif().get(ORIENTATION, 1) == 1 and not result.getexif().get_ifd(GPS_IFD)
    assert english(prepared.notes) == (
        "Turned shot.avif upright, as its camera orientation says.",
        "Converted shot.avif from AVIF to JPEG, as gpt-image-1 needs.",
    )


def test_transparent_avif_keeps_its_transparency_as_png() -> None:
    image = Image.new("RGBA", (64, 64), (*RED, 255))
    ImageDraw.Draw(image).rectangle((0, 0, 31, 63), fill=(0, 0, 0, 0))
    prepared = prepare_inputs([RawImage(encode(image, "AVIF"), "cut.avif")], None, GPT_IMAGE)
    result = decoded(prepared.images[0].data)
    assert (result.format, result.mode) == ("PNG", "RGBA")
    assert result.getpixel((5, 5))[3] == 0 and near(result.getpixel((50, 5)), (*RED, 255))


def test_10_bit_heic_comes_out_in_its_colours() -> None:
    pixels = struct.pack("<3H", 65535, 32768, 0) * (64 * 64)
    deep = pillow_heif.from_bytes(mode="RGB;16", size=(64, 64), data=pixels)
    out = io.BytesIO()
    deep.save(out, quality=-1, chroma=444)
    assert pillow_heif.open_heif(out, convert_hdr_to_8bit=False).info["bit_depth"] == 10
    prepared = prepare_inputs([RawImage(out.getvalue(), "hdr.heic")], None, DALL_E_2)
    assert near(decoded(prepared.images[0].data).getpixel((30, 30)), (255, 128, 0), 3)


def test_16_bit_rgb_tiff_is_scaled_not_clipped() -> None:
    source = RawImage(tiff_rgb16(64, 48, (65535, 32768, 0)), "scan.tif")
    prepared = prepare_inputs([source], None, GPT_IMAGE, model="gpt-image-1")
    (image,) = prepared.images
    assert (image.format, image.filename) == ("png", "scan.png")  # lossless in, lossless out
    assert decoded(image.data).getpixel((10, 10)) == (255, 128, 0)
    assert english(prepared.notes) == (
        "Converted scan.tif from TIFF to PNG, as gpt-image-1 needs.",
    )


@pytest.mark.parametrize(("mode", "value"), [("I;16", 40000), ("F", 0.5)])
def test_deep_grey_tiff_is_scaled_not_clipped(mode: str, value: float) -> None:
    source = RawImage(encode(Image.new(mode, (32, 32), value), "TIFF"), "grey.tiff")
    (image,) = prepare_inputs([source], None, GPT_IMAGE).images
    (grey, *_) = decoded(image.data).getpixel((5, 5))
    assert abs(grey - (156 if mode == "I;16" else 127)) <= 1


def test_bmp_becomes_png() -> None:
    source = RawImage(encode(Image.new("RGB", (40, 40), RED), "BMP"), "paint.bmp")
    prepared = prepare_inputs([source], None, DALL_E_2, model="dall-e-2")
    result = decoded(prepared.images[0].data)
    assert (result.format, result.mode, result.getpixel((3, 3))) == ("PNG", "RGBA", (*RED, 255))
    assert english(prepared.notes) == ("Converted paint.bmp from BMP to PNG, as dall-e-2 needs.",)


def test_converted_photo_stays_within_the_models_byte_limit() -> None:
    rules = InputRules(formats=frozenset({"png"}), max_bytes=200 * 1024, square=False)
    source = RawImage(encode(noise((900, 600)), "HEIF", quality=95), "grainy.heic")
    prepared = prepare_inputs([source], None, rules, model="dall-e-2")
    (image,) = prepared.images
    assert len(image.data) <= 200 * 1024 and image.width < 900
    assert any(n.startswith("Scaled grainy.heic down to ") for n in english(prepared.notes))
    assert any("to fit the 0.2 MB limit" in n for n in english(prepared.notes))


# --- several pictures in one file -----------------------------------------------------------


def test_heic_collection_gives_its_primary_picture() -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in (RED, BLUE)]
    data = encode(frames[0], "HEIF", save_all=True, append_images=frames[1:], primary_index=1)
    (image,) = prepare_inputs([RawImage(data, "burst.heic")], None, GPT_IMAGE).images
    assert near(decoded(image.data).getpixel((30, 20)), BLUE)


def test_multi_page_tiff_gives_its_first_page() -> None:
    pages = [Image.new("RGB", (64, 48), colour) for colour in (RED, BLUE)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    (image,) = prepare_inputs([RawImage(data, "pages.tiff")], None, GPT_IMAGE).images
    assert decoded(image.data).getpixel((30, 20)) == RED


def test_animated_avif_is_refused() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, BLUE)]
    data = encode(frames[0], "AVIF", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(ImageInputError, match=r"^clip\.avif is animated; I need a still image\.$"):
        prepare_inputs([RawImage(data, "clip.avif")], None, GPT_IMAGE)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF", "TIFF", "BMP"])
def test_truncated_photo_is_refused(fmt: str) -> None:
    data = encode(noise((200, 200)), fmt)
    source = RawImage(data[: len(data) // 2], "cut.img")
    damaged = "cut.img is damaged or incomplete, so I can't read it."
    with pytest.raises(ImageInputError) as caught:
        inspect(source, max_bytes=MB)
    assert str(caught.value) == damaged
    with pytest.raises(ImageInputError) as caught:
        prepare_inputs([source], None, GPT_IMAGE)
    assert str(caught.value) == damaged


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_photo_over_the_pixel_limit_is_refused_before_decoding(fmt: str) -> None:
    source = RawImage(encode(Image.new("RGB", (200, 100)), fmt), "big.img")
    with pytest.raises(ImageInputError) as caught:
        inspect(source, max_bytes=MB, max_pixels=5000)
    assert str(caught.value) == (
        "big.img is 200x100 pixels, too many; the limit is 0.005 megapixels."
    )


# --- dall-e-2 edits change only what is marked -------------------------------------------------


def test_dall_e_2_edit_of_an_opaque_image_without_mask_says_nothing_is_marked() -> None:
    opaque = RawImage(encode(Image.new("RGB", (256, 256), RED), "JPEG"), "opaque.jpg")
    prepared = prepare_inputs([opaque], None, DALL_E_2, model="dall-e-2", edit=True)
    assert str(prepared.notes[-1]) == NOTHING_MARKED.format(who="dall-e-2")
    assert str(prepared.notes[-1]).startswith(
        "Nothing in the image was marked for editing (no transparent area, no mask), so "
        "dall-e-2 can only return it nearly unchanged. Attach a mask"
    )
    as_is = RawImage(encode(Image.new("RGBA", (256, 256), (*RED, 255))), "solid.png")
    passed = prepare_inputs([as_is], None, DALL_E_2, model="dall-e-2", edit=True)
    assert passed.images[0].data == as_is.data and passed.notes == (prepared.notes[-1],)


def test_no_nothing_marked_note_when_something_is_marked_or_nothing_needs_to_be() -> None:
    holed = Image.new("RGBA", (256, 256), (*RED, 255))
    ImageDraw.Draw(holed).rectangle((0, 0, 9, 9), fill=(0, 0, 0, 0))
    mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((0, 0, 9, 9), fill=(0, 0, 0, 0))
    opaque = RawImage(encode(Image.new("RGB", (256, 256), RED)), "opaque.png")
    wide = RawImage(encode(Image.new("RGB", (300, 200), RED)), "wide.png")
    cases = [
        ([RawImage(encode(holed), "holed.png")], None, {}),  # its own transparency marks it
        ([opaque], RawImage(encode(mask), "mask.png"), {}),  # the mask marks it
        ([opaque], None, {"edit": False}),  # a variation changes everything anyway
        ([wide], None, {"fit": "pad"}),  # the transparent padding is edited
    ]
    for images, mask_raw, options in cases:
        kw = {"edit": True, **options}
        prepared = prepare_inputs(images, mask_raw, DALL_E_2, model="dall-e-2", **kw)  # type: ignore[arg-type]
        assert not any(note.startswith("Nothing in the image") for note in english(prepared.notes))
    gpt = prepare_inputs([opaque], None, GPT_IMAGE, model="gpt-image-1", edit=True)
    assert gpt.notes == ()  # GPT image models edit the whole picture
