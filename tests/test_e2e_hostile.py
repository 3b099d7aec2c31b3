"""Hostile and broken input through /edit, /vary and /imagine, end to end.

Every bad file is answered with a clear message (private when refused before anything started,
else in place of the "thinking" reply), the job is failed as ``bad_image`` with its credits
refunded, and nothing crashes. Inputs that can be fixed (16-bit, CMYK, rotated photos, a mask of
another size) succeed, and the Images API receives what it accepts.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.discord_server import JSON

MB = 1024 * 1024
BOT_FILENAME = re.compile(r"(edit|variation|generate)-\d+-\d+\.(png|jpg|webp)")


# --- images built here ----------------------------------------------------------------------


def encode(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def photo(size: tuple[int, int] = (256, 256), fmt: str = "PNG") -> bytes:
    """Noise, so truncating the file cuts real pixel data."""
    image = Image.effect_noise(size, 64).convert("RGB")
    return encode(image, fmt)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def decompression_bomb() -> bytes:
    """A 100-byte PNG that claims 100 000 x 100 000 pixels (30 GB once decoded)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            png_chunk(b"IHDR", header),
            png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)),
            png_chunk(b"IEND", b""),
        )
    )


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue", "green")]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png() -> bytes:
    image = Image.new("I;16", (300, 200))
    image.putdata([(x * 200) % 65536 for x in range(300 * 200)])
    data = encode(image)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode.startswith("I")  # really 16-bit on disk
    return data


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG")


def sideways_photo() -> bytes:
    """A 200x100 JPEG whose EXIF says "rotate 90° clockwise": upright it is 100x200, red on top."""
    image = Image.new("RGB", (200, 100), "blue")
    image.paste((255, 0, 0), (0, 0, 100, 100))  # the left half becomes the top once turned
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def mask(size: tuple[int, int], *, transparent: bool) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 255))
    if transparent:
        image.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    return encode(image)


# --- driving and checking -------------------------------------------------------------------


def attachment(env: BotEnv, filename: str, data: bytes, content_type: str | None = None) -> JSON:
    """An attachment the fake CDN serves, as a slash command resolves it."""
    return env.discord.add_attachment(
        filename, data, content_type, channel_id=env.harness.channel_id, ephemeral=True
    )


def shown_text(record: InteractionRecord) -> str:
    """The private failure message (nobody else saw it)."""
    return record.failure_text


async def assert_bad_image(env: BotEnv, record: InteractionRecord, words: str) -> None:
    text = shown_text(record)
    assert text.startswith("⚠️") and words in text
    assert record.original is None  # the public progress message is gone
    assert env.api.image_requests == []
    (job,) = await env.store.recent_jobs(env.harness.guild_id)
    assert (job.status, job.error_kind) == ("failed", "bad_image")
    await assert_nothing_spent(env)


async def assert_nothing_spent(env: BotEnv) -> None:
    usage = await env.bot.services.quotas.member_usage(
        env.harness.guild_id, env.harness.user_id, ()
    )
    assert (usage.member.used, usage.in_flight) == (0, 0)
    assert await env.store.charges(env.harness.guild_id, 0, time.time() + 60) == []


async def assert_delivered(record: InteractionRecord, operation: str) -> None:
    uploads = record.harness.fake.files_of(record.result)
    assert uploads and all(BOT_FILENAME.fullmatch(u.filename) for u in uploads)
    assert all(u.filename.startswith(operation) for u in uploads)
    for upload in uploads:
        upload.image().load()


def sent_image(env: BotEnv, name: str = "image") -> Image.Image:
    (request,) = env.api.image_requests
    (part,) = request.files(name)
    image = Image.open(io.BytesIO(part.data))
    image.load()
    expected = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[image.format]
    assert part.content_type == expected
    return image


# --- broken and hostile files ---------------------------------------------------------------


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BROKEN = [
    ("bomb.png", decompression_bomb, None, "too many pixels"),
    ("cut.png", lambda: _truncated(photo()), None, "damaged or incomplete"),
    ("cut.jpg", lambda: _truncated(photo(fmt="JPEG")), None, "damaged or incomplete"),
    ("empty.png", lambda: b"", None, "is empty"),
    ("notes.png", lambda: b"just some text, not a picture\n" * 20, "image/png", "isn't an image"),
    (
        "logo.svg",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
        "image/svg+xml",
        "isn't an image",
    ),
    ("wave.gif", lambda: animated("GIF"), None, "animated"),
    ("wave.png", lambda: animated("PNG"), None, "animated"),  # APNG
]


