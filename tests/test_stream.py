"""Live previews: streamed answers through the real client and service, against the fake API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable
from io import BytesIO
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bot.core import Core, open_core
from bot.errors import (
    BadResponse,
    ConfigError,
    ContentRejected,
    StreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.images.client import ImagesClient
from bot.images.params import Params
from bot.images.types import PartialImage
from bot.models import Catalog
from bot.service import JobSpec
from bot.settings import Settings
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer, render_image
from tests.fakes.openai_stream import PARTIAL_TOKENS
from tests.requests import edit_request, generate_request
from tests.test_client import make_input


class Collected:
    """An ``on_partial`` callback that keeps what it got, and when."""

    def __init__(self) -> None:
        self.partials: list[PartialImage] = []
        self.times: list[float] = []

    async def __call__(self, partial: PartialImage) -> None:
        self.times.append(asyncio.get_running_loop().time())
        self.partials.append(partial)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    fakes: list[FakeImagesServer] = []

    async def start(**kwargs: Any) -> FakeImagesServer:
        fake = FakeImagesServer(**kwargs)
        await fake.start()
        fakes.append(fake)
        return fake

    yield start
    for fake in fakes:
        await fake.close()


def client_for(session: aiohttp.ClientSession, fake: FakeImagesServer, **kw: Any) -> ImagesClient:
    kw = {"timeout": 10.0, "backoff": 0.01, **kw}
    return ImagesClient(session, base_url=fake.base_url, api_key=TEST_API_KEY, **kw)


def streamed(n_partials: int = 2, **fields: Any) -> Any:
    fields = {"model": "gpt-image-2", "prompt": "a lighthouse", **fields}
    return generate_request(partial_images=n_partials, **fields)


# --- the client -----------------------------------------------------------------------------


async def test_partials_arrive_in_order_before_the_result(serve, session) -> None:
    fake = await serve(partial_delay=0.05)
    plain = await client_for(session, fake).call(streamed(0, size="1536x1024"))
    got = Collected()
    result = await client_for(session, fake).call(streamed(3, size="1536x1024"), on_partial=got)

    sent = fake.image_requests[-1].json
    assert sent["stream"] is True and sent["partial_images"] == 3
    assert [p.index for p in got.partials] == [0, 1, 2]
    for partial in got.partials:
        assert partial.format == "png"
        assert partial.data == render_image("png", 1536, 1024, partial.index + 1, False, False)
    # The same result as without streaming: image, size, quality, format, and the usage of the
    # partials on top (what the provider bills).
    (image,) = result.images
    assert image.data == plain.images[0].data
    assert (image.width, image.height, image.format) == (1536, 1024, "png")
    assert (result.size, result.quality, result.output_format, result.background) == (
        plain.size, plain.quality, plain.output_format, plain.background,
    )  # fmt: skip
    assert result.usage is not None and plain.usage is not None
    assert result.usage.output_tokens == plain.usage.output_tokens + 3 * PARTIAL_TOKENS
    assert result.usage.input_tokens == plain.usage.input_tokens
    assert isinstance(result.created, int)


async def test_each_partial_is_handed_over_when_it_arrives(serve, session) -> None:
    fake = await serve(partial_delay=0.3)
    got = Collected()
    await client_for(session, fake).call(streamed(2), on_partial=got)
    returned = asyncio.get_running_loop().time()
    sent = [at for name, at in fake.sent_events if name.endswith("partial_image")]
    assert len(got.times) == len(sent) == 2
    for handed, written in zip(got.times, sent, strict=True):
        assert handed - written < 0.2  # not held back until the end
    assert returned - got.times[0] >= 0.45  # the first came a whole step before the result


async def test_a_slow_or_failing_callback_never_holds_the_result(serve, session, caplog) -> None:
    fake = await serve(partial_delay=0.05)
    calls: list[int] = []

    async def bad(partial: PartialImage) -> None:
        calls.append(partial.index)
        if partial.index == 0:
            raise RuntimeError("discord said no")
        await asyncio.sleep(3600)  # a preview upload that never finishes

    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="bot.images.stream"):
        result = await client_for(session, fake).call(streamed(3), on_partial=bad)
    assert len(result.images) == 1
    assert loop.time() - started < 3.5  # the grace for a preview under way, at most
    assert calls[0] == 0 and len(calls) >= 2
    assert "Showing partial image 0 failed" in caplog.text
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t.get_name() == "image-previews"]
    assert not leftover


async def test_edits_stream_through_the_form(serve, session) -> None:
    fake = await serve()
    got = Collected()
    req = edit_request("gpt-image-1.5", "a hat", [make_input(64, 64)], partial_images=1,
                       output_format="webp")  # fmt: skip
    result = await client_for(session, fake).call(req, on_partial=got)
    form = fake.image_requests[-1].form
    assert (form["stream"], form["partial_images"]) == ("true", "1")
    assert [(p.index, p.format) for p in got.partials] == [(0, "webp")]
    assert result.images[0].format == "webp"


async def test_without_a_callback_partials_are_not_even_decoded(serve, session) -> None:
    fake = await serve()
    result = await client_for(session, fake).call(streamed(2))
    assert len(result.images) == 1 and fake.image_requests[-1].json["stream"] is True


async def test_a_provider_answering_json_to_a_stream_delivers(serve, session) -> None:
    fake = await serve(stream_mode="json")
    got = Collected()
    result = await client_for(session, fake).call(streamed(2), on_partial=got)
    assert got.partials == [] and result.images[0].width == 1024
    assert result.usage is not None and result.usage.output_tokens > 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, '{"error": {"message": "Unknown parameter: \'stream\'.", "type": '
              '"invalid_request_error", "param": "stream", "code": "unknown_parameter"}}'),
        (400, '{"error": {"message": "stream is not supported", "type": "new_api_error", '
              '"code": "invalid_request"}}'),
        (200, '{"error": {"message": "stream is not supported", "type": "new_api_error"}}'),
        (400, '{"error": {"message": "litellm.UnsupportedParamsError: openai does not support '
              'parameters: [\'partial_images\']", "type": "invalid_request_error", "code": "400"}}'),
    ],
)  # fmt: skip
async def test_a_refused_stream_is_recognised(serve, session, status: int, body: str) -> None:
    fake = await serve()
    fake.fail_next("raw", status=status, body=body)
    with pytest.raises(StreamRefused) as info:
        await client_for(session, fake).call(streamed(2), on_partial=Collected())
    assert info.value.kind == "stream_refused"
    assert len(fake.image_requests) == 1  # never retried by the client itself


async def test_other_refusals_are_not_taken_for_stream_ones(serve, session) -> None:
    fake = await serve()
    fake.fail_next("invalid_request", param="size")
    with pytest.raises(Exception) as info:
        await client_for(session, fake).call(streamed(2), on_partial=Collected())
    assert not isinstance(info.value, StreamRefused) and info.value.param == "size"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "opts", "error", "words"),
    [
        ("sse_cut", {}, UpstreamUnavailable, "having trouble"),
        ("sse_error", {}, UpstreamUnavailable, "having trouble"),
        ("sse_error", {"code": "moderation_blocked", "type": "image_generation_user_error"},
         ContentRejected, "safety system"),
        ("sse_no_completed", {}, UpstreamUnavailable, "having trouble"),
    ],
)  # fmt: skip
async def test_a_broken_stream_is_a_member_facing_error(
    serve, session, kind: str, opts: dict[str, Any], error: type[Exception], words: str
) -> None:
    fake = await serve()
    fake.fail_next(kind, **opts)
    got = Collected()
    with pytest.raises(error, match=words) as info:
        await client_for(session, fake).call(streamed(2), on_partial=got)
    assert TEST_API_KEY not in str(info.value)
    assert len(fake.image_requests) == 1  # it may have been billed: not retried
    assert [p.index for p in got.partials] in ([], [0])  # a failed job's preview may be dropped


async def test_a_stream_that_goes_quiet_times_out(serve, session) -> None:
    fake = await serve()
    fake.fail_next("sse_stall", seconds=30)
    client = client_for(session, fake, timeout=20.0, stream_gap=0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await client.call(streamed(2), on_partial=Collected())
    assert time.monotonic() - started < 5


async def test_a_stream_is_held_to_the_download_cap(serve, session) -> None:
    fake = await serve()
    client = client_for(session, fake, max_download_bytes=4 * 1024)
    with pytest.raises(BadResponse, match="larger than the bot accepts"):
        await client.call(streamed(3), on_partial=Collected())


# --- the event loop stays free --------------------------------------------------------------


def _serve_noisy(conn: Connection) -> None:
    """In its own process: a fake sending multi-MB partials, so its work isn't in our loop."""

    async def main() -> None:
        async with FakeImagesServer(noisy=True, partial_delay=0.05) as fake:
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


