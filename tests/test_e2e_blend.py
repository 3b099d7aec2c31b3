"""/blend end to end: attachments and linked messages, in order, capped at what the model takes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.blend import BLEND_PROMPT, NO_IMAGES, ONE_IMAGE
from bot.store.models import GuildSettings
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord

JSON = dict[str, Any]
VIEW_CHANNEL = 1 << 10


def colour(index: int) -> tuple[int, int, int]:
    """A colour of its own for each picture, so the order they were sent in can be told."""
    return (index * 13 % 256, 255 - index * 11 % 256, index * 37 % 256)


def png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour(index)).save(buffer, "PNG")
    return buffer.getvalue()


def centre(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((rgb.width // 2, rgb.height // 2))  # type: ignore[return-value]


def attachments(first: int, count: int) -> dict[str, tuple[str, bytes]]:
    return {f"image{n}": (f"p{first + n - 1}.png", png(first + n - 1)) for n in range(1, count + 1)}


def link(env: BotEnv, message: JSON) -> str:
    return f"https://discord.com/channels/{env.harness.guild_id}/{message['channel_id']}/{message['id']}"


def fields_of(record: InteractionRecord) -> dict[str, str]:
    (embed,) = record.result["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_ten_attachments_are_sent_as_ten_image_parts_with_the_blend_prompt(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash("blend", attachments=attachments(0, 10))

        (request,) = env.api.image_requests
        assert request.endpoint == "edits" and request.form["model"] == "gpt-image-1"
        parts = request.files("image[]")
        assert len(parts) == 10
        assert [centre(p.data) for p in parts] == [colour(i) for i in range(10)]
        assert request.form["prompt"] == BLEND_PROMPT
        assert record.result["attachments"]
        assert "Adjusted" not in fields_of(record)
        job = await env.store.get_job(env.harness.guild_id, 1)
        assert job is not None and (job.operation, job.status) == ("edit", "succeeded")
        assert job.params["images"] == [f"p{i}.png" for i in range(10)]
        env.harness.assert_clean()


async def test_linked_messages_add_their_images_after_the_attachments(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        first = h.build_message("", attachments=[("a.png", png(1)), ("b.png", png(2))])
        other = await h.add_channel("art")
        second = h.build_message("", channel=other, attachments=[("c.png", png(3))])
        links = f"{link(env, first)}, {link(env, second)}  {link(env, first)}"

        record = await h.slash(
            "blend",
            {"messages": links, "prompt": "a collage of all three"},
            attachments={"image1": ("z.png", png(0))},
        )

        (request,) = env.api.image_requests
        assert request.form["prompt"] == "a collage of all three"
        assert [centre(p.data) for p in request.files("image[]")] == [colour(i) for i in range(4)]
        assert record.result["attachments"]
        job = await env.store.get_job(h.guild_id, 1)
        assert job is not None
        # Linked images remember their message, so a fresh link can be read once theirs expires.
        assert job.params["image_messages"] == [
            None,
            [h.channel_id, int(first["id"])],
            [h.channel_id, int(first["id"])],
            [other, int(second["id"])],
        ]


async def test_more_images_than_the_model_takes_are_capped_with_a_note(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        linked = [
            h.build_message("", attachments=[(f"q{n}.png", png(n)) for n in range(m, m + 4)])
            for m in (10, 14)
        ]
        links = " ".join(link(env, message) for message in linked)

        record = await h.slash("blend", {"messages": links}, attachments=attachments(0, 10))

        (request,) = env.api.image_requests
        parts = request.files("image[]")
        assert [centre(p.data) for p in parts] == [colour(i) for i in range(16)]
        assert fields_of(record)["Adjusted"] == (
            "• gpt-image-1 takes at most 16 images, so I blended the first 16 of the 18 you gave."
        )


async def test_a_model_that_takes_one_image_is_refused_before_anything_is_spent(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        record = await h.slash("blend", {"model": "dall-e-2"}, attachments=attachments(0, 2))
        assert record.ephemeral
        assert "dall-e-2 takes one image at a time, so it can't blend images." in record.text
        assert "GPT image model" in record.text
        assert "Your prompt" not in record.text  # the member wrote none: nothing to quote back

        await env.store.save_guild_settings(GuildSettings(h.guild_id, default_model="dall-e-2"))
        by_default = await h.slash("blend", attachments=attachments(0, 2))
        assert by_default.ephemeral and "dall-e-2 takes one image" in by_default.text
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(h.guild_id) == []


async def test_the_members_preferred_model_is_the_one_a_blend_is_fitted_to(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await env.store.set_preferences(h.guild_id, h.user_id, {"model": "dall-e-2"})
        refused = await h.slash("blend", attachments=attachments(0, 3))
        assert refused.ephemeral and "dall-e-2 takes one image at a time" in refused.text

        chosen = await h.slash("blend", {"model": "gpt-image-1"}, attachments=attachments(0, 3))
        (request,) = env.api.image_requests
        assert request.form["model"] == "gpt-image-1" and len(request.files("image[]")) == 3
        assert chosen.result["attachments"]


async def test_fewer_than_two_images_are_refused(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        none = await env.harness.slash("blend", {"prompt": "anything"})
        one = await env.harness.slash("blend", attachments=attachments(0, 1))
        assert none.ephemeral and str(NO_IMAGES) in none.text
        assert one.ephemeral and str(ONE_IMAGE) in one.text
        assert env.api.image_requests == []


async def test_links_that_cant_be_used_are_refused_naming_why(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        words = h.build_message("no pictures here")
        hidden = {
            "id": str(env.discord.snowflake()), "type": 0, "guild_id": str(h.guild_id),
            "name": "staff", "position": 5, "parent_id": None, "nsfw": False,
            "permission_overwrites": [
                {"id": str(h.guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}
            ],
        }  # fmt: skip
        env.discord.add_channel(h.guild_id, hidden)
        await h.inject("CHANNEL_CREATE", hidden)
        secret = h.build_message(
            "", author=h.moderator_id, channel=int(hidden["id"]), attachments=[("s.png", png(1))]
        )
        one = {"image1": ("a.png", png(0))}
        cases = {
            "https://example.com/x.png": "isn't a message link",
            f"https://discord.com/channels/1/{h.channel_id}/2": "only use messages from this server",
            f"https://discord.com/channels/@me/{h.channel_id}/2": "only use messages from this server",
            link(env, words): "has no image I can use",
            f"https://discord.com/channels/{h.guild_id}/{h.channel_id}/123": "may have been deleted",
            link(env, secret): "You can't read the channel",
        }
        for links, said in cases.items():
            record = await h.slash("blend", {"messages": links}, attachments=one)
            assert record.ephemeral and said in record.text, (links, record.text)
        assert env.api.image_requests == []
        # The member never got to see the hidden message's image, nor was it fetched for them.
        assert not env.discord.requests_to("GET", f"/channels/{hidden['id']}/messages/*")


async def test_model_choices_are_only_models_that_take_several_images(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        choices = await env.harness.autocomplete("blend", {}, focused="model")
        names = {c["value"] for c in choices}
        assert "gpt-image-1" in names and "dall-e-2" not in names
