"""Image preparation, on images built with Pillow inside each test (upload fitting: test_fit)."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zlib
from collections.abc import Sequence

import pytest
from PIL import Image, ImageDraw, ImageFile

from bot.errors import ImageInputError
from bot.i18n import Words
from bot.images.codec import encode_png
from bot.images.processing import NO_TRANSPARENT_AREA, Prepared, inspect, prepare_inputs
from bot.images.types import InputRules, RawImage

MB = 1024 * 1024
DALL_E_2 = InputRules(max_images=1, formats=frozenset({"png"}), max_bytes=4 * MB)
GPT_IMAGE = InputRules(
    max_images=4, formats=frozenset({"png", "jpeg", "webp"}), max_bytes=50 * MB, square=False,
    max_side=2048,
)  # fmt: skip
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def english(notes: Sequence[Words]) -> tuple[str, ...]:
    """The notes as an English reader sees them (they are put in the member's language)."""
    return tuple(str(note) for note in notes)


# --- builders -------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def raw(
    image: Image.Image, name: str = "photo.png", fmt: str = "PNG", **params: object
) -> RawImage:
    return RawImage(encode(image, fmt, **params), name)


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Random pixels, which no codec can compress: a genuinely large file."""
    bands = [Image.effect_noise(size, 100) for _ in mode]
    return Image.merge(mode, bands)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header announcing ``width`` x ``height`` over a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def prepare_one(source: RawImage, rules: InputRules = DALL_E_2, **kw: object) -> Prepared:
    return prepare_inputs([source], None, rules, model="dall-e-2", **kw)  # type: ignore[arg-type]


# --- pass-through and conversion -----------------------------------------------------------


def test_square_rgba_png_within_limits_passes_through_byte_for_byte() -> None:
    source = raw(Image.new("RGBA", (512, 512), (10, 20, 30, 255)))
    prepared = prepare_one(source)
    (image,) = prepared.images
    assert image.data == source.data
    assert (image.format, image.width, image.height, image.filename) == (
        "png",
        512,
        512,
        "photo.png",
    )
    assert english(prepared.notes) == ()


def test_jpeg_becomes_rgba_png_for_dall_e_2() -> None:
    prepared = prepare_one(raw(Image.new("RGB", (256, 256), RED), "cat.jpg", "JPEG"))
    (image,) = prepared.images
    assert (image.format, image.filename, image.mime) == ("png", "cat.png", "image/png")
    assert decoded(image.data).mode == "RGBA"
    assert english(prepared.notes) == ("Converted cat.jpg from JPEG to PNG, as dall-e-2 needs.",)


def test_jpeg_stays_jpeg_when_the_model_takes_jpeg() -> None:
    source = raw(Image.new("RGB", (3000, 1000), RED), "wide.jpg", "JPEG")
    (image,) = prepare_inputs([source], None, GPT_IMAGE).images
    assert (image.format, image.width, image.height) == ("jpeg", 2048, 683)


def test_format_comes_from_the_bytes_not_the_name() -> None:
    source = raw(Image.new("RGB", (64, 48), RED), "lies.png", "JPEG")
    info = inspect(source, max_bytes=MB)
    assert (info.format, info.width, info.height) == ("jpeg", 64, 48)
    (image,) = prepare_inputs([source], None, GPT_IMAGE).images
    assert image.data == source.data and image.filename == "lies.jpg"


# --- geometry -------------------------------------------------------------------------------


def striped(width: int, height: int) -> Image.Image:
    """Red left band, green centre square, blue right band: a centred crop keeps only green."""
    image = Image.new("RGB", (width, height), GREEN)
    band = (width - height) // 2
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, band - 1, height), fill=RED)
    draw.rectangle((width - band, 0, width, height), fill=BLUE)
    return image


def test_crop_to_square_keeps_the_centre() -> None:
    prepared = prepare_one(raw(striped(300, 200)))
    (image,) = prepared.images
    result = decoded(image.data)
    assert result.size == (200, 200)
    for xy in ((0, 0), (199, 0), (0, 199), (199, 199), (100, 100)):
        assert result.getpixel(xy) == (*GREEN, 255)
    assert "Cropped photo.png to a square (300x200 -> 200x200)." in english(prepared.notes)


def test_pad_to_square_adds_transparent_bands() -> None:
    prepared = prepare_one(raw(Image.new("RGB", (300, 200), RED), "p.jpg", "JPEG"), fit="pad")
    result = decoded(prepared.images[0].data)
    assert result.size == (300, 300) and result.mode == "RGBA"
    assert result.getpixel((150, 10))[3] == 0
    assert result.getpixel((150, 290))[3] == 0
    assert result.getpixel((150, 150))[3] == 255
    assert result.getpixel((150, 150))[0] > 240
    assert "Padded p.jpg to a square (300x200 -> 300x300)." in english(prepared.notes)


def test_12_megapixel_photo_is_cropped_scaled_and_under_4_mb() -> None:
    photo = noise((1000, 750)).resize((4000, 3000))
    draw = ImageDraw.Draw(photo)
    draw.ellipse((1000, 500, 3000, 2500), fill=(200, 120, 40))
    prepared = prepare_one(raw(photo, "big.jpg", "JPEG", quality=90))
    (image,) = prepared.images
    assert (image.format, image.width, image.height) == ("png", 1024, 1024)
    assert len(image.data) <= 4 * MB
    assert decoded(image.data).size == (1024, 1024)
    assert english(prepared.notes) == (
        "Converted big.jpg from JPEG to PNG, as dall-e-2 needs.",
        "Cropped big.jpg to a square (4000x3000 -> 3000x3000).",
        "Scaled big.jpg down to 1024x1024, as dall-e-2 takes at most 1024 pixels a side.",
    )


def test_incompressible_image_is_scaled_down_until_it_fits_the_byte_limit() -> None:
    rules = InputRules(formats=frozenset({"png"}), max_bytes=1 * MB)
    prepared = prepare_one(raw(noise((1024, 1024), "RGBA")), rules)
    (image,) = prepared.images
    assert len(image.data) <= MB and image.width == image.height < 1024
    assert f"Scaled photo.png down to {image.width}x{image.height} to fit the 1 MB limit." in (
        english(prepared.notes)
    )


@pytest.mark.parametrize(("tag", "right"), [(6, RED), (8, BLUE)])
def test_exif_rotated_photo_comes_out_upright(tag: int, right: tuple[int, int, int]) -> None:
    """Top half red, bottom half blue; turned 90 degrees, the red half ends on one side."""
    image = Image.new("RGB", (400, 300), BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, 400, 149), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = tag
    source = raw(image, "turned.jpg", "JPEG", exif=exif.tobytes())
    info = inspect(source, max_bytes=MB)
    assert (info.width, info.height) == (300, 400)
    prepared = prepare_inputs([source], None, GPT_IMAGE)
    result = decoded(prepared.images[0].data)
    assert result.size == (300, 400)
    assert all(abs(a - b) < 40 for a, b in zip(result.getpixel((290, 200)), right, strict=True))
    assert result.getexif().get(0x0112, 1) == 1
    assert "Turned turned.jpg upright, as its camera orientation says." in english(prepared.notes)


# --- modes ----------------------------------------------------------------------------------


def first_pixel(source: RawImage, rules: InputRules = DALL_E_2) -> tuple[int, ...]:
    result = decoded(prepare_one(source, rules).images[0].data)
    assert result.mode == "RGBA"
    return tuple(result.getpixel((0, 0)))


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    source = raw(Image.new("I;16", (64, 64), 40000))
    assert decoded(source.data).mode == "I;16"
    assert first_pixel(source) == (156, 156, 156, 255)


def test_cmyk_jpeg_becomes_rgb() -> None:
    r, g, b, a = first_pixel(raw(Image.new("CMYK", (64, 64), (255, 0, 0, 0)), "c.jpg", "JPEG"))
    assert r < 30 and g > 225 and b > 225 and a == 255


def test_palette_png_keeps_its_transparency() -> None:
    image = Image.new("P", (64, 64), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    ImageDraw.Draw(image).rectangle((0, 0, 31, 63), fill=0)
    source = raw(image, transparency=0)
    result = decoded(prepare_one(source).images[0].data)
    assert result.getpixel((5, 5))[3] == 0
    assert result.getpixel((50, 5)) == (255, 0, 0, 255)


def test_grey_alpha_png_becomes_rgba_with_its_alpha() -> None:
    result = decoded(prepare_one(raw(Image.new("LA", (80, 64), (200, 100)))).images[0].data)
    assert result.size == (64, 64)
    assert result.getpixel((32, 32)) == (200, 200, 200, 100)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (7, 1), (1, 7), (333, 211)])
def test_fast_png_writer_is_lossless(mode: str, size: tuple[int, int]) -> None:
    image = noise(size, mode)
    result = decoded(encode_png(image))
    assert (result.format, result.mode, result.size) == ("PNG", mode, size)
    assert result.tobytes() == image.tobytes()


# --- refusals -------------------------------------------------------------------------------


def refusal(source: RawImage, *, max_bytes: int = 25 * MB, max_pixels: int | None = None) -> str:
    """The message inspect() refuses ``source`` with, checking prepare_inputs() says the same."""
    limits = {} if max_pixels is None else {"max_pixels": max_pixels}
    with pytest.raises(ImageInputError) as caught:
        inspect(source, max_bytes=max_bytes, **limits)
    if max_pixels is None:
        with pytest.raises(ImageInputError) as again:
            prepare_one(source, max_bytes=max_bytes)
        assert str(again.value) == str(caught.value)
    return str(caught.value)


def test_decompression_bomb_is_refused_from_its_header_without_decoding() -> None:
    started = time.perf_counter()
    message = refusal(RawImage(png_claiming(100_000, 100_000), "bomb.png"))
    assert "bomb.png has too many pixels" in message and "40 megapixels" in message
    assert time.perf_counter() - started < 0.5


def test_image_over_our_pixel_limit_is_refused_before_pillow_would_warn() -> None:
    message = refusal(RawImage(png_claiming(8000, 8000), "huge.png"))
    assert message == "huge.png is 8000x8000 pixels, too many; the limit is 40 megapixels."
    small_limit = refusal(raw(Image.new("RGB", (100, 100))), max_pixels=5000)
    assert small_limit == "photo.png is 100x100 pixels, too many; the limit is 0.005 megapixels."


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = encode(noise((200, 200)), fmt)
    message = refusal(RawImage(data[: len(data) // 2], "cut.img"))
    assert message == "cut.img is damaged or incomplete, so I can't read it."
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_empty_file_is_refused() -> None:
    assert refusal(RawImage(b"", "nothing.png")) == "nothing.png is empty."


def test_multi_picture_jpeg_from_a_phone_counts_as_a_still_photo() -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in (RED, BLUE)]
    source = raw(frames[0], "phone.jpg", "MPO", save_all=True, append_images=frames[1:])
    assert decoded(source.data).format == "MPO"
    info = inspect(source, max_bytes=MB)
    assert (info.format, info.width, info.height) == ("jpeg", 64, 48)
    r, g, b, _ = decoded(prepare_one(source).images[0].data).getpixel((24, 24))
    assert r > 240 and g < 20 and b < 20  # the first picture (red), not the second (blue)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some notes, not a picture", "notes.png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "logo.svg"),
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "scan.pdf"),
        (b"BM" + b"\0" * 40, "not-really.bmp"),
        (b"\0\0\0\x18ftypisom\0\0\0\0isommp41", "clip.mp4"),
    ],
)
def test_things_that_are_not_images_we_read_are_refused(data: bytes, name: str) -> None:
    assert refusal(RawImage(data, name)) == (
        f"{name} isn't an image I can read (PNG, JPEG, WEBP, GIF, HEIC, AVIF, TIFF, or BMP)."
    )


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_images_are_refused(fmt: str) -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, BLUE, GREEN)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    message = refusal(RawImage(data, "moving.img"))
    assert message == "moving.img is animated; I need a still image."


def test_file_over_the_byte_cap_is_refused_with_both_sizes() -> None:
    source = raw(noise((900, 600)), "heavy.png")
    assert 1.4 * MB < len(source.data) < 1.5 * MB
    assert refusal(source, max_bytes=MB) == "heavy.png is 1.5 MB; the limit is 1 MB."


def test_too_many_images_names_the_limit() -> None:
    image = raw(Image.new("RGBA", (64, 64)))
    with pytest.raises(ImageInputError, match=r"at most 1 image; you sent 2\."):
        prepare_inputs([image, image], None, DALL_E_2)
    with pytest.raises(ImageInputError):
        prepare_inputs([], None, DALL_E_2)


# --- masks ----------------------------------------------------------------------------------


def with_hole(size: tuple[int, int]) -> Image.Image:
    """An opaque RGBA mask with a fully transparent rectangle in its top-left quarter."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=(0, 0, 0, 0))
    return mask