@contextlib.contextmanager
def noisy_fake() -> Any:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_noisy, args=(theirs,))
    process.start()
    try:
        assert ours.poll(60), "the fake did not start"
        yield ours.recv()
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()


async def test_multi_megabyte_partials_do_not_block_the_loop(session) -> None:
    with noisy_fake() as base_url:
        client = ImagesClient(session, base_url=base_url, api_key=TEST_API_KEY, timeout=60)
        got = Collected()
        lags: list[float] = []

        async def tick() -> None:
            # CPU time of this thread between two turns of the loop: what a heartbeat waits on
            # because of the bot, not because other processes share the machine's cores.
            while True:
                before = time.thread_time()
                await asyncio.sleep(0.001)
                lags.append(time.thread_time() - before)

        await client.call(streamed(1), on_partial=Collected())  # connection and imports warm
        ticker = asyncio.create_task(tick())
        try:
            await client.call(streamed(3), on_partial=got)
        finally:
            ticker.cancel()
    sizes = [len(p.data) for p in got.partials]
    assert len(sizes) == 3 and min(sizes) > 2_500_000  # a real model's 1-3 MB partials
    assert Image.open(BytesIO(got.partials[2].data)).size == (1024, 1024)
    assert max(lags) < 0.020, f"the loop was held for {max(lags) * 1000:.1f} ms"


