"""The message context menus end to end: Edit image (modal) and Vary image."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import discord
from PIL import Image

from bot.store.models import GuildSettings
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord

JSON = dict[str, Any]


def image_bytes(color: str, size: tuple[int, int], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def text_inputs(modal: JSON) -> list[JSON]:
    return [c for row in modal["components"] for c in row["components"] if c["type"] == 4]


async def open_and_submit(env: BotEnv, target: JSON, prompt: str) -> InteractionRecord:
    opened = await env.harness.context_menu("Edit image", message=target)
    return await env.harness.submit_modal(opened.modal["custom_id"], {"prompt": prompt})


async def test_edit_image_asks_for_a_prompt_then_edits_the_messages_image(tmp_path: Path) -> None:
    cat = image_bytes("red", (64, 48))
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("my cat", author=h.moderator_id, attachments=[("cat.png", cat)])

        opened = await h.context_menu("Edit image", message=target)

        assert opened.callback_type == 9
        assert opened.modal["custom_id"] == f"img:ctxedit:{h.channel_id}:{target['id']}"
        (prompt_input,) = text_inputs(opened.modal)
        assert prompt_input["custom_id"] == "prompt"
        assert prompt_input["required"] is True
        assert prompt_input["max_length"] == 4000
        assert env.api.image_requests == []  # nothing is spent while the member types

        done = await h.submit_modal(opened.modal["custom_id"], {"prompt": "add a hat"})

        (request,) = env.api.image_requests
        assert request.endpoint == "edits"
        assert request.form["model"] == "gpt-image-1"
        assert request.form["prompt"] == "add a hat"
        (sent,) = request.files("image")
        assert pixels(sent.data) == pixels(cat)
        assert done.callback_type == 4
        result = done.result
        assert result is not None and not done.ephemeral
        (embed,) = result["embeds"]
        assert embed["title"] == "Edited with gpt-image-1"
        assert embed["description"] == "add a hat"
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Model"] == "gpt-image-1"
        (uploaded,) = env.discord.files_of(result)
        assert f"{uploaded.image().size[0]}x{uploaded.image().size[1]}" == fields["Size"]
        job_id = int(re.search(r"job (\d+)", embed["footer"]["text"])[1])  # type: ignore[index]
        ids = custom_ids(result)
        for wanted in (f"img:reroll:{job_id}", f"img:edit:{job_id}", f"img:delete:{job_id}"):
            assert wanted in ids
        job = await env.store.get_job(h.guild_id, job_id)
        assert job is not None
        assert (job.status, job.operation, job.prompt) == ("succeeded", "edit", "add a hat")
        assert job.user_id == h.user_id
        assert job.result_message_id == int(result["id"])


async def test_edit_image_sends_every_image_in_order_and_the_mask(tmp_path: Path) -> None:
    first, second = image_bytes("red", (40, 40)), image_bytes("blue", (40, 40))
    mask = image_bytes("white", (40, 40))
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message(
            "", attachments=[("a.png", first), ("mask.png", mask), ("b.png", second)]
        )

        await open_and_submit(env, target, "make them one scene")

        (request,) = env.api.image_requests
        assert [pixels(p.data) for p in request.files("image[]")] == [
            pixels(first),
            pixels(second),
        ]
        (sent_mask,) = request.files("mask")
        assert pixels(sent_mask.data)[0] == (40, 40)


async def test_edit_image_sends_only_the_first_image_to_a_one_image_model(
    tmp_path: Path,
) -> None:
    first, second = image_bytes("red", (32, 32)), image_bytes("blue", (32, 32))
    async with bot_env(tmp_path) as env:
        h = env.harness
        await env.store.save_guild_settings(GuildSettings(h.guild_id, default_model="dall-e-2"))
        target = h.build_message("", attachments=[("a.png", first), ("b.png", second)])

        done = await open_and_submit(env, target, "a watercolour")

        (request,) = env.api.image_requests
        assert request.form["model"] == "dall-e-2"
        (sent,) = request.files("image")
        assert pixels(sent.data) == pixels(first)
        assert done.result["attachments"]


async def test_edit_image_on_a_message_without_images_refuses_at_once(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("just words", attachments=[("notes.txt", b"hello", "text/plain")])

        record = await h.context_menu("Edit image", message=target)

        assert record.callback_type == 4 and record.ephemeral
        assert "That message has no image I can use." in record.text
        assert env.api.image_requests == []


async def test_edit_image_failure_after_submit_is_shown_and_refunded(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        env.api.fail_next("content_policy_violation")

        done = await open_and_submit(env, target, "something rejected")

        assert done.callback_type == 4
        assert done.original is None  # the public progress went away
        assert "safety" in done.failure_text.lower()
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert (job.status, job.error_kind) == ("failed", "content_rejected")
        usage = await env.bot.services.quotas.member_usage(h.guild_id, h.user_id, ())
        assert usage.member.used == 0 and usage.in_flight == 0


async def test_edit_image_whose_image_vanished_tells_the_member(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        opened = await h.context_menu("Edit image", message=target)
        env.discord.fail_next("GET", "/attachments/*", status=404, code=10008)

        done = await h.submit_modal(opened.modal["custom_id"], {"prompt": "add a hat"})

        assert env.api.image_requests == []
        assert "couldn't download cat.png" in done.failure_text
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert (job.status, job.error_kind) == ("failed", "bad_image")


async def test_vary_image_makes_a_dall_e_2_variation_from_a_square_png(tmp_path: Path) -> None:
    photo = image_bytes("green", (80, 60), "JPEG")
    async with bot_env(tmp_path, default_model="dall-e-2") as env:
        h = env.harness
        target = h.build_message("", attachments=[("photo.jpg", photo)])

        record = await h.context_menu("Vary image", message=target)

        (request,) = env.api.image_requests
        assert request.endpoint == "variations"
        assert request.form["model"] == "dall-e-2"
        (sent,) = request.files("image")
        with Image.open(io.BytesIO(sent.data)) as image:
            assert image.format == "PNG"
            assert image.width == image.height
        assert record.callback_type == 4
        result = record.result
        assert result is not None
        assert result["embeds"][0]["title"] == "Variations with dall-e-2"
        assert [f.kind for f in env.discord.files_of(result)] == ["png"]
        job_id = int(custom_ids(result)[0].rsplit(":", 1)[1])
        job = await env.store.get_job(h.guild_id, job_id)
        assert job is not None and (job.status, job.operation) == ("succeeded", "variation")


async def test_vary_image_uses_an_image_embed_from_discords_cdn(tmp_path: Path) -> None:
    picture = image_bytes("purple", (50, 50))
    async with bot_env(tmp_path) as env:
        h = env.harness
        hosted = env.discord.add_attachment("linked.png", picture, channel_id=h.channel_id)
        elsewhere = "https://example.com/elsewhere.png"
        embeds = [
            {"type": "image", "url": elsewhere, "thumbnail": {"url": elsewhere}},
            {
                "type": "image",
                "url": elsewhere,
                "thumbnail": {"url": elsewhere, "proxy_url": hosted["url"]},
            },
        ]
        target = h.build_message(f"look {elsewhere}", embeds=embeds)

        record = await h.context_menu("Vary image", message=target)

        (request,) = env.api.image_requests
        (sent,) = request.files("image")
        assert pixels(sent.data) == pixels(picture)
        assert record.result["attachments"]


async def test_vary_image_on_a_message_without_images_is_a_private_clear_error(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        outside = {"type": "image", "url": "https://example.com/cat.png"}
        target = h.build_message("no pictures here", embeds=[outside])

        record = await h.context_menu("Vary image", message=target)

        assert record.callback_type == 4
        assert record.callback.json["data"]["flags"] == 64
        assert "That message has no image I can use." in record.text
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(h.guild_id) == []


async def test_blank_prompt_in_the_modal_is_refused_privately(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])

        done = await open_and_submit(env, target, "   ")

        assert done.callback_type == 4 and done.ephemeral
        assert "The prompt is empty" in done.text
        assert env.api.image_requests == []
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert job.status == "failed"


async def test_menus_are_guild_only_message_commands_and_leave_with_their_cog(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        tree, kind = env.bot.tree, discord.AppCommandType.message
        for name in ("Edit image", "Vary image"):
            menu = tree.get_command(name, type=kind)
            assert menu is not None
            assert menu.to_dict(tree)["contexts"] == [0]  # servers only, never DMs

        await env.bot.unload_extension("cogs.context")
        assert tree.get_commands(type=kind) == []

        await env.bot.load_extension("cogs.context")
        assert sorted(c.name for c in tree.get_commands(type=kind)) == ["Edit image", "Vary image"]


async def test_a_japanese_member_gets_the_edit_image_form_in_japanese(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (64, 48)))])

        opened = await h.context_menu("Edit image", message=target, locale="ja")

        assert opened.modal["title"] == "画像を編集"
        (prompt_input,) = text_inputs(opened.modal)
        assert prompt_input["label"] == "何を変えますか？"
        assert prompt_input["placeholder"] == "例：猫に赤い帽子をかぶせて"
        words = h.build_message("just words")
        refused = await h.context_menu("Vary image", message=words, locale="fr")
        assert refused.ephemeral and "Ce message n'a aucune image que je puisse utiliser." in (
            refused.text
        )
