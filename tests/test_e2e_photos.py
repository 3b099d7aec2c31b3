"""Phone photos and photo shapes end to end: real discord.py, fake Discord, fake Images API."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image, ImageDraw

from bot.store import QuotaPolicy
from tests.fakes.bot_env import BotEnv, bot_env

JSON = dict[str, Any]
RED, BLUE = (255, 0, 0), (0, 0, 255)
pillow_heif.register_heif_opener()  # to write HEIC here; the bot registers it itself to read


def photo(fmt: str, size: tuple[int, int] = (400, 300), orientation: int = 1) -> bytes:
    """Top half red, bottom half blue, as ``fmt``, with a phone's EXIF orientation and GPS."""
    image = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, size[0], size[1] // 2 - 1), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(pixel, colour, strict=False))


def fields_of(message: JSON) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def edit(env: BotEnv, image: tuple[str, bytes], **options: Any) -> JSON:
    """/edit with ``image``; the result message."""
    record = await env.harness.slash(
        "edit", {"prompt": "add a hat", **options}, attachments={"image": image}
    )
    assert record.result, record.text
    return record.result


async def test_reply_to_a_message_whose_only_image_is_heic_edits_it_upright(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        heic = photo("HEIF", orientation=6)  # the camera was held upright: a portrait
        target = h.build_message("", author=h.moderator_id, attachments=[("IMG_0042.HEIC", heic)])
        assert target["attachments"][0]["content_type"] == "image/heic"

        record = await h.message(
            f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id]
        )

        (request,) = env.api.image_requests
        assert request.endpoint == "edits" and request.form["size"] == "1024x1536"
        (sent,) = request.files("image")
        assert (sent.content_type, sent.filename) == ("image/jpeg", "image1.jpg")
        upright = decoded(sent.data)
        assert upright.size == (300, 400)
        assert near(upright.getpixel((290, 200)), RED) and near(upright.getpixel((10, 200)), BLUE)
        assert not upright.getexif().get_ifd(0x8825)  # no GPS leaves the bot
        (result,) = record.messages
        assert "Converted IMG_0042.HEIC from HEIC to JPEG" in fields_of(result)["Adjusted"]
        (uploaded,) = env.discord.files_of(result)
        assert uploaded.image().size == (1024, 1536)


async def test_vary_image_menu_on_a_message_with_only_a_tiff(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("scan.tiff", photo("TIFF", (300, 300)))])

        record = await h.context_menu("Vary image", message=target)

        (request,) = env.api.image_requests
        (sent,) = request.files("image")
        assert sent.content_type == "image/png" and decoded(sent.data).size == (300, 300)
        assert record.result
        assert "Converted scan.tiff from TIFF to PNG" in fields_of(record.result)["Adjusted"]


async def test_edit_command_takes_an_avif_attachment(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await edit(env, ("shot.avif", photo("AVIF", (300, 300))), model="dall-e-2")
        (request,) = env.api.image_requests
        (sent,) = request.files("image")
        assert sent.content_type == "image/png" and decoded(sent.data).mode == "RGBA"
        adjusted = fields_of(result)["Adjusted"]
        assert "Converted shot.avif from AVIF to PNG, as dall-e-2 needs." in adjusted
        # An opaque photo and no mask: dall-e-2 would change nothing, and the member is told.
        assert "Nothing in the image was marked for editing" in adjusted


async def test_edits_keep_the_photos_shape_unless_a_size_is_chosen(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.store.save_quota_policy(QuotaPolicy(env.harness.guild_id, user_limit=100))
        cases = [
            (photo("JPEG", (800, 600)), {}, "1536x1024"),
            (photo("JPEG", (600, 800)), {}, "1024x1536"),
            (photo("JPEG", (800, 600)), {"size": "1024x1024"}, "1024x1024"),
            (photo("JPEG", (800, 600)), {"model": "gpt-image-2"}, "1424x1072"),
        ]
        for index, (data, options, size) in enumerate(cases):
            result = await edit(env, ("photo.jpg", data), **options)
            request = env.api.image_requests[index]
            assert request.form["size"] == size, options
            (uploaded,) = env.discord.files_of(result)
            assert "x".join(map(str, uploaded.image().size)) == size == fields_of(result)["Size"]
            (sent,) = request.files("image")
            assert decoded(sent.data).size == decoded(data).size  # never cropped square
        jobs = await env.store.recent_jobs(env.harness.guild_id)
        landscape = next(job for job in jobs if job.id == 1)
        assert landscape.credits == 6  # charged as the 1536x1024 it made (medium quality)


async def test_a_square_edit_through_a_relay_that_drops_the_size_is_charged_as_made(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_next("no_made_size")  # the answer names no size: the request's is the one
        result = await edit(env, ("square.jpg", photo("JPEG", (600, 600))))
        assert env.api.image_requests[0].form["size"] == "1024x1024"
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        # Held at the dearest size (its shape was unknown), charged at the square it made.
        assert job.credits == 4 and fields_of(result)["Credits"] == "4"
