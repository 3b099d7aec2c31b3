"""The operator's first hour: ./scripts/run from any folder, output files never overwritten."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer() as server:
        yield server


async def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def square_png(path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (256, 256), (200, 80, 40, 255)).save(out, "PNG")
    path.write_bytes(out.getvalue())


async def test_scripts_run_reads_files_from_the_callers_folder_and_env_from_home(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    home, caller = tmp_path / "checkout", tmp_path / "pictures"
    home.mkdir()
    caller.mkdir()
    # The owner's .env, found through IMAGEBOT_HOME (the script sets it to the checkout).
    (home / ".env").write_text(f"OPENAI_API_KEY={TEST_API_KEY}\nOPENAI_BASE_URL={fake.base_url}\n")
    square_png(caller / "cat.png")
    (caller / "bot").mkdir()  # a folder named like the package must not shadow it
    (caller / "bot" / "__init__.py").write_text("raise SystemExit('wrong bot package')\n")
    code, out = await run(
        [str(ROOT / "scripts" / "run"), "vary", "--image", "cat.png", "--n", "2"],
        caller,
        {"IMAGEBOT_HOME": str(home)},
    )
    assert code == 0, out
    written = sorted(p.name for p in (caller / "out").iterdir())
    assert len(written) == 2 and all(n.startswith("variation-") for n in written), written
    (request,) = fake.image_requests
    assert request.endpoint == "edits"  # variations through the default GPT model's edits
    assert request.files("image")[0].data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_runs_in_the_same_second_never_overwrite_each_others_images(
    fake: FakeImagesServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Files an earlier run wrote under every name this run could pick in the next seconds.
    now = time.time()
    earlier = {}
    for offset in range(20):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now + offset))
        path = out / f"generate-{stamp}-1.png"
        path.write_bytes(b"an earlier run's image")
        earlier[path] = path.read_bytes()
    env = {"OPENAI_API_KEY": TEST_API_KEY, "OPENAI_BASE_URL": fake.base_url}
    code, printed = await run(
        [sys.executable, "-m", "bot", "generate", "a fox", "--model", "dall-e-2", "--out", "out"],
        tmp_path,
        env,
    )
    assert code == 0, printed
    assert all(path.read_bytes() == data for path, data in earlier.items())
    (new,) = set(out.iterdir()) - set(earlier)
    assert new.name.endswith("-1-2.png") and new.read_bytes().startswith(b"\x89PNG")
    assert new.name in printed
