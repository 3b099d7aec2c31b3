"""ImagesClient against a local server that speaks the OpenAI Images contract (real aiohttp)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import socket
import time
import traceback
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bot.errors import (
    APIError,
    AuthenticationFailed,
    BadResponse,
    ContentRejected,
    EndpointMissing,
    InvalidRequest,
    ModelUnavailable,
    QuotaExhausted,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.images.client import ImagesClient
from bot.images.results import Encoded, cut_images, parse_result
from bot.images.types import GeneratedImage, InputImage
from tests.fakes.openai_server import FakeImagesServer
from tests.requests import edit_request, generate_request, variation_request

KEY = "sk-test-SECRET-123"
SCHEMAS = json.loads(
    (Path(__file__).parent / "data/openai_images_response_schemas.json").read_text()
)


def make_input(
    w: int, h: int, fmt: str = "png", mode: str = "RGBA", name: str = "in"
) -> InputImage:
    out = BytesIO()
    Image.new(mode, (w, h), (10, 200, 30, 0)[: len(mode)]).save(out, fmt.upper())
    return InputImage(out.getvalue(), f"{name}.{fmt}", fmt, w, h)  # type: ignore[arg-type]


def decoded(data: bytes) -> Image.Image:
    im = Image.open(BytesIO(data))
    im.load()  # a full decode: the bytes are a whole image, not just a header
    return im


def assert_safe(err: BaseException) -> None:
    """No key, no upstream text in what a member or a log could see."""
    shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
    assert KEY not in shown and "SECRET" not in shown


@pytest.fixture
async def fake() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer(api_key=KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make_client(session: aiohttp.ClientSession, base_url: str, **kw: Any) -> ImagesClient:
    kw = {"timeout": 5.0, "backoff": 0.01, "rate_limit_backoff": 0.05, **kw}
    return ImagesClient(session, base_url=base_url, api_key=KEY, **kw)


@pytest.fixture
def client(fake: FakeImagesServer, session: aiohttp.ClientSession) -> ImagesClient:
    return make_client(session, fake.base_url)


GPT = generate_request(model="gpt-image-1", prompt="a red fox")

# --- happy paths -------------------------------------------------------------------------------


async def test_generate_sends_only_set_fields_and_decodes_images(client, fake) -> None:
    req = generate_request(
        model="gpt-image-1", prompt="a fox", n=2, size="1536x1024", quality="high",
        background="opaque", output_format="webp", output_compression=80,
    )  # fmt: skip
    result = await client.generate(req)

    (sent,) = fake.image_requests
    assert sent.path == "/v1/images/generations"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.json == {
        "model": "gpt-image-1", "prompt": "a fox", "n": 2, "size": "1536x1024",
        "quality": "high", "background": "opaque", "output_format": "webp",
        "output_compression": 80,
    }  # fmt: skip
    assert len(result.images) == 2
    for image in result.images:
        assert (image.format, image.width, image.height) == ("webp", 1536, 1024)
        assert decoded(image.data).size == (1536, 1024)
        assert decoded(image.data).format == "WEBP"
    assert result.images[0].data != result.images[1].data
    assert (result.model, result.size, result.quality) == ("gpt-image-1", "1536x1024", "high")
    assert (result.output_format, result.background) == ("webp", "opaque")
    assert isinstance(result.created, int)
    assert result.usage is not None and result.usage.output_tokens > 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
async def test_generate_output_formats(client, fmt: str, pil: str) -> None:
    result = await client.generate(
        generate_request(model="gpt-image-1.5", prompt="p", size="1024x1536", output_format=fmt)
    )
    (image,) = result.images
    assert (image.format, image.width, image.height) == (fmt, 1024, 1536)
    assert image.mime == f"image/{fmt}"
    assert decoded(image.data).format == pil


async def test_dalle3_url_is_downloaded_without_the_key(client, fake) -> None:
    req = generate_request(model="dall-e-3", prompt="a lighthouse", size="1792x1024", style="vivid")
    result = await client.generate(req)

    (image,) = result.images
    assert (image.format, image.width, image.height) == ("png", 1792, 1024)
    assert image.revised_prompt == "Revised: a lighthouse"
    assert result.usage is None
    downloads = [r for r in fake.requests if r.endpoint == "files"]
    assert len(downloads) == 1
    assert "Authorization" not in downloads[0].headers


async def test_dalle2_b64_json_needs_no_download(client, fake) -> None:
    req = generate_request(
        model="dall-e-2", prompt="p", n=3, size="256x256", response_format="b64_json"
    )
    result = await client.generate(req)
    assert [(i.width, i.height) for i in result.images] == [(256, 256)] * 3
    assert all(r.endpoint != "files" for r in fake.requests)


async def test_edit_one_image_is_sent_as_image_with_its_mime(client, fake) -> None:
    photo = make_input(300, 200, "jpeg", "RGB", "photo")
    result = await client.edit(
        edit_request(model="gpt-image-1", prompt="add a hat", images=(photo,), quality="low")
    )

    (sent,) = fake.image_requests
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert sent.form == {"model": "gpt-image-1", "prompt": "add a hat", "n": "1", "quality": "low"}
    (part,) = sent.files()
    assert (part.name, part.filename, part.content_type) == ("image", "photo.jpeg", "image/jpeg")
    assert part.data == photo.data
    assert result.usage is not None and result.usage.input_image_tokens > 0
    assert (result.images[0].width, result.images[0].height) == (1024, 1024)


async def test_edit_several_images_are_repeated_image_brackets_plus_png_mask(client, fake) -> None:
    images = (
        make_input(64, 64, "png", name="a"),
        make_input(64, 64, "webp", "RGB", "b"),
        make_input(64, 64, "jpeg", "RGB", "c"),
    )
    mask = make_input(64, 64, "png", name="mask")
    req = edit_request(model="gpt-image-1", prompt="combine", images=images, mask=mask, n=2)
    result = await client.edit(req)

    sent = fake.image_requests[0]
    assert sent.files("image") == []
    parts = sent.files("image[]")
    assert [p.content_type for p in parts] == ["image/png", "image/webp", "image/jpeg"]
    assert [p.filename for p in parts] == ["a.png", "b.webp", "c.jpeg"]
    (mask_part,) = sent.files("mask")
    assert (mask_part.content_type, mask_part.data) == ("image/png", mask.data)
    assert len(result.images) == 2


async def test_dalle2_edit_square_png_with_mask(client, fake) -> None:
    img, mask = make_input(256, 256), make_input(256, 256, name="mask")
    req = edit_request(model="dall-e-2", prompt="p", images=(img,), mask=mask, size="512x512")
    result = await client.edit(req)
    assert (result.images[0].width, result.images[0].height) == (512, 512)
    assert [p.name for p in fake.image_requests[0].files()] == ["image", "mask"]


async def test_variation(client, fake) -> None:
    req = variation_request(
        model="dall-e-2",
        image=make_input(128, 128),
        n=2,
        size="512x512",
        response_format="b64_json",
    )
    result = await client.create_variation(req)
    sent = fake.image_requests[0]
    assert sent.path == "/v1/images/variations"
    assert sent.form == {
        "model": "dall-e-2",
        "n": "2",
        "size": "512x512",
        "response_format": "b64_json",
    }
    assert [(p.name, p.content_type) for p in sent.files()] == [("image", "image/png")]
    assert [(i.format, i.width) for i in result.images] == [("png", 512), ("png", 512)]


async def test_list_models(client, fake) -> None:
    models = await client.list_models()
    assert models is not None and {"gpt-image-1", "dall-e-2"} <= {m.id for m in models}
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


async def test_list_models_is_none_without_the_endpoint(session) -> None:
    async with FakeImagesServer(api_key=KEY, models_endpoint=False) as fake:
        assert await make_client(session, fake.base_url).list_models() is None


async def test_path_prefix_base_url_and_trailing_slash(session) -> None:
    async with FakeImagesServer(api_key=KEY, prefix="/openai/v1") as fake:
        client = make_client(session, fake.base_url + "/")
        assert fake.base_url.endswith("/openai/v1")
        result = await client.generate(GPT)
        assert fake.image_requests[0].path == "/openai/v1/images/generations"
        assert len(result.images) == 1


@pytest.mark.parametrize("kind", ["charset", "plain_json", "gateway_url", "no_usage"])
async def test_gateway_quirks_are_tolerated(client, fake, kind: str) -> None:
    fake.fail_next(kind)
    result = await client.generate(GPT)
    assert (result.images[0].format, result.images[0].width) == ("png", 1024)
    assert (result.usage is None) == (kind == "no_usage")
    assert any(r.endpoint == "files" for r in fake.requests) == (kind == "gateway_url")


# --- errors ------------------------------------------------------------------------------------

ERROR_CASES = [
    ("content_policy_violation", ContentRejected, "safety system rejected"),
    ("moderation_blocked", ContentRejected, "safety system rejected"),
    ("safety_user_error", ContentRejected, "safety system rejected"),
    ("invalid_api_key", AuthenticationFailed, "API key was rejected"),
    ("forbidden", AuthenticationFailed, "API key was rejected"),
    ("insufficient_quota", QuotaExhausted, "credits have run out"),
    ("billing_hard_limit", QuotaExhausted, "credits have run out"),
    ("not_found", ModelUnavailable, "does not offer `gpt-image-1`"),
    ("server_error", UpstreamUnavailable, "having trouble"),
    ("truncated_json", UpstreamUnavailable, "having trouble"),
    ("reset", UpstreamUnavailable, "having trouble"),
    ("invalid_json", BadResponse, "could not read"),
    ("truncated_b64", BadResponse, "not a usable image"),
    ("not_image", BadResponse, "not a usable image"),
    ("no_data", BadResponse, "returned no images"),
    ("url_403", BadResponse, "could not be downloaded"),
]


@pytest.mark.parametrize(("kind", "error", "text"), ERROR_CASES)
async def test_failures_map_to_typed_safe_errors_without_retry(
    client, fake, kind: str, error: type[APIError], text: str
) -> None:
    fake.fail_next(kind, message=f"upstream safety text with {KEY}")
    with pytest.raises(error) as info:
        await client.generate(GPT)
    assert text in str(info.value)
    assert "upstream" not in str(info.value)
    assert_safe(info.value)
    assert len(fake.image_requests) == 1  # not retried: could bill twice, or pointless


async def test_invalid_request_names_the_param_only(client, fake) -> None:
    fake.fail_next("invalid_request", param="size", message="size 13x13 is <b>bad</b>")
    with pytest.raises(InvalidRequest) as info:
        await client.generate(GPT)
    assert info.value.param == "size" and "`size`" in str(info.value)
    assert "13x13" not in str(info.value)


SQUARE, WIDE, JPEG = make_input(64, 64), make_input(64, 32), make_input(64, 64, "jpeg", "RGB")
RULE_CASES = [
    (generate_request("gpt-image-1", "p", response_format="b64_json"), "response_format"),
    (generate_request("dall-e-3", "p", n=2), "n"),
    (generate_request("dall-e-2", "p", size="1536x1024"), "size"),
    (generate_request("dall-e-2", "p", output_format="webp"), "output_format"),
    (
        generate_request("gpt-image-1", "p", background="transparent", output_format="jpeg"),
        "background",
    ),
    (
        generate_request("gpt-image-1", "p", output_format="png", output_compression=50),
        "output_compression",
    ),
    (variation_request("gpt-image-1", SQUARE), "model"),
    (edit_request("dall-e-3", "p", (SQUARE,)), "model"),
    (edit_request("dall-e-2", "p", (WIDE,)), "image"),
    (edit_request("dall-e-2", "p", (JPEG,)), "image"),
    (edit_request("dall-e-2", "p", (SQUARE, SQUARE)), "image"),
    (edit_request("gpt-image-1", "p", (SQUARE,), mask=make_input(32, 32)), "mask"),
]


@pytest.mark.parametrize(("req", "param"), RULE_CASES)
async def test_fake_enforces_model_rules_and_client_names_the_param(
    client, fake, req, param
) -> None:
    call = {"generate": client.generate, "edit": client.edit}.get(req.operation)
    with pytest.raises(InvalidRequest) as info:
        await (call or client.create_variation)(req)
    assert (info.value.status, info.value.param) == (400, param)
    assert f"`{param}`" in str(info.value)


async def test_fake_rejects_octet_stream_and_missing_key_in_spec_shape(fake, session) -> None:
    form = aiohttp.FormData({"model": "gpt-image-1", "prompt": "p"})
    form.add_field(
        "image", make_input(8, 8).data, filename="x.png", content_type="application/octet-stream"
    )
    url = fake.base_url + "/images/edits"
    async with session.post(url, data=form, headers={"Authorization": f"Bearer {KEY}"}) as resp:
        body = await resp.json()
        assert resp.status == 400
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    check_schema(body, "ErrorResponse")
    assert (body["error"]["param"], body["error"]["type"]) == ("image", "invalid_request_error")
    async with session.post(url, data=aiohttp.FormData({"prompt": "p"})) as resp:
        assert resp.status == 401
        check_schema(await resp.json(), "ErrorResponse")


async def test_wrong_key_is_auth_failed_and_never_shown(fake, session) -> None:
    client = ImagesClient(session, base_url=fake.base_url, api_key="sk-wrong-SECRET-999")
    with pytest.raises(AuthenticationFailed) as info:
        await client.generate(GPT)
    assert "SECRET" not in str(info.value) and "sk-wrong" not in repr(client)


# --- retries, timeouts, caps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "minimum"),
    [({"retry_after": 0.2}, 0.2), ({"retry_after_ms": 150}, 0.15)],
)
async def test_rate_limit_is_retried_after_retry_after(
    fake, session, caplog, opts, minimum
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(session, fake.base_url)
    fake.fail_next("rate_limit", **opts)
    started = time.monotonic()
    result = await client.generate(GPT)
    elapsed = time.monotonic() - started
    assert minimum <= elapsed < minimum + 1.0
    assert len(fake.image_requests) == 2 and len(result.images) == 1
    assert "retry 1/2" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("rate_limit", RateLimited),
        ("unavailable", UpstreamUnavailable),
        ("non_json", UpstreamUnavailable),
    ],
)
async def test_retries_stop_after_max_retries(client, fake, kind, error) -> None:
    fake.fail_always(kind, retry_after=0.01)
    with pytest.raises(error) as info:
        await client.generate(GPT)
    assert len(fake.image_requests) == 3  # one try + max_retries=2
    assert "Bad Gateway" not in str(info.value) and "overloaded" not in str(info.value)
    assert_safe(info.value)
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == pytest.approx(0.01)


async def test_one_503_then_success(client, fake) -> None:
    fake.fail_next("unavailable")
    assert (
        len((await client.edit(edit_request("gpt-image-1", "p", (make_input(8, 8),)))).images) == 1
    )
    assert len(fake.image_requests) == 2
    assert fake.image_requests[0].parts == fake.image_requests[1].parts  # form rebuilt, same bytes


async def test_connection_refused_is_retried_then_unavailable(session, caplog) -> None:
    caplog.set_level(logging.INFO)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # However long it takes, a refused connection never reached a gateway that could retry it.
    client = make_client(session, f"http://127.0.0.1:{port}/v1", slow_attempt=0.0)
    with pytest.raises(UpstreamUnavailable) as info:
        await client.generate(GPT)
    assert info.value.code == "connect_failed"
    assert caplog.text.count("retry") == 2
    assert_safe(info.value)


async def test_timeout_is_not_retried(fake, session) -> None:
    client = make_client(session, fake.base_url, timeout=0.3)
    fake.fail_next("slow", seconds=5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as info:
        await client.generate(GPT)
    assert time.monotonic() - started < 1.5
    assert len(fake.image_requests) == 1
    assert_safe(info.value)


async def test_latency_applies_to_every_image_request(client, fake) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    await client.generate(GPT)
    assert time.monotonic() - started >= 0.2


async def test_hung_result_url_is_a_bad_response(fake, session) -> None:
    fake.fail_next("url_hang")
    with pytest.raises(BadResponse, match="too long to download"):
        await make_client(session, fake.base_url, timeout=0.3).generate(GPT)


@pytest.mark.parametrize("chunked", [False, True])
async def test_download_cap_by_header_and_while_streaming(fake, session, chunked: bool) -> None:
    fake.fail_next("gateway_url", chunked=chunked)
    client = make_client(session, fake.base_url, max_download_bytes=2000)
    with pytest.raises(BadResponse, match="larger than the bot accepts"):
        await client.generate(generate_request(model="gpt-image-1", prompt="p", size="1024x1024"))


async def test_oversized_json_body_is_refused(fake, session) -> None:
    client = make_client(session, fake.base_url, max_download_bytes=1000)
    with pytest.raises(BadResponse, match="larger than the bot accepts"):
        await client.generate(GPT)


def test_bad_settings_do_not_echo_the_key() -> None:
    with pytest.raises(ValueError) as info:
        ImagesClient(None, base_url="https://x/v1", api_key=KEY + "\n")  # type: ignore[arg-type]
    assert KEY not in str(info.value)
    with pytest.raises(ValueError):
        ImagesClient(None, base_url="ftp://x", api_key=KEY)  # type: ignore[arg-type]


# --- gateways and relays: meanings end to end, waits bounded --------------------------------------

DATA = Path(__file__).parent / "data"
RECORDED = [
    pytest.param(case, id=f"{source}: {case['case']}")
    for source, cases in [
        ("litellm", json.loads((DATA / "litellm_errors.json").read_text())["cases"]),
        ("relay", json.loads((DATA / "provider_errors.json").read_text())["relays"]),
    ]
    for case in cases
]
SHOWN = {
    "content_rejected": "safety system rejected",
    "billing": "credits have run out",
    "auth": "API key was rejected",
    "model_unavailable": "does not offer `gpt-image-1`",
    "no_endpoint": "does not offer this operation",
    "rate_limited": "busy right now",
    "upstream_down": "having trouble",
    "invalid_request": "refused this request",
}


@contextlib.asynccontextmanager
async def replaying(status: int, headers: dict[str, str], body: Any) -> AsyncIterator[Any]:
    """A tiny server answering every request with one recorded answer; yields (base_url, hits)."""
    hits: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        hits.append(request.path)
        raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        plain = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "application/json")
        return web.Response(status=status, body=raw.encode(), headers=plain, content_type=ctype)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1", hits
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("case", RECORDED)
async def test_recorded_gateway_answers_reach_the_member_with_their_meaning(session, case) -> None:
    expect = case["expect"]
    async with replaying(case["status"], case["headers"], case["body"]) as (base_url, hits):
        client = make_client(session, base_url, max_retries=2, max_wait=1.0)
        started = time.monotonic()
        with pytest.raises(APIError) as info:
            await client.generate(GPT)
    err = info.value
    assert err.kind == expect["kind"]
    assert SHOWN[err.kind] in str(err)
    assert "litellm" not in str(err).lower() and "额度" not in str(err)
    # Retried only when trying again is harmless and could help: a 429 with no wait that would
    # outlast max_wait, or a 502/503 turned away before any work. Never quota, keys, safety...
    retried = (err.kind == "rate_limited" and expect.get("retry_after") is None) or (
        err.kind == "upstream_down" and case["status"] in (502, 503)
    )
    assert len(hits) == (3 if retried else 1)
    assert time.monotonic() - started < 1.0
    if isinstance(err, ModelUnavailable):
        assert err.model == "gpt-image-1"


async def test_variations_on_a_gateway_without_the_route(session) -> None:
    async with replaying(404, {}, {"detail": "Not Found"}) as (base_url, hits):
        client = make_client(session, base_url, max_retries=3)
        with pytest.raises(EndpointMissing) as info:
            await client.create_variation(variation_request("dall-e-2", make_input(64, 64)))
    assert hits == ["/v1/images/variations"]
    assert "does not offer this operation" in str(info.value)
    assert "Not Found" not in str(info.value)


@pytest.mark.parametrize(
    ("kind", "opts", "error", "text"),
    [
        (
            "invalid_request",
            {"code": "400", "message": "litellm.BadRequestError: litellm.ContentPolicyViolation"
             "Error: ContentPolicyViolationError: OpenAIException - Your request was rejected as "
             "a result of our safety system.\nmodel=gpt-image-1. content_policy_fallback=None."},
            ContentRejected, "safety system rejected",
        ),
        (
            "moderation_blocked",
            {"code": "400", "message": "litellm.BadRequestError: OpenAIException - Your request "
             "was rejected by the safety system. Request ID req_9."},
            ContentRejected, "safety system rejected",
        ),
        (
            "rate_limit",
            {"type": "throttling_error", "code": "429", "message": "litellm.RateLimitError: "
             "OpenAIException - You exceeded your current quota, please check your plan."},
            QuotaExhausted, "credits have run out",
        ),
        (
            "invalid_request",
            {"type": "no_db_connection", "code": "400", "message": "No connected db."},
            AuthenticationFailed, "API key was rejected",
        ),
        (
            "invalid_request",
            {"code": "400", "message": "400: {'error': '/image/generations: Invalid model name "
             "passed in model=gpt-image-1. Call `/v1/models` to view available models.'}"},
            ModelUnavailable, "does not offer `gpt-image-1`",
        ),
        (
            "not_found",
            {"code": None, "message": "Invalid URL (POST /v1/images/generations)"},
            EndpointMissing, "does not offer this operation",
        ),
        (
            "insufficient_quota",
            {"status": 200, "type": "new_api_error", "code": "insufficient_user_quota",
             "message": "用户额度不足, 剩余额度: $0.01"},
            QuotaExhausted, "credits have run out",
        ),
        (
            "not_found",
            {"status": 200, "type": "new_api_error", "message": "当前分组 default 下对于模型 "
             "gpt-image-1 无可用渠道"},
            ModelUnavailable, "does not offer `gpt-image-1`",
        ),
    ],
)  # fmt: skip
async def test_gateway_wording_is_understood_and_never_retried(
    fake, session, kind: str, opts: dict[str, Any], error: type[APIError], text: str
) -> None:
    fake.fail_always(kind, **opts)
    client = make_client(session, fake.base_url, max_retries=3)
    with pytest.raises(error) as info:
        await client.generate(GPT)
    assert text in str(info.value)
    assert len(fake.image_requests) == 1
    assert "litellm" not in str(info.value).lower() and "Request ID" not in str(info.value)


async def test_a_rate_limit_inside_a_200_body_is_retried(fake, session) -> None:
    fake.fail_next("rate_limit", status=200, retry_after_ms=50)
    result = await make_client(session, fake.base_url).generate(GPT)
    assert len(result.images) == 1 and len(fake.image_requests) == 2


async def test_an_unrecognised_error_in_a_200_body_is_not_no_images(fake, session) -> None:
    fake.fail_always("server_error", status=200, type="new_api_error", code="do_request_failed")
    with pytest.raises(UpstreamUnavailable, match="having trouble"):
        await make_client(session, fake.base_url).generate(GPT)
    assert len(fake.image_requests) == 1  # may have billed: never retried


async def test_a_429_without_a_wait_backs_off_long_not_half_a_second(fake, session) -> None:
    fake.fail_next("rate_limit", type="throttling_error", code="429")
    client = make_client(session, fake.base_url, rate_limit_backoff=0.4, backoff=0.01)
    started = time.monotonic()
    result = await client.generate(GPT)
    assert 0.4 <= time.monotonic() - started < 1.2
    assert len(result.images) == 1 and len(fake.image_requests) == 2


@pytest.mark.parametrize(
    "opts",
    [
        {"type": "all_deployments_in_cooldown", "code": "429", "message": "No deployments "
         "available for selected model, Try again in 0.2 seconds. Passed model=gpt-image-1."},
        {"type": "throttling_error", "code": "429", "headers": {"llm_provider-retry-after-ms": "200"}},
        {"type": "throttling_error", "code": "429", "headers": {"llm_provider-retry-after": "0.2"}},
    ],
)  # fmt: skip
async def test_litellm_cooldowns_and_relayed_waits_are_honoured(fake, session, opts) -> None:
    fake.fail_next("rate_limit", **opts)
    client = make_client(session, fake.base_url, rate_limit_backoff=5.0)  # would fail the bound
    started = time.monotonic()
    result = await client.generate(GPT)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert len(result.images) == 1 and len(fake.image_requests) == 2


async def test_a_wait_beyond_max_wait_is_not_made_and_the_member_hears_when(fake, session) -> None:
    fake.fail_always("rate_limit", retry_after=5)
    client = make_client(session, fake.base_url, max_retries=3, max_wait=1.0)
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        await client.generate(GPT)
    assert time.monotonic() - started < 0.5
    assert len(fake.image_requests) == 1
    assert "try again in 5 s" in str(info.value) and info.value.retry_after == 5


async def test_max_wait_bounds_the_whole_wait_across_attempts(fake, session) -> None:
    fake.fail_always("rate_limit", retry_after=0.2)
    client = make_client(session, fake.base_url, max_retries=10, max_wait=0.5)
    started = time.monotonic()
    with pytest.raises(RateLimited):
        await client.generate(GPT)
    assert time.monotonic() - started < 0.5 + 0.3
    assert len(fake.image_requests) == 3  # at 0, 0.2 and 0.4 s; one at 0.6 s would pass 0.5 s


@pytest.mark.parametrize(("kind", "error"), [("rate_limit", RateLimited),
                                             ("unavailable", UpstreamUnavailable)])  # fmt: skip
@pytest.mark.parametrize(("slow_attempt", "calls"), [(0.2, 1), (5.0, 3)])
async def test_a_slow_failure_was_retried_by_the_gateway_already(
    fake, session, kind, error, slow_attempt: float, calls: int
) -> None:
    fake.latency = 0.25  # LiteLLM answers a 429 only after its own retries
    fake.fail_always(kind, retry_after=0)
    client = make_client(session, fake.base_url, slow_attempt=slow_attempt)
    with pytest.raises(error):
        await client.generate(GPT)
    assert len(fake.image_requests) == calls


# --- the fake answers in the spec's shapes -------------------------------------------------------


def check_schema(value: Any, name: str) -> None:
    """A small subset of JSON Schema: $ref, anyOf, type, enum, required, properties, items."""
    schema = SCHEMAS["schemas"][name]
    _check(value, schema, name)


def _check(value: Any, schema: dict[str, Any], where: str) -> None:
    if "$ref" in schema:
        _check(value, SCHEMAS["schemas"][schema["$ref"].rsplit("/", 1)[1]], where)
        return
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _check(value, option, where)
                return
            except AssertionError as exc:
                errors.append(exc)
        raise AssertionError(f"{where}: {value!r} matches no anyOf option: {errors}")
    types = {"object": dict, "array": list, "string": str, "integer": int, "null": type(None)}
    if "type" in schema:
        assert isinstance(value, types[schema["type"]]), f"{where}: {value!r} not {schema['type']}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    for key in schema.get("required", []):
        assert key in value, f"{where}: missing {key}"
    for key, sub in schema.get("properties", {}).items():
        if key in value:
            _check(value[key], sub, f"{where}.{key}")
    if "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]")


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-image-1", "prompt": "p", "quality": "auto"},
        {"model": "dall-e-3", "prompt": "p", "response_format": "b64_json"},
        {"model": "dall-e-2", "prompt": "p"},
    ],
)
async def test_fake_success_bodies_match_the_spec(fake, session, body) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with session.post(fake.base_url + "/images/generations", json=body, headers=headers) as r:
        payload = await r.json()
    check_schema(payload, "ImagesResponse")
    assert ("usage" in payload) == body["model"].startswith("gpt-image")
    async with session.get(fake.base_url + "/models", headers=headers) as r:
        check_schema(await r.json(), "ListModelsResponse")


@pytest.mark.parametrize(
    "kind", ["rate_limit", "insufficient_quota", "server_error", "moderation_blocked"]
)
async def test_fake_error_bodies_match_the_spec(fake, session, kind: str) -> None:
    fake.fail_next(kind, retry_after=3)
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "gpt-image-1", "prompt": "p"}
    async with session.post(fake.base_url + "/images/generations", json=body, headers=headers) as r:
        check_schema(await r.json(), "ErrorResponse")
        assert r.headers["Retry-After"] == "3"


# --- multi-MB answers: base64 cut out of the JSON and decoded on the loop -------------------------


@pytest.fixture
async def noisy_fake() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer(api_key=KEY, noisy=True) as server:
        yield server


async def test_multi_mb_answers_decode_to_whole_images(noisy_fake, session) -> None:
    client = make_client(session, noisy_fake.base_url)
    req = generate_request(model="gpt-image-1", prompt="a fox", n=2, size="1024x1024")

    result = await client.generate(req)

    assert [len(image.data) > 1_000_000 for image in result.images] == [True, True]
    assert [decoded(image.data).size for image in result.images] == [(1024, 1024)] * 2
    assert result.images[0].data != result.images[1].data
    assert result.usage is not None and result.size == "1024x1024"


@pytest.mark.parametrize(("kind", "text"), [("truncated_b64", "not a usable image"),
                                            ("not_image", "not a usable image")])  # fmt: skip
async def test_multi_mb_answers_that_are_not_images_are_bad_responses(
    noisy_fake, session, kind: str, text: str
) -> None:
    noisy_fake.fail_next(kind)
    with pytest.raises(BadResponse, match=text):
        await make_client(session, noisy_fake.base_url).generate(GPT)


def noisy_png(seed: int = 0) -> bytes:
    out = BytesIO()
    Image.frombytes("L", (256, 256), random.Random(seed).randbytes(256 * 256)).save(out, "PNG")
    return out.getvalue()


def test_cut_images_leaves_base64_in_place_and_keeps_every_other_field() -> None:
    images = [noisy_png(1), noisy_png(2)]
    prompt = 'a sign that says \\"b64_json\\": \\"AAAA\\"'  # the key's text inside a string
    first, second = (base64.b64encode(image).decode() for image in images)
    body = (
        f'{{"created": 1, "data": [{{"b64_json" : "{first}", "revised_prompt": "{prompt}"}},'
        f' {{"b64_json":"{second}"}}], "usage": {{"total_tokens": 3}}}}'
    ).encode()

    cut = cut_images(body)

    assert cut is not None
    fields, entries = cut
    assert fields == {"created": 1, "usage": {"total_tokens": 3}}
    assert all(isinstance(e, Encoded) for e in entries)
    spans = [body[e.start : e.end] for e in entries if isinstance(e, Encoded)]
    assert [base64.b64decode(s) for s in spans] == images
    assert [e.revised_prompt for e in entries] == [json.loads(f'"{prompt}"'), None]


@pytest.mark.parametrize(
    ("shape", "escaped"),
    [
        ('{"data": [{"b64_json": "%s"}]}', True),  # "\\/": some JSON encoders escape slashes
        ('{"data": [{"b64_json": "%s"}], "extra": {"b64_json": "QUFB"}}', False),  # key elsewhere
        ('{"data": [{"b64_json": null, "url": "https://x.test/a"}, {"b64_json": "%s"}]}', False),
    ],
)
def test_other_shapes_are_left_to_the_full_parse_which_reads_them(
    shape: str, escaped: bool
) -> None:
    image = noisy_png()
    text = base64.b64encode(image).decode()
    body = (shape % (text.replace("/", "\\/") if escaped else text)).encode()
    assert (b"\\/" in body) == escaped

    assert cut_images(body) is None
    entries = parse_result([body]).entries
    assert [e.data for e in entries if isinstance(e, GeneratedImage)] == [image]