# --- the service ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def core_for(fake: FakeImagesServer, tmp_path: Path, **settings: Any) -> AsyncIterator[Core]:
    base = Settings(discord_token="", openai_api_key=TEST_API_KEY, openai_base_url=fake.base_url,
                    data_dir=tmp_path, max_retries=0)  # fmt: skip
    values = {**{f: getattr(base, f) for f in base.__dataclass_fields__}, **settings}
    async with open_core(Settings(**values), processes=0) as core:
        yield core


def job(model: str = "gpt-image-2", **params: Any) -> JobSpec:
    return JobSpec("generate", model, "a lighthouse", Params(**params))


async def test_the_service_streams_with_the_operators_setting(serve, tmp_path) -> None:
    fake = await serve()
    got = Collected()
    async with core_for(fake, tmp_path, partial_images=3) as core:
        assert core.service.partial_images == 3
        outcome = await core.service.run(job(), on_partial=got)
    assert fake.image_requests[-1].json["partial_images"] == 3
    assert outcome.requests[0].partial_images == 3
    assert [p.index for p in got.partials] == [0, 1, 2]


async def test_a_refusing_relay_is_asked_once_and_remembered(serve, tmp_path, caplog) -> None:
    fake = await serve(stream_mode="refuse")
    got = Collected()
    with caplog.at_level(logging.INFO, logger="bot.provider"):
        async with core_for(fake, tmp_path) as core:
            first = await core.service.run(job(), on_partial=got)
            assert not core.provider.streams("gpt-image-2")
            assert core.provider.streams("gpt-image-1.5")  # another model is still asked
            second = await core.service.run(job(), on_partial=got)
    assert fake.stream_refusals == 1
    sent = [r.json for r in fake.image_requests]
    assert [("stream" in body) for body in sent] == [True, False, False]
    assert len(first.result.images) == len(second.result.images) == 1
    assert first.requests[0].partial_images == 0  # what got the result
    assert got.partials == []
    assert caplog.text.count("refused to stream gpt-image-2") == 1