def masked(mask: RawImage, image_size: tuple[int, int] = (256, 256)) -> Prepared:
    image = raw(Image.new("RGBA", image_size, (*RED, 255)))
    return prepare_inputs([image], mask, DALL_E_2)


def test_alpha_mask_of_the_right_size_passes_through() -> None:
    mask = raw(with_hole((256, 256)), "mask.png")
    prepared = masked(mask)
    assert prepared.mask is not None and prepared.mask.data == mask.data
    assert english(prepared.notes) == ()


def test_black_and_white_mask_becomes_alpha_with_white_transparent() -> None:
    painted = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(painted).rectangle((128, 128, 255, 255), fill=255)
    prepared = masked(raw(painted, "painted.jpg", "JPEG"))
    assert prepared.mask is not None
    assert (prepared.mask.format, prepared.mask.filename) == ("png", "painted.png")
    result = decoded(prepared.mask.data)
    assert result.mode == "RGBA" and result.size == (256, 256)
    assert result.getpixel((200, 200))[3] == 0
    assert result.getpixel((50, 50))[3] == 255


def test_mask_of_another_size_is_resized_to_the_prepared_image() -> None:
    prepared = masked(raw(with_hole((100, 100)), "small-mask.png"), image_size=(512, 512))
    assert prepared.mask is not None
    result = decoded(prepared.mask.data)
    assert result.size == (512, 512) == (prepared.mask.width, prepared.mask.height)
    assert result.getpixel((100, 100))[3] == 0 and result.getpixel((400, 400))[3] == 255
    assert "Resized the mask small-mask.png (100x100) to match photo.png." in english(
        prepared.notes
    )


