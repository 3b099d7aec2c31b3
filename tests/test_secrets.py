"""The API key and the bot token never leave their Authorization headers; downloads stay on Discord.

A representative session (imagine, edit, a result fetched from a storage URL, a 401 from the
Images API, a Discord error) runs with every log record captured at DEBUG; then every log line,
every request the fake Discord and the fake Images API received, every BotError message and the
settings' repr are searched for both secrets.
"""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.errors import BotError
from bot.i18n import Text
from tests.fakes.bot_env import DISCORD_TOKEN, bot_env
from tests.fakes.openai_server import TEST_API_KEY

SECRETS = {"API key": TEST_API_KEY, "bot token": DISCORD_TOKEN}


def png(size: tuple[int, int] = (128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "PNG")
    return out.getvalue()


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else json.dumps(value, default=str)


@pytest.fixture
def bot_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every BotError message created while the test runs."""
    messages: list[str] = []
    original = BotError.__init__

    def recording(self: BotError, message: str | Text) -> None:
        messages.append(str(message))  # a lazy message's values are the same in every language
        original(self, message)

    monkeypatch.setattr(BotError, "__init__", recording)
    return messages


async def test_secrets_appear_only_in_their_authorization_headers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bot_errors: list[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with bot_env(tmp_path) as env:
        harness = env.harness
        ok = await harness.slash("imagine", {"prompt": "a fox"})
        assert ok.files
        image = env.discord.add_attachment("cat.png", png(), channel_id=harness.channel_id)
        edited = await harness.slash("edit", {"prompt": "add a hat", "image": image})
        assert edited.files
        env.api.fail_next("gateway_url")  # the result is fetched from a storage host
        assert (await harness.slash("imagine", {"prompt": "a url"})).files
        env.api.fail_next("invalid_api_key")  # the real API echoes a masked key in its text
        refused = await harness.slash("imagine", {"prompt": "a fox"})
        assert "API key was rejected" in refused.text
        assert "Incorrect API key" not in refused.text  # upstream text is never shown
        # Discord forgets the interaction: the result goes to the channel instead
        env.discord.fail_next("*", "/webhooks/*", status=404, code=10062, times=None)
        moved = await harness.slash("imagine", {"prompt": "a fox"})
        assert env.discord.last_message(harness.channel_id)["attachments"]
        assert moved.callback_type == 4
        settings_repr = repr(env.settings)
        client_repr = repr(env.bot.services.client)

    # the log, at DEBUG, with tracebacks
    formatter = logging.Formatter()
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        line = formatter.format(record)
        assert not leaks(line), f"{leaks(line)} in the log: {line[:300]}"

    # what Discord received: the token only as the bot's Authorization header, never the key
    discord_requests = env.discord.requests + env.discord.downloads
    authorized = 0
    for request in discord_requests:
        headers = dict(request.headers)
        auth = headers.pop("Authorization", None)
        if auth is not None:
            assert auth == f"Bot {DISCORD_TOKEN}", request.path
            authorized += 1
        parts = [request.path, request.query, headers, request.json]
        parts += [f.filename for f in request.files] + [f.data for f in request.files]
        for part in parts:
            assert not leaks(_text(part)), f"{leaks(_text(part))} sent to Discord {request.path}"
    assert authorized > 0
    assert all("Authorization" not in r.headers for r in env.discord.downloads)

    # what the Images API received: the key only as the Bearer header of API calls
    assert any(r.endpoint == "files" for r in env.api.requests)
    for request in env.api.requests:
        headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
        auth = request.headers.get("Authorization")
        if request.endpoint == "files":
            assert auth is None  # the storage host never sees the key
        else:
            assert auth == f"Bearer {TEST_API_KEY}"
        parts = [request.path, headers, request.json] + [p.data for p in request.parts]
        for part in parts:
            assert not leaks(_text(part)), f"{leaks(_text(part))} sent to the API {request.path}"

    assert not leaks(settings_repr) and not leaks(client_repr)
    assert bot_errors, "the session produced no BotError"
    for message in bot_errors:
        assert not leaks(message), message
        assert TEST_API_KEY[-4:] + "." not in message  # nor the masked fragment upstream sent


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x.png",
        "https://10.255.255.1/attachments/1/2/x.png",  # unroutable: a connect would hang
        "https://cdn.discordapp.com.evil.example/x.png",
        "file:///etc/passwd",
    ],
)
async def test_attachments_are_read_only_from_discord(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    requested: list[str] = []
    original = aiohttp.ClientSession._request

    async def recording(self: aiohttp.ClientSession, method: str, str_or_url: Any, **kw: Any):  # type: ignore[no-untyped-def]
        requested.append(str(str_or_url))
        return await original(self, method, str_or_url, **kw)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", recording)
    async with bot_env(tmp_path) as env:
        image = env.discord.add_attachment("x.png", png(), channel_id=env.harness.channel_id)
        image["url"] = image["proxy_url"] = url
        started = time.monotonic()
        record = await env.harness.slash("edit", {"prompt": "add a hat", "image": image})
        assert time.monotonic() - started < 1.0
        assert "I can only read images uploaded to Discord (x.png)" in record.text
        assert url not in requested
        assert env.api.image_requests == []
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert (job.status, job.error_kind) == ("failed", "bad_image")
        usage = await env.bot.services.quotas.member_usage(
            env.harness.guild_id, env.harness.user_id, ()
        )
        assert (usage.member.used, usage.in_flight) == (0, 0)