@pytest.mark.parametrize(
    ("settings", "model", "params", "callback"),
    [
        ({}, "dall-e-3", {}, True),  # dall-e never streams
        ({}, "dall-e-2", {}, True),
        ({}, "gpt-image-2", {"n": 2}, True),  # partial events say not which image they are of
        ({"partial_images": 0}, "gpt-image-2", {}, True),  # IMAGEBOT_PARTIAL_IMAGES=0
        ({}, "gpt-image-2", {}, False),  # nobody to show previews to: they'd be paid for nothing
    ],
)
async def test_when_the_service_does_not_stream(
    serve, tmp_path, settings: dict[str, Any], model: str, params: dict[str, Any], callback: bool
) -> None:
    fake = await serve()
    got = Collected()
    async with core_for(fake, tmp_path, **settings) as core:
        outcome = await core.service.run(job(model, **params), on_partial=got if callback else None)
    assert outcome.result.images
    for request in fake.image_requests:
        assert "stream" not in request.json and "partial_images" not in request.json
    assert got.partials == []


def test_the_catalog_says_which_models_stream(tmp_path) -> None:
    catalog = Catalog.load(None)
    streaming = {spec.name for spec in catalog if spec.streams}
    assert {"dall-e-2", "dall-e-3"}.isdisjoint(streaming)
    assert streaming == {spec.name for spec in catalog if not spec.name.startswith("dall-e")}
    # An operator's gateway model inherits it with ``like``, and can turn it off.
    own = tmp_path / "models.toml"
    own.write_text('[models.relay-image]\nlike = "gpt-image-1"\n[models.quiet]\n'
                   'like = "gpt-image-1"\nstreams = false\n')  # fmt: skip
    mine = Catalog.load(own)
    assert mine.get("relay-image").streams and not mine.get("quiet").streams
    own.write_text('[models.relay-image]\nlike = "gpt-image-1"\nstreams = "yes"\n')
    with pytest.raises(ConfigError, match=r"models\.relay-image\.streams: must be true or false"):
        Catalog.load(own)


@pytest.mark.parametrize(("raw", "value"), [(None, 2), ("0", 0), ("3", 3), (" 1 ", 1)])
def test_the_partial_images_setting(raw: str | None, value: int) -> None:
    env = {"OPENAI_API_KEY": "sk-x"} | ({} if raw is None else {"IMAGEBOT_PARTIAL_IMAGES": raw})
    assert Settings.from_env(env, require_discord=False).partial_images == value


@pytest.mark.parametrize("raw", ["4", "-1", "two"])
def test_the_partial_images_setting_refuses_what_the_api_would(raw: str) -> None:
    env = {"OPENAI_API_KEY": "sk-x", "IMAGEBOT_PARTIAL_IMAGES": raw}
    with pytest.raises(ConfigError, match="IMAGEBOT_PARTIAL_IMAGES"):
        Settings.from_env(env, require_discord=False)


async def test_an_assumed_model_streams_like_its_family(serve, tmp_path) -> None:
    fake = await serve(extra_models={"gpt-image-2.7-sunburst": "gpt-image-2.5"})
    async with core_for(fake, tmp_path) as core:
        assert core.provider.spec("gpt-image-2.7-sunburst") is not None
        assert core.provider.streams("gpt-image-2.7-sunburst")
        assert not core.provider.streams("no-such-model")


# --- the command line -----------------------------------------------------------------------


