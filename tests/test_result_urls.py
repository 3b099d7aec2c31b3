"""Result URLs the API names are fetched only over http(s), never from link-local or metadata hosts.

A local server plays an Images API (on 127.0.0.1, so internal results are allowed) that answers
with whatever result URL the test chooses; every request the bot's session makes is recorded.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bot.errors import BadResponse
from bot.images import urls
from bot.images.client import ImagesClient
from tests.requests import generate_request

KEY = "sk-test-SECRET-urls"
REQUEST = generate_request(model="dall-e-3", prompt="a fox", response_format="url")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(out, "PNG")
    return out.getvalue()


class ResultServer:
    """POST /v1/images/generations answers with ``result_url``; /files/* and /redirect serve it."""

    def __init__(self) -> None:
        self.result_url = ""
        self.redirect_to = ""
        self.hosts: list[str] = []  # the Host header of each file request
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/images/generations", self._generate)
        app.router.add_get("/files/ok.png", self._file)
        app.router.add_get("/redirect", self._redirect)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _generate(self, request: web.Request) -> web.Response:
        return web.json_response({"created": 1, "data": [{"url": self.result_url}]})

    async def _file(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers["Host"])
        return web.Response(body=png(), content_type="image/png")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.redirect_to)


@pytest.fixture
async def server() -> AsyncIterator[ResultServer]:
    result = ResultServer()
    await result.start()
    yield result
    assert result._runner is not None
    await result._runner.cleanup()


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL the bot's aiohttp sessions asked for."""
    seen: list[str] = []
    original = aiohttp.ClientSession._request

    async def recording(self: aiohttp.ClientSession, method: str, url: Any, **kw: Any) -> Any:
        seen.append(str(url))
        return await original(self, method, url, **kw)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", recording)
    return seen


async def generate(server: ResultServer) -> Any:
    async with aiohttp.ClientSession() as session:
        client = ImagesClient(session, base_url=server.base_url, api_key=KEY, timeout=5.0)
        return await client.generate(REQUEST)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://169.254.170.2/v2/credentials",  # ECS task credentials: link-local too
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/x.png",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./computeMetadata/v1/",
        "http://100.100.100.200/latest/meta-data/",
        "http://0.0.0.0:80/x.png",
    ],
)
async def test_unsafe_result_urls_are_never_requested(
    server: ResultServer, requested: list[str], url: str
) -> None:
    server.result_url = url
    started = time.monotonic()
    with pytest.raises(BadResponse) as caught:
        await generate(server)
    assert time.monotonic() - started < 1.0  # refused, not timed out
    assert caught.value.code == "unsafe_url"
    assert "won't fetch" in str(caught.value)
    assert requested == [server.base_url + "/images/generations"]


async def test_a_redirect_to_the_metadata_service_is_refused(
    server: ResultServer, requested: list[str]
) -> None:
    server.result_url = server.url("/redirect")
    server.redirect_to = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(BadResponse, match="won't fetch"):
        await generate(server)
    assert server.redirect_to not in requested
    assert requested[-1] == server.url("/redirect")


async def test_a_loopback_api_may_serve_its_results_from_loopback_through_redirects(
    server: ResultServer, requested: list[str]
) -> None:
    server.result_url = server.url("/redirect")
    server.redirect_to = "/files/ok.png"
    result = await generate(server)
    assert [(i.width, i.height, i.format) for i in result.images] == [(64, 64, "png")]
    assert requested[-1] == server.url("/files/ok.png")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x.png", "http://10.1.2.3/x.png", "http://localhost/x.png", "http://[::1]/"],
)
async def test_a_public_api_may_not_point_at_internal_hosts(url: str) -> None:
    # "localhost" is refused through its resolved address, not its name.
    internal_ok = await urls.is_internal("https://8.8.8.8/v1")
    assert internal_ok is False
    with pytest.raises(BadResponse, match="won't fetch"):
        await urls.check_result_url(url, internal_ok=internal_ok)
    for other in ("file:///etc/passwd", "ftp://8.8.4.4/x.png", "gopher://8.8.4.4/"):
        with pytest.raises(BadResponse, match="won't fetch"):
            await urls.check_result_url(other, internal_ok=True)
    assert str(await urls.check_result_url("https://8.8.4.4/x.png", internal_ok=False)) == "8.8.4.4"


async def test_the_connection_goes_to_the_address_that_was_checked(
    server: ResultServer, monkeypatch: pytest.MonkeyPatch, requested: list[str]
) -> None:
    # The name is looked up once, for the check; aiohttp then connects to that address (it could
    # not resolve this name itself), keeping the name in the Host header.
    looked_up: list[str] = []

    async def resolve(host: str, port: int) -> list[Any]:
        looked_up.append(host)
        return [urls.ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(urls, "_addresses", resolve)
    url = f"http://files.gateway.invalid:{server.port}/files/ok.png"
    async with aiohttp.ClientSession() as session:
        limits = aiohttp.ClientTimeout(5)
        async with urls.fetch_result(session, url, server.base_url, limits) as resp:
            assert resp.status == 200 and await resp.read() == png()
    assert looked_up == ["127.0.0.1", "files.gateway.invalid"]
    assert server.hosts == [f"files.gateway.invalid:{server.port}"]
    assert requested == [server.url("/files/ok.png")]
