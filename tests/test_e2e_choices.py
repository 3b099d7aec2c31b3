"""Choices that fit the model: autocomplete offers what the chosen (or default) model takes, in
plain words, and a value it doesn't take is refused with what it does take."""

from __future__ import annotations

import dataclasses
import datetime
import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.images.params import CHOICE_BY_NAME
from tests.fakes.bot_env import bot_env
from tests.fakes.openai_server import FakeImagesServer

DAY = datetime.date(2026, 12, 1)


def png(size: tuple[int, int] = (300, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, "teal").save(buffer, "PNG")
    return buffer.getvalue()


def values(choices: list[dict[str, Any]]) -> list[str]:
    return [c["value"] for c in choices]


async def offered(env: Any, command: str, focused: str, **options: Any) -> list[dict[str, Any]]:
    base = {"prompt": "x"} if command != "vary" else {}
    return await env.harness.autocomplete(command, {**base, **options}, focused=focused)


async def test_quality_follows_the_chosen_model(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        dalle = await offered(env, "imagine", "quality", model="dall-e-3")
        assert values(dalle) == ["standard", "hd"]
        gpt = await offered(env, "imagine", "quality", model="gpt-image-1")
        assert values(gpt) == ["low", "medium", "high", "auto"]
        sunburst = await offered(env, "imagine", "quality", model="gpt-image-2.5-sunburst")
        assert values(sunburst) == ["low", "medium", "high", "xhigh", "max", "auto"]
        edit = await offered(env, "edit", "quality", model="gpt-image-2.5-flare")
        assert values(edit) == ["low", "medium", "high", "xhigh", "max", "auto"]


async def test_each_choice_reads_in_plain_words_and_sends_the_apis_value(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        gpt = await offered(env, "imagine", "quality", model="gpt-image-1")
        assert {"name": "high — slower, more detail, costs more", "value": "high"} in gpt
        assert {"name": "auto — the model decides", "value": "auto"} in gpt
        hd = await offered(env, "imagine", "quality", model="dall-e-3")
        assert hd[1] == {"name": "hd — finer detail, costs more", "value": "hd"}
        typed = await offered(env, "imagine", "quality", model="gpt-image-1", quality="detail")
        assert values(typed) == ["low", "medium", "high"]  # matched on the meaning too
        record = await env.harness.slash(
            "imagine", {"prompt": "a fox", "model": "gpt-image-1", "quality": "high"}
        )
        assert record.result
        assert env.api.image_requests[-1].json["quality"] == "high"


async def test_style_background_and_complexity_follow_the_model(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        styles = await offered(env, "imagine", "style", model="dall-e-3")
        assert values(styles) == ["vivid", "natural"]
        assert await offered(env, "imagine", "style", model="gpt-image-1") == []
        backgrounds = await offered(env, "imagine", "background", model="gpt-image-1")
        assert values(backgrounds) == ["transparent", "opaque", "auto"]
        assert await offered(env, "imagine", "background", model="dall-e-3") == []
        complexity = await offered(env, "imagine", "complexity", model="gpt-image-2")
        assert values(complexity) == ["low", "medium", "high"]
        assert await offered(env, "imagine", "complexity", model="gpt-image-1") == []


async def test_without_a_model_the_servers_default_decides(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:  # the operator's default: gpt-image-1
        assert values(await offered(env, "imagine", "quality")) == ["low", "medium", "high", "auto"]
        await env.store.change_guild_settings(
            env.harness.guild_id, lambda s: dataclasses.replace(s, default_model="dall-e-3")
        )
        assert values(await offered(env, "imagine", "quality")) == ["standard", "hd"]
        assert values(await offered(env, "imagine", "style")) == ["vivid", "natural"]
        # dall-e-3 can't edit: /edit's default is the next that can, and its values are offered.
        assert values(await offered(env, "edit", "background")) == ["transparent", "opaque", "auto"]


async def test_edit_takes_a_background_and_sends_it(tmp_path: Path) -> None:
    assert "edit" in CHOICE_BY_NAME["background"].operations
    async with bot_env(tmp_path) as env:
        backgrounds = await offered(env, "edit", "background", model="gpt-image-1")
        assert values(backgrounds) == ["transparent", "opaque", "auto"]
        assert await offered(env, "edit", "background", model="dall-e-2") == []
        record = await env.harness.slash(
            "edit",
            {"prompt": "cut it out", "model": "gpt-image-1", "background": "transparent"},
            attachments={"image": ("a.png", png())},
        )
        assert record.result["attachments"]
        (request,) = env.api.image_requests
        assert request.endpoint == "edits" and request.form["background"] == "transparent"
        refused = await env.harness.slash(
            "edit",
            {"prompt": "cut it out", "model": "dall-e-2", "background": "transparent"},
            attachments={"image": ("a.png", png())},
        )
        assert refused.ephemeral and "Background only applies to" in refused.text
        assert len(env.api.image_requests) == 1  # refused before anything was sent


async def test_a_value_the_model_doesnt_take_is_refused_with_what_it_takes(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        refused = await env.harness.slash(
            "imagine", {"prompt": "a fox", "model": "dall-e-3", "quality": "high"}
        )
        assert refused.ephemeral
        assert "Quality high isn't available for dall-e-3. Choose one of: standard or hd." in (
            refused.text
        )
        typo = await env.harness.slash(
            "imagine", {"prompt": "a fox", "model": "gpt-image-1", "background": "clear"}
        )
        assert "Choose one of: transparent, opaque, or auto." in typo.text
        assert env.api.image_requests == []


async def test_model_autocomplete_names_every_model_by_its_label(tmp_path: Path) -> None:
    async with (
        FakeImagesServer(extra_models={"gpt-image-2.7-sunburst": "gpt-image-2.6"}) as api,
        bot_env(tmp_path, api=api) as env,
    ):
        catalog = env.bot.services.catalog
        for command, op in (("imagine", "generate"), ("edit", "edit"), ("vary", "variation")):
            names = {c["value"]: c["name"] for c in await offered(env, command, "model")}
            expected = {spec.name for spec in catalog.models_for(op)} | {"gpt-image-2.7-sunburst"}
            assert set(names) == expected, command
            for spec in catalog.models_for(op):
                assert spec.label and names[spec.name] == f"{spec.label} ({spec.name})"
            assert names["gpt-image-2.7-sunburst"] == (
                "gpt-image-2.7-sunburst (new, like GPT Image 2.6 Sunburst)"
            )
        typed = await offered(env, "imagine", "model", model="dall")
        assert values(typed) == ["dall-e-3", "dall-e-2"]  # the newer first, found by label too


async def test_a_russian_member_is_refused_in_russian(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        quality = await env.harness.slash(
            "imagine", {"prompt": "лиса", "model": "dall-e-3", "quality": "high"}, locale="ru"
        )
        assert quality.ephemeral
        assert quality.text.startswith(
            "⚠️ dall-e-3 не поддерживает «Качество: high». Выберите одно из: standard или hd."
        )
        assert quality.text.endswith("С вас ничего не списано.")
        size = await env.harness.slash(
            "imagine", {"prompt": "лиса", "model": "dall-e-2", "size": "1792x1024"}, locale="ru"
        )
        assert (
            "Размер 1792x1024 недоступен для dall-e-2. "
            "Выберите один из: 256x256, 512x512 или 1024x1024." in size.text
        )
        many = await env.harness.slash(
            "imagine", {"prompt": "лиса", "model": "dall-e-3", "n": 5}, locale="ru"
        )
        assert (
            "dall-e-3 делает одно изображение за запрос, поэтому за раз можно не больше 4; "
            "вы попросили 5." in many.text
        )
        assert env.api.image_requests == []