def test_mask_follows_the_crop_and_scale_of_its_image() -> None:
    mask = Image.new("RGBA", (2000, 1000), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((0, 0, 499, 999), fill=(0, 0, 0, 0))  # the part cropped away
    ImageDraw.Draw(mask).rectangle((900, 400, 1099, 599), fill=(0, 0, 0, 0))  # the centre
    image = raw(Image.new("RGB", (2000, 1000), RED), "wide.jpg", "JPEG")
    prepared = prepare_inputs([image], raw(mask), DALL_E_2)
    assert prepared.mask is not None
    result = decoded(prepared.mask.data)
    assert result.size == (1000, 1000)
    assert result.getpixel((500, 500))[3] == 0 and result.getpixel((5, 5))[3] == 255
    assert not any("mask" in note for note in english(prepared.notes))


def test_mask_whose_hole_is_cropped_away_is_refused() -> None:
    mask = Image.new("L", (2000, 1000), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 299, 999), fill=255)  # white: edit, but cropped away
    image = raw(Image.new("RGB", (2000, 1000), RED), "wide.jpg", "JPEG")
    with pytest.raises(ImageInputError, match=r"outside the part of wide\.jpg that was kept"):
        prepare_inputs([image], raw(mask, "m.png"), DALL_E_2)


def test_mask_without_transparent_area_is_refused() -> None:
    for opaque in (Image.new("RGBA", (256, 256), (0, 0, 0, 255)), Image.new("L", (256, 256), 0)):
        with pytest.raises(ImageInputError) as caught:
            masked(raw(opaque, "mask.png"))
        assert str(caught.value) == str(NO_TRANSPARENT_AREA)


def test_fully_transparent_mask_is_accepted() -> None:
    prepared = masked(raw(Image.new("RGBA", (256, 256), (0, 0, 0, 0)), "all.png"))
    assert prepared.mask is not None


def test_mask_over_its_byte_limit_is_refused() -> None:
    rules = InputRules(formats=frozenset({"png"}), mask_max_bytes=1000)
    mask = noise((256, 256), "RGBA")
    mask.putalpha(Image.effect_noise((256, 256), 200).point(lambda v: 0 if v < 128 else 255))
    with pytest.raises(ImageInputError, match=r"The mask is .* once prepared; the limit is"):
        prepare_inputs([raw(Image.new("RGBA", (256, 256)))], raw(mask), rules)


def test_results_survive_pickling_for_a_process_pool() -> None:
    prepared = masked(raw(with_hole((256, 256))))
    assert pickle.loads(pickle.dumps(prepared)) == prepared