async def test_the_cli_writes_each_partial_next_to_the_result(serve, tmp_path) -> None:
    from tests.test_cli import run_cli

    fake = await serve()
    code, out, err = await run_cli(fake, tmp_path, "generate", "a fox", "--model", "gpt-image-2")
    assert code == 0, err
    assert len(list((tmp_path / "out").iterdir())) == 1  # previews only when asked for
    assert "stream" not in fake.image_requests[-1].json
    tmp_path = tmp_path / "again"
    tmp_path.mkdir()
    code, out, err = await run_cli(
        fake, tmp_path, "generate", "a fox", "--model", "gpt-image-2", "--partials"
    )
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 3
    result, *partials = sorted(files, key=len)
    assert [p.rsplit("-partial-", 1)[1] for p in partials] == ["0.jpeg", "1.jpeg"]  # previews
    assert all(p.startswith(result.removesuffix(".png") + "-partial-") for p in partials)
    assert out.count("partial ") == 2 and result in out
    sent = fake.image_requests[-1].json
    assert (sent["stream"], sent["partial_images"]) == (True, 2)  # the default setting


# --- framing ----------------------------------------------------------------------------------


def tiny_png(colour: tuple[int, int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def sse_body() -> bytes:
    """Every framing the SSE spec allows: comments, CRLF lines, data over several lines, [DONE]."""
    b64 = [base64.b64encode(tiny_png(c)).decode() for c in ((1, 2, 3), (4, 5, 6), (7, 8, 9))]
    usage = {"input_tokens": 5, "output_tokens": 372, "total_tokens": 377,
             "input_tokens_details": {"text_tokens": 5, "image_tokens": 0}}  # fmt: skip
    first = {"type": "image_generation.partial_image", "b64_json": b64[0], "partial_image_index": 0}
    done = {"type": "image_generation.completed", "b64_json": b64[2], "usage": usage,
            "size": "8x8", "quality": "low", "background": "opaque", "output_format": "png",
            "created_at": 1796083200}  # fmt: skip
    return (
        b": keep-alive\n\n"
        + b"event: image_generation.partial_image\r\ndata: "
        + json.dumps(first).encode()
        + b"\r\n\r\n"
        + b'data: {"type": "image_generation.partial_image",\ndata: "b64_json": "'
        + b64[1].encode()
        + b'", "partial_image_index": 1}\n\n'
        + b"event: image_generation.completed\ndata: "
        + json.dumps(done).encode()
        + b"\n\ndata: [DONE]\n\n"
    )


@pytest.mark.parametrize("piece", [1, 3, 7, 64, 100_000])
async def test_events_are_framed_whatever_the_chunks(session, piece: int) -> None:
    body = sse_body()

    async def handle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for at in range(0, len(body), piece):
            await resp.write(body[at : at + piece])
            await asyncio.sleep(0.0005 if piece < 64 else 0)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/images/generations", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        client = ImagesClient(session, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-t")
        got = Collected()
        result = await client.call(streamed(2), on_partial=got)
    finally:
        await runner.cleanup()
    assert [(p.index, p.data) for p in got.partials] == [
        (0, tiny_png((1, 2, 3))), (1, tiny_png((4, 5, 6))),
    ]  # fmt: skip
    assert result.images[0].data == tiny_png((7, 8, 9))
    assert (result.size, result.quality, result.created) == ("8x8", "low", 1796083200)
    assert result.usage is not None and result.usage.output_tokens == 372


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"message": "Unknown parameter: 'stream'.", "param": "stream"}, "stream_refused"),
        (400, {"message": "Invalid 'partial_images'", "param": "partial_images"}, "stream_refused"),
        (200, {"message": "stream is not supported", "type": "new_api_error"}, "stream_refused"),
        (500, {"message": "stream is not supported", "type": "server_error"}, "upstream_down"),
        (429, {"message": "Rate limit reached", "param": "stream"}, "rate_limited"),
        (400, {"message": "Invalid value for 'size'", "param": "size"}, "invalid_request"),
    ],
)
def test_only_a_refusal_of_streaming_is_a_stream_refusal(
    status: int, error: dict[str, str], kind: str
) -> None:
    from bot.images.errors_map import map_error

    fields = {"message": None, "type": None, "param": None, "code": None, **error}
    assert map_error(status, fields).kind == kind
