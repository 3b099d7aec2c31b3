"""The command line end to end: a real subprocess against the fake Images server."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer() as server:
        yield server


async def run_cli(fake: FakeImagesServer, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "IMAGEBOT_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def photo(path: Path, size: tuple[int, int] = (1200, 800)) -> Path:
    Image.new("RGB", size, (200, 80, 40)).save(path, "JPEG")
    return path


async def test_generate_writes_every_image(fake: FakeImagesServer, tmp_path: Path) -> None:
    code, out, err = await run_cli(
        fake,
        tmp_path,
        "generate",
        "a red fox",
        "--model",
        "dall-e-3",
        "--size",
        "1792x1024",
        "--quality",
        "hd",
        "--n",
        "2",
        "--out",
        "imgs",
    )
    assert code == 0, err
    files = sorted((tmp_path / "imgs").iterdir())
    assert len(files) == 2
    with Image.open(files[0]) as image:
        assert image.size == (1792, 1024)
    sent = [r.json for r in fake.image_requests]
    assert [s["n"] for s in sent if s] == [1, 1]  # dall-e-3 makes one per request
    assert all(s and s["quality"] == "hd" and s["response_format"] == "b64_json" for s in sent)
    assert "so I sent 2 requests" in out
    assert "revised prompt: Revised: a red fox" in out


async def test_edit_fixes_a_jpeg_for_dall_e_2_and_says_so(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    source = photo(tmp_path / "cat.jpg")
    code, out, err = await run_cli(
        fake,
        tmp_path,
        "edit",
        "add a hat",
        "--image",
        str(source),
        "--model",
        "dall-e-2",
        "--size",
        "512x512",
        "--out",
        "imgs",
    )
    assert code == 0, err
    (request,) = fake.image_requests
    (part,) = request.files("image")
    assert part.content_type == "image/png"
    with Image.open(io.BytesIO(part.data)) as sent:
        assert sent.format == "PNG" and sent.width == sent.height
    assert "note:" in out and "PNG" in out


async def test_edit_sends_several_images_as_image_array(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    first = photo(tmp_path / "a.jpg")
    second = photo(tmp_path / "b.jpg", (640, 640))
    code, _, err = await run_cli(
        fake,
        tmp_path,
        "edit",
        "merge them",
        "--image",
        str(first),
        "--image",
        str(second),
        "--model",
        "gpt-image-1",
        "--out",
        "imgs",
    )
    assert code == 0, err
    (request,) = fake.image_requests
    parts = request.files("image[]")
    assert len(parts) == 2 and all(p.content_type == "image/jpeg" for p in parts)


async def test_vary_and_a_refused_request_never_reaches_the_server(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    source = photo(tmp_path / "p.jpg", (700, 500))
    code, _, err = await run_cli(fake, tmp_path, "vary", "--image", str(source), "--n", "3")
    assert code == 0, err
    assert len(list((tmp_path / "out").iterdir())) == 3
    before = len(fake.image_requests)
    code, _, err = await run_cli(
        fake, tmp_path, "generate", "x" * 1200, "--model", "dall-e-2", "--n", "11"
    )
    assert code == 1
    assert "1000 characters" in err and "11" in err
    assert len(fake.image_requests) == before


async def test_api_errors_are_user_messages_without_the_key(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    fake.fail_next("content_policy_violation")
    code, out, err = await run_cli(fake, tmp_path, "generate", "something", "--model", "dall-e-3")
    assert code == 1
    assert "safety system" in err
    assert TEST_API_KEY not in out + err


async def test_check_lists_models_and_reports_bad_config(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    code, out, err = await run_cli(fake, tmp_path, "check")
    assert code == 0, err
    assert "usable (" in out and "  dall-e-3\n" in out
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "IMAGEBOT_REQUEST_TIMEOUT": "never"},
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err_bytes = await process.communicate()
    assert process.returncode == 2
    message = err_bytes.decode()
    assert "OPENAI_API_KEY is not set" in message
    assert "IMAGEBOT_REQUEST_TIMEOUT" in message
