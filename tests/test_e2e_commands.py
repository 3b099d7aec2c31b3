"""/imagine, /edit, /vary and /help end to end: real discord.py, fake Discord, fake Images API."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.fakes.bot_env import bot_env


def png(size: tuple[int, int] = (300, 300), colour: str = "teal", mode: str = "RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (800, 600), colour: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def result_of(record: Any) -> dict[str, Any]:
    """The public message that carries the images."""
    return dict(record.result)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def test_imagine_delivers_files_embed_and_buttons(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine", {"prompt": "a red fox", "model": "dall-e-3", "quality": "hd", "n": 2}
        )
        assert record.callback_type == 4 and not record.ephemeral  # public progress at once
        sent = [r.json for r in env.api.image_requests]
        assert [s["n"] for s in sent] == [1, 1]
        assert all(s["model"] == "dall-e-3" and s["quality"] == "hd" for s in sent)
        message = result_of(record)
        assert len(message["attachments"]) == 2
        files = record.files
        assert [f.filename for f in files[-2:]] == ["generate-1-1.png", "generate-1-2.png"]
        assert decoded(files[-1].data).size == (1024, 1024)
        (embed,) = message["embeds"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert embed["title"] == "Imagined with dall-e-3"
        assert embed["description"] == "a red fox"
        assert fields["Revised prompt"] == "Revised: a red fox"
        assert fields["Quality"] == "hd" and fields["Size"] == "1024x1024"
        assert "one image per request" in fields["Adjusted"]
        assert custom_ids(message) == [
            "img:reroll:1",
            "img:edit:1",
            "img:star:1",
            "img:delete:1",
            "img:vary:1:0",
            "img:vary:1:1",
        ]
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.status == "succeeded" and job.result_message_id == int(message["id"])
        assert job.revised_prompt == "Revised: a red fox" and job.credits == 16
        # Buttons are answered by registered dynamic items; no per-message view piles up.
        assert env.bot.persistent_views == []
        env.harness.assert_clean()


async def test_limit_violations_are_listed_at_once_privately_before_anything_is_spent(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "p" * 1200, "model": "dall-e-2", "size": "1792x1024", "style": "vivid"},
        )
        assert record.callback_type == 4 and record.ephemeral
        text = record.text
        assert "1000 characters" in text and "1792x1024" in text and "Style" in text
        assert env.api.image_requests == []
        # The refused job is kept, failed, so its Try again / Change prompt buttons can redo it.
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.status == "failed" and job.credits in (0, None)
        (message,) = record.private
        assert custom_ids(message) == [f"img:retry:{job.id}", f"img:reprompt:{job.id}"]
        assert "p" * 1000 in text and "Nothing was charged" in text  # quoted to shorten it
        assert not any("1000 characters" in t for t in env.harness.fake.seen_by_others())


async def test_edit_fixes_a_photo_for_dall_e_2_and_uses_the_mask(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        mask = Image.new("L", (800, 600), 0)
        mask.paste(255, (300, 200, 500, 400))  # white = edit
        buffer = io.BytesIO()
        mask.save(buffer, "PNG")
        record = await env.harness.slash(
            "edit",
            {"prompt": "add a hat", "model": "dall-e-2", "size": "512x512", "fit": "pad"},
            attachments={"image": ("cat.jpg", jpeg()), "mask": ("m.png", buffer.getvalue())},
        )
        (request,) = env.api.image_requests
        (image,) = request.files("image")
        (sent_mask,) = request.files("mask")
        assert image.content_type == "image/png" and sent_mask.content_type == "image/png"
        sent = decoded(image.data)
        assert sent.size == decoded(sent_mask.data).size and sent.width == sent.height
        assert decoded(sent_mask.data).getpixel((sent.width // 2, sent.height // 2))[3] == 0
        (embed,) = result_of(record)["embeds"]
        adjusted = next(f["value"] for f in embed["fields"] if f["name"] == "Adjusted")
        assert "PNG" in adjusted
        assert decoded(record.files[-1].data).size == (512, 512)


async def test_edit_with_several_images_sends_image_array(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.harness.slash(
            "edit",
            {"prompt": "put them together", "model": "gpt-image-1"},
            attachments={"image": ("a.png", png()), "image2": ("b.jpg", jpeg())},
        )
        (request,) = env.api.image_requests
        parts = request.files("image[]")
        assert [p.content_type for p in parts] == ["image/png", "image/jpeg"]


async def test_vary_uses_the_variations_endpoint_only_where_the_model_has_it(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        photo = {"image": ("photo.jpg", jpeg((640, 480)))}
        record = await env.harness.slash("vary", {"n": 2, "model": "dall-e-2"}, attachments=photo)
        (request,) = env.api.image_requests
        assert request.endpoint == "variations" and request.form["model"] == "dall-e-2"
        (image,) = request.files("image")
        assert decoded(image.data).size == (480, 480)
        assert len(result_of(record)["attachments"]) == 2
        refused = await env.harness.slash("vary", {"model": "dall-e-3"}, attachments=photo)
        assert refused.ephemeral and "dall-e-2" in refused.text and "gpt-image-1" in refused.text
        assert len(env.api.image_requests) == 1


async def test_vary_on_a_gpt_model_is_an_edit_with_an_instruction(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        photo = {"image": ("photo.jpg", jpeg((640, 480)))}
        record = await env.harness.slash("vary", {"strength": "strong"}, attachments=photo)
        (request,) = env.api.image_requests
        assert request.endpoint == "edits" and request.form["model"] == "gpt-image-1"
        assert request.form["prompt"].startswith("Make a strong variation of this image")
        (image,) = request.files("image")
        assert decoded(image.data).size == (640, 480)  # no square needed: the photo's own shape
        (embed,) = result_of(record)["embeds"]
        assert "gpt-image-1" in str(embed)


async def test_oversize_results_are_shrunk_to_the_interactions_upload_limit(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        env.api.noisy = True
        limit = 1_000_000
        record = await env.harness.slash(
            "imagine", {"prompt": "static", "model": "gpt-image-1"}, attachment_size_limit=limit
        )
        (uploaded,) = record.files[-1:]
        assert len(uploaded.data) <= limit
        assert decoded(uploaded.data).format in ("WEBP", "JPEG")
        (embed,) = result_of(record)["embeds"]
        assert any("limit" in f["value"] for f in embed["fields"] if f["name"] == "Adjusted")


async def test_autocomplete_offers_the_chosen_models_sizes(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        sizes = await env.harness.autocomplete(
            "imagine", {"prompt": "x", "model": "dall-e-3"}, focused="size"
        )
        assert [c["value"] for c in sizes] == ["1024x1024", "1792x1024", "1024x1792"]
        models = await env.harness.autocomplete("vary", {}, focused="model")
        offered = {c["value"]: c["name"] for c in models}
        assert {"dall-e-2", "gpt-image-1", "gpt-image-2.6-sunburst"} <= set(offered)
        assert "dall-e-3" not in offered  # no variations endpoint, no edits
        assert offered["gpt-image-1"] == "GPT Image 1 (gpt-image-1)"
        qualities = await env.harness.autocomplete(
            "imagine", {"prompt": "x", "model": "gpt-image-2.5-flare"}, focused="quality"
        )
        assert [c["value"] for c in qualities] == ["low", "medium", "high", "xhigh", "max", "auto"]
        qualities = await env.harness.autocomplete(
            "imagine", {"prompt": "x", "model": "dall-e-3"}, focused="quality"
        )
        assert [c["value"] for c in qualities] == ["standard", "hd"]


async def test_help_lists_commands_and_model_limits(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("help")
        assert record.ephemeral
        assert "/imagine" in record.text and "dall-e-3" in record.text
        assert "Works with /imagine." in record.text  # dall-e-3: no edits, no variations


async def test_a_rate_limited_api_holds_the_queue_for_the_next_job(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        env.api.fail_next("rate_limit", times=2, retry_after=0.5)
        failed = await env.harness.slash("imagine", {"prompt": "first"})
        assert "try again" in failed.text.lower()
        waiting = await env.harness.slash("imagine", {"prompt": "second"}, settle=False)
        for _ in range(20):  # let the job reach the queue and show its place
            await asyncio.sleep(0.01)
        assert "In the queue — position 1" in waiting.text  # nothing runs, yet it waits its turn
        await env.harness.settle()
        assert len(waiting.result["attachments"]) == 1
        assert [r.json["prompt"] for r in env.api.image_requests] == ["first", "first", "second"]


async def test_autocomplete_words_its_own_choices_in_the_members_language(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await env.store.set_preferences(h.guild_id, h.user_id, {"preset": "Watercolour"})
        presets = await h.autocomplete("imagine", {"prompt": "x"}, focused="preset", locale="ru")
        assert ("none — даже без вашего любимого Watercolour", "none") in [
            (c["name"], c["value"]) for c in presets
        ]
        english = await h.autocomplete("imagine", {"prompt": "x"}, focused="preset")
        assert [c["name"] for c in english] == ["none — not even your preferred Watercolour"]
        qualities = await h.autocomplete(
            "imagine", {"prompt": "x", "model": "dall-e-3"}, focused="quality", locale="ru"
        )
        assert [c["name"] for c in qualities] == [
            "standard — обычная детализация",
            "hd — тоньше детали, дороже",
        ]
        assert [c["value"] for c in qualities] == ["standard", "hd"]  # the API's values
