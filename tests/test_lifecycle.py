"""Models that come and go: the bot learns what its provider offers, from the command line.

Every test runs the real core (``bot.cli``) in-process against the fake Images API, in OpenAI's
world of 2026-12-01 (models listed with ``shutdown_date``, variations retired) or a gateway's
(dall-e still served, no dates, sometimes no model list). The bot's clock is injected.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.__main__ import build_parser
from bot.cli import _run
from bot.errors import BotError, ConfigError
from bot.settings import Settings
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer

DAY = datetime.date(2026, 12, 1)


@pytest.fixture
async def openai() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer(world="openai", today=DAY) as fake:
        yield fake


def settings(fake: FakeImagesServer, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": "",
        "openai_api_key": TEST_API_KEY,
        "openai_base_url": fake.base_url,
        "data_dir": tmp_path / "data",
        "request_timeout": 10.0,
        "max_retries": 0,
        **overrides,
    }
    return Settings(**values)


async def cli(
    fake: FakeImagesServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    today: Callable[[], datetime.date] = lambda: DAY,
    **overrides: Any,
) -> tuple[int, str]:
    """Run one CLI command in-process; its exit code and everything it printed."""
    extra = [] if argv[0] == "check" else ["--out", str(tmp_path / "out")]
    args = build_parser().parse_args([*argv, *extra])
    try:
        code = await _run(args, settings(fake, tmp_path, **overrides), today)
    except BotError as exc:  # a refusal: what `run_cli` prints as "error: ..."
        captured = capsys.readouterr()
        return 1, captured.out + f"error: {exc}"
    return code, capsys.readouterr().out


def photo(tmp_path: Path, size: tuple[int, int] = (640, 480)) -> str:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", size, (30, 120, 200)).save(path, "JPEG")
    return str(path)


# --- OpenAI of 2026-12-01 ---------------------------------------------------------------------


async def test_generate_without_a_model_uses_a_usable_one_and_writes_a_file(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await cli(openai, tmp_path, capsys, "generate", "a lighthouse")
    assert code == 0, out
    (request,) = openai.image_requests
    assert request.json["model"] == "gpt-image-2.6-sunburst"
    assert "model: gpt-image-2.6-sunburst" in out
    written = list((tmp_path / "out").iterdir())
    assert len(written) == 1 and written[0].stat().st_size > 0


async def test_a_shut_down_model_is_refused_before_any_request_with_a_replacement(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await cli(openai, tmp_path, capsys, "generate", "a fox", "--model", "gpt-image-1.5")
    assert code == 1
    assert "gpt-image-1.5 was shut down on 2026-12-01. Use gpt-image-2.6-sunburst instead." in out
    assert openai.image_requests == []
    code, out = await cli(openai, tmp_path, capsys, "generate", "a fox", "--model", "dall-e-3")
    assert "dall-e-3 was shut down on 2026-05-12" in out and openai.image_requests == []


async def test_xhigh_quality_works_on_a_2_5_model_and_is_refused_on_gpt_image_2(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("generate", "a fox", "--quality", "xhigh", "--model")
    code, out = await cli(openai, tmp_path, capsys, *args, "gpt-image-2.5-sunburst")
    assert code == 0, out
    assert openai.image_requests[-1].json["quality"] == "xhigh"
    code, out = await cli(openai, tmp_path, capsys, *args, "gpt-image-2")
    assert code == 1 and "Quality xhigh isn't available for gpt-image-2" in out
    assert len(openai.image_requests) == 1


async def test_vary_without_a_model_goes_through_the_edits_endpoint(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await cli(openai, tmp_path, capsys, "vary", "--image", photo(tmp_path), "--n", "2")
    assert code == 0, out
    (request,) = openai.image_requests
    assert request.endpoint == "edits" and request.form["model"] == "gpt-image-2.6-sunburst"
    assert request.form["prompt"].startswith("Make a subtle variation of this image")
    assert request.form["n"] == "2"
    assert len(list((tmp_path / "out").iterdir())) == 2
    assert "through an edit" in out


async def test_an_edit_on_gpt_image_2_sends_no_input_fidelity(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = ("edit", "add a hat", "--image", photo(tmp_path), "--model", "gpt-image-2")
    code, out = await cli(openai, tmp_path, capsys, *edit)
    assert code == 0, out
    assert "input_fidelity" not in openai.image_requests[-1].form
    code, out = await cli(openai, tmp_path, capsys, *edit, "--input-fidelity", "high")
    assert code == 1 and "Input fidelity" in out
    assert len(openai.image_requests) == 1


async def test_a_listed_model_the_catalog_does_not_know_works_with_assumed_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = {"gpt-image-2.7-sunburst": "gpt-image-2.6"}
    async with FakeImagesServer(world="openai", today=DAY, extra_models=new) as fake:
        model = ("--model", "gpt-image-2.7-sunburst")
        code, out = await cli(fake, tmp_path, capsys, "generate", "a fox", *model)
        assert code == 0, out
        assert fake.image_requests[-1].json["model"] == "gpt-image-2.7-sunburst"
        code, out = await cli(fake, tmp_path, capsys, "check")
        assert "gpt-image-2.7-sunburst  (new: limits assumed from gpt-image-2.6-sunburst)" in out


async def test_check_lists_usable_soon_shut_and_shut_down_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = {"gpt-image-2": "2026-12-20"}
    async with FakeImagesServer(world="openai", today=DAY, shutdown_dates=soon) as fake:
        code, out = await cli(fake, tmp_path, capsys, "check", default_model="gpt-image-1.5")
    assert code == 0, out
    usable = out.split("usable (")[1].split("soon shut down:")[0]
    assert "gpt-image-2.6-sunburst" in usable and "gpt-image-1.5\n" not in usable
    assert "gpt-image-2: shuts down on 2026-12-20" in out
    assert "gpt-image-1.5 was shut down on 2026-12-01 (use gpt-image-2.6-sunburst)" in out
    assert "gpt-image-1 was shut down on 2026-10-23 (use gpt-image-2.5-sunburst)" in out
    assert "dall-e-2 was shut down on 2026-05-12" in out
    assert re.search(r"IMAGEBOT_DEFAULT_MODEL is gpt-image-1.5, which was shut down", out)
    assert "the bot uses gpt-image-2.6-sunburst instead" in out


# --- gateways ---------------------------------------------------------------------------------


async def test_a_gateway_still_serves_dall_e(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeImagesServer(world="gateway") as fake:
        wide = ("generate", "a fox", "--model", "dall-e-3", "--size", "1792x1024")
        code, out = await cli(fake, tmp_path, capsys, *wide)
        assert code == 0, out
        code, out = await cli(
            fake, tmp_path, capsys, "vary", "--image", photo(tmp_path), "--model", "dall-e-2"
        )
        assert code == 0, out
        assert [r.endpoint for r in fake.image_requests] == ["generations", "variations"]
        assert "safety_identifier" not in fake.image_requests[0].json  # dall-e doesn't take it


async def test_a_gateway_without_a_model_list_works_from_the_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeImagesServer(world="gateway", models_endpoint=False) as fake:
        code, out = await cli(fake, tmp_path, capsys, "generate", "a fox")
        assert code == 0, out
        assert fake.image_requests[-1].json["model"] == "gpt-image-2.6-sunburst"
        code, out = await cli(fake, tmp_path, capsys, "check")
        assert "no model list" in out and "catalog's shutdown dates decide" in out
        assert "gpt-image-1.5 was shut down on 2026-12-01" in out


async def test_a_model_the_api_says_is_gone_is_avoided_until_the_next_refresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeImagesServer(world="gateway") as fake:
        fake.fail_next("not_found", param="model")
        code, out = await cli(
            fake, tmp_path, capsys, "generate", "a fox", "--model", "gpt-image-2.6-sunburst"
        )
        assert code == 1
        assert "gpt-image-2.6-sunburst isn't offered by the image service any more" in out
        assert "Use gpt-image-2.6-flare instead." in out


async def test_every_gpt_request_carries_a_salted_member_hash_unless_turned_off(
    openai: FakeImagesServer, tmp_path: Path
) -> None:
    from bot.core import open_core
    from bot.service import JobSpec

    async with open_core(settings(openai, tmp_path), today=lambda: DAY) as core:
        job = JobSpec("generate", "gpt-image-2", "a fox")
        await core.service.run(job, member=123456789012345678)
        await core.service.run(job, member=123456789012345678)
        await core.service.run(job, member=42)
    first, again, other = (r.json["safety_identifier"] for r in openai.image_requests)
    assert first == again != other
    assert re.fullmatch(r"[0-9a-f]{32}", first) and "123456789012345678" not in first
    off = settings(openai, tmp_path, safety_identifier=False)
    async with open_core(off, today=lambda: DAY) as core:
        await core.service.run(job, member=42)
    assert "safety_identifier" not in openai.image_requests[-1].json


async def test_images_sent_are_readable_results(
    openai: FakeImagesServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = await cli(openai, tmp_path, capsys, "generate", "a fox", "--model", "gpt-image-2")
    assert code == 0
    (path,) = (tmp_path / "out").iterdir()
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        assert image.size == (1024, 1024)


async def test_check_names_the_host_without_credentials_when_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with FakeImagesServer() as fake:
        base = f"http://127.0.0.1:{port}/v1?key=sk-secret"
        code, out = await cli(fake, tmp_path, capsys, "check", openai_base_url=base)
    assert code == 1
    assert f"Images API: http://127.0.0.1:{port}/v1\n" in out
    assert "couldn't reach 127.0.0.1" in out
    assert "sk-secret" not in out and "Traceback" not in out
    assert "DISCORD_TOKEN is not set" in out
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "https://owner:hunter2@gw.example/v1"}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env, require_discord=False)
    assert "OPENAI_BASE_URL must not contain a user name or password" in str(refused.value)
    assert "hunter2" not in str(refused.value)


async def test_check_hints_at_a_missing_v1_and_speaks_to_the_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeImagesServer(prefix="/v1") as fake:
        bare = fake.base_url.removesuffix("/v1")
        code, out = await cli(fake, tmp_path, capsys, "check", openai_base_url=bare)
        assert "hint: the base URL doesn't end in /v1" in out
        code, out = await cli(fake, tmp_path, capsys, "check", openai_api_key="sk-wrong-key-0000")
        assert code == 1 and "the API key was rejected: check OPENAI_API_KEY (HTTP 401)" in out
        assert "tell the server owner" not in out