@pytest.mark.parametrize(("filename", "make", "content_type", "words"), BROKEN)
async def test_broken_image_to_edit(
    tmp_path: Path, filename: str, make: Any, content_type: str | None, words: str
) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, filename, make(), content_type)
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_bad_image(env, record, words)
        assert filename in shown_text(record)  # the member learns which file


@pytest.mark.parametrize(("filename", "make", "content_type", "words"), BROKEN)
async def test_broken_image_to_vary(
    tmp_path: Path, filename: str, make: Any, content_type: str | None, words: str
) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, filename, make(), content_type)
        record = await env.harness.slash("vary", {"image": image})
        await assert_bad_image(env, record, words)


async def test_bot_keeps_serving_after_a_bomb(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        bomb = attachment(env, "bomb.png", decompression_bomb())
        await env.harness.slash("edit", {"prompt": "add a hat", "image": bomb})
        good = attachment(env, "cat.png", photo())
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": good})
        await assert_delivered(record, "edit")


async def test_file_over_the_cap_is_refused_before_download(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "huge.png", photo())
        image["size"] = 26 * MB  # what Discord declares; the cap is 25 MB
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        assert record.callback_type == 4 and record.callback.json["data"]["flags"] & 64
        assert "huge.png is 26 MB; the limit is 25 MB" in record.text
        assert env.discord.downloads == []  # no GET for the attachment
        assert env.api.image_requests == []
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.status == "failed"  # kept, so Try again can redo it
        await assert_nothing_spent(env)


# --- fixable inputs succeed -----------------------------------------------------------------


async def test_sixteen_bit_and_cmyk_are_converted_for_a_png_only_model(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        for name, data in (("deep.png", sixteen_bit_png()), ("print.jpg", cmyk_jpeg())):
            env.api.requests.clear()
            options = {"image": attachment(env, name, data), "model": "dall-e-2"}
            record = await env.harness.slash("vary", options)
            await assert_delivered(record, "variation")
            sent = sent_image(env)
            assert (sent.format, sent.mode) == ("PNG", "RGBA")  # dall-e-2 takes RGBA PNGs
            assert sent.width == sent.height == 200
        jobs = await env.store.recent_jobs(env.harness.guild_id)
        assert [j.status for j in jobs] == ["succeeded", "succeeded"]


async def test_sixteen_bit_png_is_sent_as_an_8_bit_png(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "deep.png", sixteen_bit_png())
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_delivered(record, "edit")
        sent = sent_image(env)
        assert (sent.format, sent.mode, sent.size) == ("PNG", "RGB", (300, 200))
        assert len(sent.getcolors(1 << 16) or ()) > 1  # the greys survived, not clipped


async def test_cmyk_jpeg_is_sent_as_rgb(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "print.jpg", cmyk_jpeg())
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_delivered(record, "edit")
        assert sent_image(env).mode == "RGB"


async def test_exif_rotated_photo_arrives_upright(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "phone.jpg", sideways_photo())
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_delivered(record, "edit")
        sent = sent_image(env)
        assert sent.size == (100, 200)
        top, bottom = sent.getpixel((50, 20)), sent.getpixel((50, 180))
        assert top[0] > 200 and top[2] < 60  # red
        assert bottom[2] > 200 and bottom[0] < 60  # blue
        assert "Turned phone.jpg upright" in record.text


async def test_mask_of_another_size_is_resized(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        options = {
            "prompt": "add a hat",
            "image": attachment(env, "cat.png", photo((512, 512))),
            "mask": attachment(env, "mask.png", mask((256, 256), transparent=True)),
        }
        record = await env.harness.slash("edit", options)
        await assert_delivered(record, "edit")
        sent_mask = sent_image(env, "mask")
        assert (sent_mask.format, sent_mask.mode, sent_mask.size) == ("PNG", "RGBA", (512, 512))
        assert sent_mask.getpixel((10, 10))[3] == 0 and sent_mask.getpixel((500, 500))[3] == 255
        assert "Resized the mask mask.png (256x256)" in record.text


async def test_mask_without_a_transparent_pixel_is_refused(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        options = {
            "prompt": "add a hat",
            "image": attachment(env, "cat.png", photo((512, 512))),
            "mask": attachment(env, "mask.png", mask((512, 512), transparent=False)),
        }
        record = await env.harness.slash("edit", options)
        await assert_bad_image(env, record, "The mask has no transparent area")


# --- prompts --------------------------------------------------------------------------------


async def test_huge_prompt_is_refused_with_the_models_limit(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("imagine", {"prompt": "x" * 100_000}, validate=False)
        assert record.callback_type == 4 and record.callback.json["data"]["flags"] & 64
        assert "32000" in record.text and "100000" in record.text
        assert env.api.image_requests == []
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.status == "failed"  # kept, so Try again can redo it
        await assert_nothing_spent(env)


async def test_mentions_in_the_prompt_ping_no_one_but_the_requester(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        harness = env.harness
        prompt = (
            f"@everyone @here <@&{harness.moderator_role_id}> <@{harness.moderator_id}> "
            f"<@!{harness.moderator_id}> a fox"
        )
        record = await harness.slash("imagine", {"prompt": prompt})
        (result,) = [r for r in record.followups if r.files]
        assert result.json["allowed_mentions"] == {
            "parse": [],
            "users": [harness.user_id],
            "replied_user": True,
        }
        assert record.result["embeds"][0]["description"] == prompt  # shown, never pinging
        assert record.result["mention_everyone"] is False
        # the error path pings no one at all
        env.api.fail_next("content_policy_violation")
        failed = await harness.slash("imagine", {"prompt": prompt})
        (error,) = [r for r in failed.followups if "⚠️" in str(r.json)]
        assert error.json["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-3"])
async def test_unusual_unicode_keeps_the_embed_within_limits(tmp_path: Path, model: str) -> None:
    zalgo = "z" + "\u0336\u0317\u0353\u035a" * 300
    rtl = "\u202e\u200f" + "txet sdrawkcab" + "\u202c"
    emoji = "🦊👨‍👩‍👧‍👦🏳️‍🌈" * 100
    limit = 4000 if model == "dall-e-3" else 6000
    prompt = (rtl + zalgo + emoji + "\u200b" * 2000)[:limit]
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("imagine", {"prompt": prompt, "model": model})
        await assert_delivered(record, "generate")
        sent = env.api.image_requests[0].json["prompt"]
        assert sent == prompt  # passed on exactly
        (embed,) = record.result["embeds"]
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
        fields = embed.get("fields", [])
        assert all(len(f["value"]) <= 1024 for f in fields)
        total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
        assert total + sum(len(f["name"]) + len(f["value"]) for f in fields) <= 6000
        if model == "dall-e-3":
            assert any(f["name"] == "Revised prompt" for f in fields)
        assert env.discord.errors == []  # Discord would have accepted every message


HOSTILE_NAMES = [
    "../../etc/passwd.png",
    "a" * 1000 + ".png",
    "line one\nline two\r\n.png",
    "@everyone <@&1>.png",
]


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
async def test_hostile_filenames_never_name_the_bots_files(tmp_path: Path, filename: str) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "cat.png", photo())
        image["filename"] = filename  # what the payload claims; the CDN URL stays Discord's
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_delivered(record, "edit")
        sent = env.api.image_requests[0]
        (part,) = sent.files("image")
        assert part.filename == "image1.png"  # the member's name never reaches a header
        assert env.discord.errors == []


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
async def test_hostile_filenames_in_error_messages(tmp_path: Path, filename: str) -> None:
    async with bot_env(tmp_path) as env:
        image = attachment(env, "cat.png", _truncated(photo()))
        image["filename"] = filename
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        await assert_bad_image(env, record, "damaged or incomplete")
        (error,) = [r for r in record.followups if "⚠️" in str(r.json)]
        assert error.json["allowed_mentions"] == {"parse": []}
        assert env.discord.errors == []
