"""A local aiohttp server speaking the OpenAI Images API contract, for tests and benchmarks.

    async with FakeImagesServer() as fake:
        client = ImagesClient(session, base_url=fake.base_url, api_key=TEST_API_KEY)
        fake.fail_next("rate_limit", retry_after=0.2)
        ...
        assert fake.image_requests[0].json["prompt"] == "a cat"

It validates requests like the real API (auth, required fields, multipart part names and MIME
types, per-model sizes/n/params, DALL·E 2 square PNG inputs, mask size), answers errors in the
spec's ``{"error": {message, type, param, code}}`` shape, returns real images made by Pillow,
records every request, and fails on demand (see ``FAIL_KINDS``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict
from PIL import Image, ImageDraw

TEST_API_KEY = "sk-test-SECRET-123"

# kind -> (status, type, code, message); answered at once, before validation.
# fmt: off
_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "content_policy_violation": (400, "invalid_request_error", "content_policy_violation",
        "Your request was rejected as a result of our safety system."),
    "moderation_blocked": (400, "image_generation_user_error", "moderation_blocked",
        "Your request was rejected by the safety system. Request ID req_123."),
    "safety_user_error": (400, "image_generation_user_error", None,
        "Image generation failed: the prompt was flagged by our safety system."),
    "invalid_request": (400, "invalid_request_error", None, "Invalid request."),
    "billing_hard_limit": (400, "invalid_request_error", "billing_hard_limit_reached",
        "Billing hard limit has been reached"),
    "invalid_api_key": (401, "invalid_request_error", "invalid_api_key", ""),
    "forbidden": (403, "invalid_request_error", None,
        "Your organization must be verified to use the model."),
    "not_found": (404, "invalid_request_error", "model_not_found",
        "The model does not exist or you do not have access to it."),
    "rate_limit": (429, "requests", "rate_limit_exceeded",
        "Rate limit reached for images per minute: Limit 5, Used 5, Requested 1."),
    "insufficient_quota": (429, "insufficient_quota", "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details."),
    "server_error": (500, "server_error", None,
        "The server had an error while processing your request. Sorry about that!"),
    "unavailable": (503, "server_error", None,
        "The engine is currently overloaded, please try again later."),
}
# Kinds that change a successful answer instead of replacing it.
_LATE = frozenset({
    "slow", "truncated_json", "invalid_json", "truncated_b64", "no_data", "not_image",
    "no_usage", "url_403", "url_hang", "gateway_url", "charset", "plain_json",
})
# fmt: on
FAIL_KINDS = frozenset(_ERRORS) | _LATE | {"non_json", "reset"}

_IMAGE_MIMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_COMMON = {"model", "n", "size", "response_format", "user"}
_GPT_ONLY = {"output_format", "output_compression", "background", "moderation", "input_fidelity"}
_GPT_ONLY |= {"safety_identifier", "complexity"}
_FIELDS = {
    "generations": _COMMON
    | {"prompt", "quality", "style", "output_format", "output_compression"}
    | {"background", "moderation", "stream", "partial_images", "safety_identifier", "complexity"},
    "edits": _COMMON
    | {"prompt", "image", "image[]", "mask", "quality", "background", "output_format"}
    | {"output_compression", "input_fidelity", "stream", "partial_images", "safety_identifier"}
    | {"complexity"},
    "variations": _COMMON | {"image"},
}
_OPERATION = {"generations": "generate", "edits": "edit", "variations": "variation"}
_DEFAULT_MODEL = {"generations": "dall-e-2", "edits": "gpt-image-1.5", "variations": "dall-e-2"}


@dataclass(frozen=True)
class Family:
    """Per-model rules of the real API, as the fake enforces them."""

    sizes: frozenset[str]
    max_n: int
    qualities: frozenset[str]
    prompt_max: int
    operations: frozenset[str]
    gpt: bool = False
    styles: frozenset[str] = frozenset()
    free_sizes: bool = False
    revises_prompt: bool = False


_GPT_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
# fmt: off
_GPT = Family(_GPT_SIZES, 10, frozenset({"low", "medium", "high", "auto"}), 32000,
              frozenset({"generate", "edit"}), gpt=True)
FAMILIES: dict[str, Family] = {
    "dall-e-2": Family(frozenset({"256x256", "512x512", "1024x1024"}), 10,
                       frozenset({"standard", "auto"}), 1000,
                       frozenset({"generate", "edit", "variation"})),
    "dall-e-3": Family(frozenset({"1024x1024", "1792x1024", "1024x1792"}), 1,
                       frozenset({"standard", "hd", "auto"}), 4000, frozenset({"generate"}),
                       styles=frozenset({"vivid", "natural"}), revises_prompt=True),
    "gpt-image": _GPT,
    "gpt-image-2": dataclasses.replace(_GPT, free_sizes=True),
}
# model id -> FAMILIES key
MODELS: dict[str, str] = {
    "dall-e-2": "dall-e-2", "dall-e-3": "dall-e-3",
    "gpt-image-1": "gpt-image", "gpt-image-1-mini": "gpt-image", "gpt-image-1.5": "gpt-image",
    "chatgpt-image-latest": "gpt-image",
    "gpt-image-2": "gpt-image-2", "gpt-image-2-2026-04-21": "gpt-image-2",
}
# fmt: on


@dataclass
class RecordedPart:
    """One multipart part as received."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """The part decoded as UTF-8 (for text fields)."""
        return self.data.decode("utf-8", "replace")


@dataclass
class RecordedRequest:
    """One request as received: ``endpoint`` is generations/edits/variations/models/files."""

    method: str
    path: str
    endpoint: str
    headers: CIMultiDict[str]
    json: Any = None
    parts: list[RecordedPart] = field(default_factory=list)

    @property
    def form(self) -> dict[str, str]:
        """Text (non-file) multipart fields by name."""
        return {p.name: p.text for p in self.parts if p.filename is None}

    def files(self, name: str | None = None) -> list[RecordedPart]:
        """File parts, all or those named ``name``, in the order sent."""
        return [p for p in self.parts if p.filename is not None and name in (None, p.name)]


@dataclass
class _Failure:
    kind: str
    remaining: int | None
    opts: dict[str, Any]


class _Reject(Exception):
    def __init__(self, message: str, param: str | None, code: str | None = "invalid_value"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def _unknown(name: str) -> _Reject:
    return _Reject(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def _missing(name: str) -> _Reject:
    return _Reject(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _invalid(name: str, value: object, allowed: Iterable[str] = ()) -> _Reject:
    hint = f" Supported values are: {sorted(allowed)}." if allowed else ""
    return _Reject(f"Invalid value for '{name}': '{value}'.{hint}", name)


@dataclass
class _Job:
    family: Family
    n: int
    width: int
    height: int
    fmt: str
    url: bool
    prompt: str
    quality: str | None
    transparent: bool
    n_inputs: int = 0


class FakeImagesServer:
    """``async with FakeImagesServer() as fake``: the Images API at ``fake.base_url``."""

    def __init__(
        self,
        *,
        api_key: str | None = TEST_API_KEY,
        prefix: str = "/v1",
        extra_models: dict[str, str] | None = None,
        models_endpoint: bool = True,
        noisy: bool = False,
    ) -> None:
        self.api_key = api_key  # None accepts any Bearer key
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.models = {**MODELS, **(extra_models or {})}  # model id -> FAMILIES key
        self.noisy = noisy  # incompressible pixels: multi-MB bodies like the real API
        self.latency = 0.0  # seconds added to every image request
        self.json_content_type = "application/json; charset=utf-8"
        self.requests: list[RecordedRequest] = []
        self._models_endpoint = models_endpoint
        self._failures: list[_Failure] = []
        self._files: dict[str, tuple[bytes, str, str, dict[str, Any]]] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What to give the client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def image_requests(self) -> list[RecordedRequest]:
        """Requests to the three image endpoints (not /models, not result downloads)."""
        return [r for r in self.requests if r.endpoint in _FIELDS]

    def fail_next(self, kind: str, times: int | None = 1, **opts: Any) -> None:
        """Make the next ``times`` image requests fail as ``kind`` (``times=None``: always)."""
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(FAIL_KINDS)}")
        self._failures.append(_Failure(kind, times, opts))

    def fail_always(self, kind: str, **opts: Any) -> None:
        """Make every image request fail as ``kind`` until ``clear_failures``."""
        self.fail_next(kind, None, **opts)

    def clear_failures(self) -> None:
        """Forget every queued or permanent failure."""
        self._failures.clear()

    async def __aenter__(self) -> FakeImagesServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port (``self.port``)."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        for name in _FIELDS:
            app.router.add_post(f"{self.prefix}/images/{name}", self._image_handler(name))
        if self._models_endpoint:
            app.router.add_get(f"{self.prefix}/models", self._list_models)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening; hung and slow handlers end at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers --------------------------------------------------------------------------

    def _image_handler(self, endpoint: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            rec = await self._record(request, endpoint)
            await self._sleep(self.latency)
            if (denied := self._check_auth(request)) is not None:
                return denied
            failure = self._take_failure()
            kind, opts = (failure.kind, failure.opts) if failure else ("", {})
            if kind in _ERRORS:
                return self._injected_error(kind, opts)
            if kind == "non_json":
                html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
                return web.Response(
                    status=opts.get("status", 502), text=html, content_type="text/html"
                )
            if kind == "reset":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if kind == "slow":
                await self._sleep(opts.get("seconds", 5.0))
            try:
                job = self._validate(endpoint, rec)
            except _Reject as r:
                return self.error_response(400, r.message, param=r.param, code=r.code)
            # Rendering and encoding run in a thread so a benchmark measures the client, not us.
            body = await asyncio.to_thread(self._answer, job, kind, opts)
            return await self._send_json(request, body, kind)

        return handle

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request, "models")
        if (denied := self._check_auth(request)) is not None:
            return denied
        data = [
            {"id": m, "object": "model", "created": 1698785189, "owned_by": "system"}
            for m in sorted(self.models)
        ]
        return self._json({"object": "list", "data": data})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        await self._record(request, "files")
        entry = self._files.get(request.match_info["name"])
        if entry is None:
            return web.Response(status=404, text="BlobNotFound")
        data, mime, mode, opts = entry
        if mode == "url_403":
            return web.Response(status=opts.get("status", 403), text="AuthenticationFailed")
        resp = web.StreamResponse(headers={"Content-Type": mime})
        if not opts.get("chunked"):
            resp.content_length = len(data)
        await resp.prepare(request)
        if mode == "url_hang":
            await resp.write(data[:16])
            await self._sleep(3600)
            return resp
        for start in range(0, len(data), 64 * 1024):
            await resp.write(data[start : start + 64 * 1024])
        await resp.write_eof()
        return resp

    # --- plumbing --------------------------------------------------------------------------

    async def _record(self, request: web.Request, endpoint: str) -> RecordedRequest:
        rec = RecordedRequest(request.method, request.path, endpoint, CIMultiDict(request.headers))
        self.requests.append(rec)
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                rec.json = await request.json()
        elif request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)  # no nested multiparts in this API
                data = bytes(await part.read())
                ctype = part.headers.get("Content-Type")
                rec.parts.append(RecordedPart(part.name or "", part.filename, ctype, data))
        return rec

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if key and (self.api_key is None or key == self.api_key):
            return None
        if not key:
            message = "You didn't provide an API key. Provide it in an Authorization header."
            return self.error_response(401, message, code=None)
        return self._injected_error("invalid_api_key", {"key": key})

    def _take_failure(self) -> _Failure | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.pop(0)
        return failure

    def _injected_error(self, kind: str, opts: dict[str, Any]) -> web.Response:
        status, type_, code, message = _ERRORS[kind]
        if kind == "invalid_api_key":  # the real API echoes a masked key
            key = str(opts.get("key", self.api_key or "sk-unknown"))
            message = f"Incorrect API key provided: {key[:3]}{'*' * 12}{key[-4:]}."
        headers = dict(opts.get("headers", {}))
        if "retry_after" in opts:
            headers["Retry-After"] = str(opts["retry_after"])
        if "retry_after_ms" in opts:
            headers["retry-after-ms"] = str(opts["retry_after_ms"])
        return self.error_response(
            opts.get("status", status),
            opts.get("message", message),
            type_=opts.get("type", type_),
            param=opts.get("param"),
            code=opts.get("code", code),
            headers=headers,
        )

    def error_response(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """The spec's ErrorResponse: ``{"error": {"message", "type", "param", "code"}}``."""
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return self._json(body, status=status, headers=headers)

    def _json(
        self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = {"Content-Type": self.json_content_type, **(headers or {})}
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    # --- validation ------------------------------------------------------------------------

    def _validate(self, endpoint: str, rec: RecordedRequest) -> _Job:
        multipart = endpoint != "generations"
        expected = "multipart/form-data" if multipart else "application/json"
        ctype = rec.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype != expected:
            raise _Reject(f"Invalid Content-Type header ({ctype}), expected {expected}.", None)
        if multipart:
            fields: dict[str, Any] = rec.form
            names = [p.name for p in rec.parts]
        else:
            if not isinstance(rec.json, dict):
                raise _Reject("We could not parse the JSON body of your request.", None, None)
            fields, names = rec.json, list(rec.json)
        for name in names:
            if name not in _FIELDS[endpoint]:
                raise _unknown(name)
        model = str(fields.get("model", _DEFAULT_MODEL[endpoint]))
        if model not in self.models:
            raise _invalid("model", model, set(self.models))
        family = FAMILIES[self.models[model]]
        if _OPERATION[endpoint] not in family.operations:
            raise _invalid("model", model)
        _check_params(family, fields)
        prompt = fields.get("prompt")
        if endpoint != "variations":
            if not isinstance(prompt, str) or not prompt:
                raise _missing("prompt")
            if len(prompt) > family.prompt_max:
                message = f"Invalid 'prompt': longer than {family.prompt_max} characters."
                raise _Reject(message, "prompt", "string_above_max_length")
        n_inputs = _check_inputs(family, rec) if multipart else 0
        n = _integer(fields, "n", 1, 1, family.max_n)
        size = str(fields.get("size", "auto" if family.gpt else "1024x1024"))
        width, height = _check_size(family, size)
        fmt = str(fields.get("output_format", "png"))
        background = fields.get("background")
        return _Job(
            family=family,
            n=n,
            width=width,
            height=height,
            fmt=fmt,
            url=not family.gpt and fields.get("response_format", "url") == "url",
            prompt=str(prompt or ""),
            quality=fields.get("quality"),
            transparent=background == "transparent",
            n_inputs=n_inputs,
        )

    # --- answers ---------------------------------------------------------------------------

    def _answer(self, job: _Job, kind: str, opts: dict[str, Any]) -> bytes:
        return json.dumps(self._payload(job, kind, opts)).encode()

    def _payload(self, job: _Job, kind: str, opts: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"created": int(time.time())}
        if kind == "no_data":
            return payload
        items = []
        for index in range(job.n):
            data = render_image(job.fmt, job.width, job.height, index, job.transparent, self.noisy)
            if kind == "not_image":
                data = b"<html>this is not an image</html>"
            item: dict[str, Any] = {}
            if job.url or kind in ("gateway_url", "url_403", "url_hang"):
                item["url"] = self._store_file(data, job.fmt, kind, opts)
            else:
                text = base64.b64encode(data).decode()
                if kind == "truncated_b64":
                    text = text[: len(text) // 2 // 4 * 4 - 1]  # cut and unpadded
                item["b64_json"] = text
            if job.family.revises_prompt:
                item["revised_prompt"] = f"Revised: {job.prompt}"
            items.append(item)
        payload["data"] = items
        if job.family.gpt:
            quality = "medium" if job.quality in (None, "auto") else job.quality
            payload.update(
                background="transparent" if job.transparent else "opaque",
                output_format=job.fmt,
                quality=quality,
                size=f"{job.width}x{job.height}",
            )
            if kind != "no_usage":
                payload["usage"] = _usage(job, quality)
        return payload

    def _store_file(self, data: bytes, fmt: str, kind: str, opts: dict[str, Any]) -> str:
        name = f"{uuid.uuid4().hex}.{fmt}"
        self._files[name] = (data, f"image/{fmt}", kind, opts)
        return f"http://127.0.0.1:{self.port}/files/{name}"

    async def _send_json(self, request: web.Request, body: bytes, kind: str) -> web.StreamResponse:
        ctype = {"charset": "application/json; charset=utf-8", "plain_json": "application/json"}
        headers = {"Content-Type": ctype.get(kind, self.json_content_type)}
        if kind == "invalid_json":
            return web.Response(body=body[: len(body) // 2], headers=headers)
        if kind != "truncated_json":
            return web.Response(body=body, headers=headers)
        resp = web.StreamResponse(headers=headers)
        resp.content_length = len(body)  # promised, never delivered
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        return resp


def _check_params(family: Family, fields: dict[str, Any]) -> None:
    for name in fields:
        if (name in _GPT_ONLY and not family.gpt) or (name == "style" and not family.styles):
            raise _unknown(name)
    if family.gpt and "response_format" in fields:
        raise _unknown("response_format")
    if fields.get("stream") not in (None, False, "false"):
        raise _Reject("Streaming is not supported by this server.", "stream")
    choices = {
        "quality": family.qualities,
        "style": family.styles,
        "response_format": {"url", "b64_json"},
        "output_format": {"png", "jpeg", "webp"},
        "background": {"transparent", "opaque", "auto"},
        "moderation": {"low", "auto"},
        "input_fidelity": {"high", "low"},
    }
    for name, allowed in choices.items():
        if name in fields and fields[name] not in allowed:
            raise _invalid(name, fields[name], allowed)
    output_format = fields.get("output_format", "png")
    if fields.get("background") == "transparent" and output_format == "jpeg":
        raise _Reject("Transparent background requires output_format png or webp.", "background")
    if "output_compression" in fields:
        level = _integer(fields, "output_compression", 100, 0, 100)
        if level < 100 and output_format == "png":
            raise _invalid("output_compression", level)


def _integer(fields: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = fields.get(name, default)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _Reject(f"Invalid type for '{name}': expected an integer.", name, "invalid_type")
    if raw < low:
        raise _Reject(f"Invalid '{name}': below minimum {low}.", name, "integer_below_min_value")
    if raw > high:
        raise _Reject(f"Invalid '{name}': above maximum {high}.", name, "integer_above_max_value")
    return raw


def _check_size(family: Family, size: str) -> tuple[int, int]:
    if size == "auto" and "auto" in family.sizes:
        return 1024, 1024
    if size in family.sizes:
        width, height = (int(v) for v in size.split("x"))
        return width, height
    if family.free_sizes and "x" in size:
        w, _, h = size.partition("x")
        if w.isdigit() and h.isdigit():
            width, height = int(w), int(h)
            ratio = max(width, height) / max(1, min(width, height))
            if not (width % 16 or height % 16) and ratio <= 3 and width * height <= 3840 * 2160:
                return width, height
    raise _invalid("size", size, family.sizes)


def _check_inputs(family: Family, rec: RecordedRequest) -> int:
    images = [p for p in rec.parts if p.name in ("image", "image[]")]
    if not images:
        raise _missing("image")
    dalle = not family.gpt
    if len(images) > (1 if dalle else 16):
        raise _Reject(f"Too many images: got {len(images)}.", "image", "too_many_images")
    first: tuple[int, int] | None = None
    for part in images:
        size = _check_file(part, "image", 4 * 1024 * 1024 if dalle else 50 * 1024 * 1024, dalle)
        first = first or size
        if dalle and size[0] != size[1]:
            raise _Reject(
                "Uploaded image must be a square PNG under 4 MB.", "image", "invalid_image"
            )
    masks = [p for p in rec.parts if p.name == "mask"]
    if masks and _check_file(masks[0], "mask", 4 * 1024 * 1024, True) != first:
        raise _Reject(
            "Invalid mask: must have the same size as the image.", "mask", "invalid_image"
        )
    return len(images)


def _check_file(part: RecordedPart, param: str, max_bytes: int, png_only: bool) -> tuple[int, int]:
    mime = (part.content_type or "").split(";")[0].strip()
    if mime not in _IMAGE_MIMES or part.filename is None:
        message = f"Invalid file '{param}': unsupported mimetype ('{mime}')."
        raise _Reject(message, param, "unsupported_file_mimetype")
    if png_only and mime != "image/png":
        raise _Reject(f"Invalid file '{param}': must be a PNG.", param, "invalid_image_format")
    if len(part.data) > max_bytes:
        raise _Reject(f"Invalid file '{param}': too large.", param, "image_too_large")
    try:
        with Image.open(BytesIO(part.data)) as im:
            real, size = im.format, im.size
    except (OSError, ValueError, SyntaxError):
        real, size = None, (0, 0)
    if real != _IMAGE_MIMES[mime]:
        raise _Reject(f"Invalid file '{param}': not a {mime}.", param, "invalid_image_format")
    return size


def _usage(job: _Job, quality: str) -> dict[str, Any]:
    per_tile = {"low": 272, "medium": 1056, "high": 4160}.get(quality, 1056)
    output = per_tile * job.n * max(1, job.width * job.height // (1024 * 1024))
    text = max(1, len(job.prompt) // 4)
    image = 323 * job.n_inputs
    return {
        "input_tokens": text + image,
        "output_tokens": output,
        "total_tokens": text + image + output,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image},
    }


_PALETTE = ((40, 120, 200), (200, 60, 60), (60, 170, 90), (230, 180, 40))
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "png": {"compress_level": 1},
    "webp": {"quality": 80, "method": 0},
    "jpeg": {"quality": 90},
}


@lru_cache(maxsize=128)
def render_image(
    fmt: str, width: int, height: int, index: int, transparent: bool, noisy: bool
) -> bytes:
    """A cheap real image: one colour per ``index`` with a yellow corner block (or noise)."""
    mode = "RGBA" if transparent and fmt != "jpeg" else "RGB"
    if noisy:
        im = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).convert(mode)
    else:
        colour = _PALETTE[index % len(_PALETTE)] + (255,) * (mode == "RGBA")
        im = Image.new(mode, (width, height), colour)
    ImageDraw.Draw(im).rectangle((0, 0, width // 4, height // 4), fill=(255, 220, 0))
    out = BytesIO()
    im.save(out, fmt.upper(), **_SAVE_OPTIONS[fmt])
    return out.getvalue()
