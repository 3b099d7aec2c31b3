"""One error-to-member message for every entry point, and cogs that never import the bot."""

from __future__ import annotations

import ast
import io
import logging
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands
from PIL import Image

from bot.errors import NotAllowed
from cogs.common import CHECK_FAILED, UNEXPECTED, member_message
from tests.fakes.bot_env import BotEnv, bot_env

COGS = Path(__file__).resolve().parent.parent / "cogs"


def runtime_imports_of_bot_app(source: str) -> list[int]:
    """Lines importing ``bot.app`` outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(source)
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            typing_only |= {id(n) for child in node.body for n in ast.walk(child)}
    lines = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "bot.app":
            lines.append(node.lineno)
        if isinstance(node, ast.Import) and any(a.name == "bot.app" for a in node.names):
            lines.append(node.lineno)
    return lines


def test_no_cog_imports_the_composition_root_at_runtime() -> None:
    found = {
        path.name: lines
        for path in sorted(COGS.glob("*.py"))
        if (lines := runtime_imports_of_bot_app(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_scan_sees_runtime_imports_and_spares_typing_only_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.app import ImageBot\n"
        "from bot.app import UNEXPECTED\n"
        "def f():\n    import bot.app\n"
    )
    assert runtime_imports_of_bot_app(source) == [4, 6]


def test_member_message_of_each_kind_of_error(caplog: pytest.LogCaptureFixture) -> None:
    refusal = NotAllowed("Image making is paused on this server.")
    with caplog.at_level(logging.ERROR):
        assert member_message(refusal, "x") == refusal.message
        # discord.py's own check failures are worded in English: the member reads ours
        assert member_message(app_commands.CheckFailure("Not here."), "x") == CHECK_FAILED
        assert member_message(app_commands.CheckFailure(), "x", "ru") == (
            "Здесь эту команду использовать нельзя."
        )
        assert caplog.records == []  # refusals are not errors of the bot
        assert member_message(RuntimeError("disk on fire"), "Command imagine") == UNEXPECTED
    (record,) = caplog.records
    assert "Command imagine failed" in record.getMessage() and record.exc_info is not None


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "PNG")
    return buffer.getvalue()


async def shown_on_every_path(env: BotEnv) -> dict[str, str]:
    """What the member sees when choosing a model fails: slash, button, modal and reply."""
    h = env.harness
    target = h.build_message("", attachments=[("cat.png", png())])
    opened = await h.context_menu("Edit image", message=target)
    modal = await h.submit_modal(opened.modal["custom_id"], {"prompt": "add a hat"})
    reply = await h.message(
        f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id]
    )
    return {
        "tree": (await h.slash("imagine", {"prompt": "a red fox"})).text,
        "button": (await h.click("img:reroll:1")).text,
        "modal": modal.text,
        "reply": reply.text,
    }


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (NotAllowed("Image making is paused on this server."), "Image making is paused"),
        (RuntimeError("secret detail"), UNEXPECTED),
    ],
)
async def test_every_entry_point_shows_the_same_message_for_the_same_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    shown: str,
) -> None:
    async with bot_env(tmp_path) as env:
        first = await env.harness.slash("imagine", {"prompt": "a red fox"})
        assert first.result  # job 1, whose Re-roll button is clicked below

        async def failing(*args: Any, **kwargs: Any) -> str:
            raise error

        monkeypatch.setattr(env.bot.services.jobs, "resolve_model", failing)
        with caplog.at_level(logging.ERROR):
            texts = await shown_on_every_path(env)

    assert {path: shown in text for path, text in texts.items()} == dict.fromkeys(texts, True)
    assert not any("secret detail" in text for text in texts.values())
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is error]
    assert len(logged) == (4 if shown == UNEXPECTED else 0)
