"""Aspect ratio, detail and the GPT output options, end to end: what the member picks in /imagine
and /edit reaches the fake Images API as the right size and fields, impossible combinations are
refused before any request, and the result says which size was used."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.store import QuotaPolicy
from tests.fakes.bot_env import bot_env
from tests.fakes.openai_server import FakeImagesServer

DISCORD_OPTION_LIMIT = 25


def photo(size: tuple[int, int] = (800, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, "JPEG")
    return buffer.getvalue()


def fields_of(message: dict[str, Any]) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_imagine_16_9_at_2k_on_gpt_image_2_sends_2048x1152_and_says_so(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "a harbour", "model": "gpt-image-2", "aspect": "16:9", "detail": "2K"},
        )
        (request,) = env.api.image_requests
        assert request.json["size"] == "2048x1152"
        assert "aspect" not in request.json and "detail" not in request.json
        shown = fields_of(record.result)
        assert shown["Size"] == "2048x1152"
        assert "16:9 at 2K: 2048x1152." in shown["Adjusted"]
        (image,) = env.discord.files_of(record.result)
        assert image.image().size == (2048, 1152)
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        # Stored as chosen, so Try again and Re-roll make the shape again; charged for its pixels.
        assert job.params["aspect"] == "16:9" and job.params["detail"] == "2K"
        assert "size" not in job.params
        assert job.credits == 9  # 1536x1024 medium is 6; 2048x1152 has 1.5 times its pixels
        env.harness.assert_clean()


async def test_reroll_makes_the_same_shape_again(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.harness.slash(
            "imagine",
            {"prompt": "a tower", "model": "gpt-image-2", "aspect": "9:16", "detail": "2K"},
        )
        record = await env.harness.click("img:reroll:1")
        assert record.result
        assert [r.json["size"] for r in env.api.image_requests] == ["1152x2048", "1152x2048"]
        assert "9:16 at 2K: 1152x2048." in fields_of(record.result)["Adjusted"]


async def test_a_listed_size_model_takes_the_nearest_shape_and_says_so(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine", {"prompt": "a road", "model": "gpt-image-1", "aspect": "16:9"}
        )
        assert env.api.image_requests[0].json["size"] == "1536x1024"
        assert (
            "16:9 on gpt-image-1 is 1536x1024 (3:2), the closest it makes."
            in fields_of(record.result)["Adjusted"]
        )


async def test_a_detail_the_model_lacks_is_refused_before_any_request(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "a road", "model": "gpt-image-1", "aspect": "16:9", "detail": "4K"},
        )
        assert record.ephemeral and env.api.image_requests == []
        assert "gpt-image-1 can't make 16:9 at 4K detail" in record.text
        assert "Models that make 16:9 at 4K detail: gpt-image-2" in record.text
        assert "Nothing was charged" in record.text


async def test_a_size_and_a_shape_together_are_refused_naming_both(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "a fox", "model": "gpt-image-2", "size": "1024x1024", "aspect": "16:9"},
        )
        assert env.api.image_requests == []
        assert (
            "Choose either a size or an aspect ratio and detail, not both; you gave size "
            "1024x1024 and aspect ratio 16:9." in record.text
        )


async def test_4k_is_held_at_its_price_before_anything_is_sent(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        guild = env.harness.guild_id
        await env.store.save_quota_policy(QuotaPolicy(guild, user_limit=30))
        record = await env.harness.slash(
            "imagine",
            {"prompt": "a city", "model": "gpt-image-2", "aspect": "16:9", "detail": "4K"},
        )
        # 3840x2160 at medium is 32 credits: more than the 30 a member has, unlike 2K (9).
        assert record.ephemeral and env.api.image_requests == []
        assert "32 credits" in record.text, record.text


async def test_edit_with_a_detail_keeps_the_photos_shape_at_that_size(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "edit",
            {"prompt": "add a hat", "model": "gpt-image-2", "detail": "2K"},
            attachments={"image": ("cat.jpg", photo((800, 600)))},
        )
        (request,) = env.api.image_requests
        assert request.form["size"] == "2048x1536"
        assert "detail" not in request.form
        assert "Your image's shape at 2K detail: 2048x1536." in fields_of(record.result)["Adjusted"]


async def test_edit_options_round_trip_to_the_request_body(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.store.save_quota_policy(QuotaPolicy(env.harness.guild_id, user_limit=None))
        await env.harness.slash(
            "edit",
            {
                "prompt": "add a hat",
                "model": "gpt-image-1",
                "aspect": "2:3",
                "quality": "high",
                "background": "opaque",
                "input_fidelity": "high",
                "output_format": "jpeg",
                "output_compression": 70,
            },
            attachments={"image": ("cat.jpg", photo())},
        )
        await env.harness.slash(
            "edit",
            {"prompt": "add a scarf", "model": "gpt-image-2", "complexity": "high",
             "output_format": "webp", "background": "transparent"},
            attachments={"image": ("cat.jpg", photo())},
        )  # fmt: skip
        first, second = (r.form for r in env.api.image_requests)
        assert {k: first[k] for k in ("size", "quality", "background", "input_fidelity")} == {
            "size": "1024x1536", "quality": "high", "background": "opaque", "input_fidelity": "high"
        }  # fmt: skip
        assert (first["output_format"], first["output_compression"]) == ("jpeg", "70")
        assert (second["complexity"], second["output_format"]) == ("high", "webp")
        assert second["background"] == "transparent" and "output_compression" not in second


async def test_imagine_output_options_round_trip(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "a fox", "model": "gpt-image-1", "output_format": "webp",
             "output_compression": 40},
        )  # fmt: skip
        (request,) = env.api.image_requests
        assert (request.json["output_format"], request.json["output_compression"]) == ("webp", 40)
        (image,) = env.discord.files_of(record.result)
        assert image.image().format == "WEBP"


async def test_transparent_with_jpeg_is_refused_naming_both_before_any_request(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        for command, attachments in (("imagine", None), ("edit", {"image": ("a.jpg", photo())})):
            record = await env.harness.slash(
                command,
                {"prompt": "a fox", "model": "gpt-image-1", "background": "transparent",
                 "output_format": "jpeg"},
                attachments=attachments,
            )  # fmt: skip
            assert record.ephemeral
            assert "A transparent background needs png or webp, not jpeg." in record.text
        record = await env.harness.slash(
            "imagine", {"prompt": "a fox", "model": "gpt-image-1", "output_compression": 50}
        )
        assert "Output compression only works with jpeg or webp output, not png." in record.text
        record = await env.harness.slash(
            "edit",
            {"prompt": "a hat", "model": "gpt-image-2", "input_fidelity": "high"},
            attachments={"image": ("a.jpg", photo())},
        )
        assert "Input fidelity only applies to gpt-image-1" in record.text
        assert env.api.image_requests == []


async def test_autocomplete_offers_the_models_details_with_their_sizes(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        offered = await env.harness.autocomplete(
            "imagine", {"prompt": "x", "model": "gpt-image-2", "aspect": "16:9"}, focused="detail"
        )
        assert [c["value"] for c in offered] == ["standard", "2K", "4K"]
        assert offered[1]["name"].startswith("2K — 2048x1152")
        listed = await env.harness.autocomplete(
            "imagine", {"prompt": "x", "model": "gpt-image-1"}, focused="detail"
        )
        assert [c["value"] for c in listed] == ["standard"]
        formats = await env.harness.autocomplete(
            "edit", {"prompt": "x", "model": "gpt-image-1"}, focused="output_format"
        )
        assert [c["value"] for c in formats] == ["png", "jpeg", "webp"]
        fidelity = await env.harness.autocomplete(
            "edit", {"prompt": "x", "model": "gpt-image-1"}, focused="input_fidelity"
        )
        assert [c["value"] for c in fidelity] == ["high", "low"]


async def test_the_commands_fit_discords_option_limit(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        for name in ("imagine", "edit"):
            command = env.bot.tree.get_command(name)
            assert command is not None
            options = command.to_dict(env.bot.tree)["options"]
            assert len(options) <= DISCORD_OPTION_LIMIT, (name, len(options))
            assert {"preset", "aspect", "detail", "output_format"} <= {o["name"] for o in options}
            aspect = next(o for o in options if o["name"] == "aspect")
            assert [c["value"] for c in aspect["choices"]][:5] == [
                "1:1", "4:3", "3:2", "16:9", "21:9"
            ]  # fmt: skip


async def test_the_cli_takes_aspect_and_detail(tmp_path: Path) -> None:
    from tests.test_cli import run_cli  # the same subprocess runner as the other CLI tests

    async with FakeImagesServer() as fake:
        code, out, err = await run_cli(
            fake, tmp_path, "generate", "a harbour", "--model", "gpt-image-2",
            "--aspect", "21:9", "--detail", "2K", "--out", "imgs",
        )  # fmt: skip
        assert code == 0, err
        assert fake.image_requests[-1].json["size"] == "2048x880"
        assert "note: 21:9 at 2K: 2048x880." in out
        code, _, err = await run_cli(
            fake, tmp_path, "generate", "a fox", "--model", "gpt-image-1", "--detail", "4K"
        )
        assert code == 1 and "gpt-image-1 can't make 1:1 at 4K detail" in err


async def test_a_preferred_shape_applies_and_never_gets_a_job_refused(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.harness.slash("preferences", {"aspect": "16:9"})
        for options in (
            {"model": "gpt-image-2", "detail": "2K"},
            {"model": "gpt-image-2", "size": "1024x1024"},  # an explicit size wins
            {"model": "dall-e-2"},  # squares only: the preference is skipped
        ):
            record = await env.harness.slash("imagine", {"prompt": "a fox", **options})
            assert record.result, record.text
        sizes = [r.json["size"] for r in env.api.image_requests]
        assert sizes == ["2048x1152", "1024x1024", "1024x1024"]


async def test_a_chinese_members_result_says_what_was_adjusted_in_chinese(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await env.harness.slash(
            "imagine",
            {"prompt": "海港", "model": "dall-e-3", "aspect": "16:9", "n": 2},
            locale="zh-CN",
        )
        assert [request.json["size"] for request in env.api.image_requests] == ["1792x1024"] * 2
        notes = fields_of(record.result)["已调整"]
        assert "• dall-e-3 上的 16:9 是 1792x1024（7:4），这是它能生成的最接近的尺寸。" in notes
        assert "• dall-e-3 每个请求只生成一张图片，所以我发送了 2 个请求。" in notes
        assert "request" not in notes and "closest" not in notes  # nothing left in English
