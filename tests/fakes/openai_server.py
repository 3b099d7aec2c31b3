"""A local aiohttp server speaking the OpenAI Images API contract, for tests and benchmarks.

    async with FakeImagesServer() as fake:
        client = ImagesClient(session, base_url=fake.base_url, api_key=TEST_API_KEY)
        fake.fail_next("rate_limit", retry_after=0.2)
        ...
        assert fake.image_requests[0].json["prompt"] == "a cat"

It validates requests like the real API (auth, required fields, multipart part names and MIME
types, the per-model rules of ``openai_rules``), answers errors in the spec's
``{"error": {message, type, param, code}}`` shape, returns real images made by Pillow, records
every request, and fails on demand (see ``FAIL_KINDS``).

Two worlds, chosen with ``world=``:

- ``"gateway"`` (the default): a relay such as LiteLLM that serves every model it knows,
  retired or not. ``GET /models`` lists them without ``shutdown_date``; variations work on
  dall-e-2; a request without ``model`` gets the old API defaults.
- ``"openai"``: OpenAI as of the SDK 3.57 contract. ``GET /models`` answers the list in
  ``tests/data/openai_models_2026-12-01.json`` (image and non-image models, each with
  ``shutdown_date``), plus ``extra_models``. A model stays listed after its shutdown date, with
  that date in the past (what OpenAI's deprecations page tells clients to read); requesting a
  model whose shutdown date is on or before ``today`` answers 404 ``model_not_found``, as for a
  model that does not exist. ``POST /images/variations`` is retired: 404, type
  ``invalid_request_error``, param and code null, message "This endpoint no longer accepts
  requests. ..." (the generic shape OpenAI gives a removed route). ``model`` is required
  ("Specify a model explicitly"): without it, 400 ``missing_required_parameter``.

Time is injected: ``today`` is a ``datetime.date`` or a callable returning one (default
``OPENAI_SNAPSHOT_DATE``, 2026-12-01); the real clock never decides a model's fate.

``extra_models`` maps a model id to a ``FAMILIES`` key (see ``openai_rules``), e.g.
``{"gpt-image-2.7-sunburst": "gpt-image-2.5"}``; in the openai world it is listed with
``shutdown_dates.get(id)``. ``shutdown_dates`` (id -> "YYYY-MM-DD" or None) overrides listed dates.
``gated_formats=True`` (or a set such as ``{"gif"}``) grants the access-gated output formats.

Faults (``fail_next(kind, times=1, on="images", **opts)``; ``on="models"`` targets
``GET /models``): an ``_ERRORS`` kind answers that error (opts ``status``, ``message``,
``type``, ``code``, ``param``, ``headers``, ``retry_after``, ``retry_after_ms``);
``status=200`` gives a new-api/one-api style error inside a 200 body. ``raw`` answers
``body`` (str or bytes) with ``status`` (200) and ``content_type`` (application/json) as
given, e.g. LiteLLM's ``fail_next("raw", status=404, body='{"detail":"Not Found"}')``.
``non_json`` answers an HTML 502, ``reset`` drops the connection; the ``_LATE`` kinds spoil a
successful answer.

Load: ``in_flight`` counts the image requests being answered now and ``max_in_flight`` the most at
once so far (reset it by hand between phases); ``image_times`` has each image request's arrival,
answer, status and request (``Answered``, on ``time.monotonic``). ``latency`` adds seconds to every
image request.

Moderations (``POST /moderations``; ``moderations_endpoint=False``: OpenAI's 404 for an unknown
route, "Invalid URL"): needs
``model`` (one of ``MODERATION_MODELS``) and ``input`` (a string or a list of strings), 401
without a key like every route; an input with a word of ``flag_words`` in it (e.g. "murder") is
flagged for that word's categories. ``fail_next(kind, on="moderations")`` injects failures.

Streaming (``stream=true``, GPT image models only; see ``openai_stream``): ``stream_mode`` is
"sse" (OpenAI: server-sent events, partials ``partial_delay`` seconds apart), "json" (a gateway
that ignores ``stream``) or "refuse" (a relay that can't stream: 400 naming ``stream``, counted in
``stream_refusals``). ``sent_events`` lists each streamed event's name and loop time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal, NamedTuple

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict
from PIL import Image, ImageDraw

from tests.fakes.openai_rules import (
    FAMILIES,
    FIELDS,
    GATED_FORMATS,
    MODELS,
    Family,
    Job,
    RecordedPart,
    RecordedRequest,
    Reject,
    invalid,
    missing,
    validate,
)
from tests.fakes.openai_stream import (
    REFUSAL,
    STREAM_FAULTS,
    STREAM_MODES,
    StreamMode,
    asks_to_stream,
    events,
    send,
)

__all__ = [
    "FAIL_KINDS",
    "FAMILIES",
    "MODELS",
    "OPENAI_MODELS_FILE",
    "OPENAI_SNAPSHOT_DATE",
    "TEST_API_KEY",
    "FakeImagesServer",
    "RecordedPart",
    "RecordedRequest",
    "openai_model_list",
    "render_image",
]

TEST_API_KEY = "sk-test-SECRET-123"
OPENAI_MODELS_FILE = Path(__file__).parents[1] / "data" / "openai_models_2026-12-01.json"
OPENAI_SNAPSHOT_DATE = date(2026, 12, 1)
World = Literal["gateway", "openai"]

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
    "no_usage", "no_made_size", "url_403", "url_hang", "gateway_url", "charset", "plain_json",
}) | STREAM_FAULTS
# fmt: on
_EARLY = frozenset(_ERRORS) | {"non_json", "reset", "raw"}
FAIL_KINDS = _EARLY | _LATE
IMAGE_ENDPOINTS = frozenset(FIELDS)  # generations, edits, variations
_FAULT_TARGETS = IMAGE_ENDPOINTS | {"models", "moderations"}
_NOT_IMAGES = frozenset({"models", "moderations"})  # endpoints only early faults can spoil
MODERATION_MODELS = {  # what each name answers as in the response's "model"
    "omni-moderation-latest": "omni-moderation-2024-09-26",
    "omni-moderation-2024-09-26": "omni-moderation-2024-09-26",
    "text-moderation-latest": "text-moderation-007",
    "text-moderation-stable": "text-moderation-007",
}
MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
FLAG_WORDS: dict[str, tuple[str, ...]] = {
    "murder": ("violence", "violence/graphic"),
    "hurtmyself": ("self-harm", "self-harm/intent"),
}
_DEFAULT_MODEL = {"generations": "dall-e-2", "edits": "gpt-image-1.5", "variations": "dall-e-2"}
_RETIRED_VARIATIONS = (
    "This endpoint no longer accepts requests. Use POST /v1/images/edits with a GPT image model "
    "and a prompt to create a variation of an image."
)
_GATEWAY_CREATED = 1698785189
_EXTRA_CREATED = 1796083200  # 2026-12-01: models a test adds are "new"


def openai_model_list() -> list[dict[str, Any]]:
    """OpenAI's ``GET /v1/models`` data as of 2026-12-01 (tests/data), fresh dicts each call."""
    data: list[dict[str, Any]] = json.loads(OPENAI_MODELS_FILE.read_text())["data"]
    return data


def _gated(grant: bool | Iterable[str]) -> frozenset[str]:
    if isinstance(grant, bool):
        return GATED_FORMATS if grant else frozenset()
    granted = frozenset(grant)
    if not granted <= GATED_FORMATS:
        raise ValueError(f"gated_formats: {sorted(granted - GATED_FORMATS)} are not gated")
    return granted


class Answered(NamedTuple):
    """When one image request arrived and was answered (``time.monotonic``), and how."""

    arrived: float
    answered: float
    status: int  # 0: the client went away before the answer
    request: RecordedRequest

    @property
    def prompt(self) -> str:
        return str((self.request.json or self.request.form).get("prompt", ""))


@dataclass
class _Failure:
    kind: str
    remaining: int | None
    opts: dict[str, Any]
    on: frozenset[str]


class FakeImagesServer:
    """``async with FakeImagesServer() as fake``: the Images API at ``fake.base_url``."""

    def __init__(
        self,
        *,
        api_key: str | None = TEST_API_KEY,
        prefix: str = "/v1",
        extra_models: Mapping[str, str] | None = None,
        models_endpoint: bool = True,
        moderations_endpoint: bool = True,
        noisy: bool = False,
        world: World = "gateway",
        today: date | Callable[[], date] = OPENAI_SNAPSHOT_DATE,
        shutdown_dates: Mapping[str, str | None] | None = None,
        gated_formats: bool | Iterable[str] = False,
        stream_mode: StreamMode = "sse",
        partial_delay: float = 0.0,
    ) -> None:
        if world not in ("gateway", "openai"):
            raise ValueError(f"unknown world {world!r}: 'gateway' or 'openai'")
        if stream_mode not in STREAM_MODES:
            raise ValueError(f"unknown stream_mode {stream_mode!r}: one of {STREAM_MODES}")
        for model, key in (extra_models or {}).items():
            if key not in FAMILIES:
                raise ValueError(f"{model}: unknown family {key!r}; one of {sorted(FAMILIES)}")
        self.api_key = api_key  # None accepts any Bearer key
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.world = world
        self.models = {**MODELS, **(extra_models or {})}  # model id -> FAMILIES key
        self.listing = self._listing(extra_models or {}, shutdown_dates or {})
        self.gated_formats = _gated(gated_formats)
        self.noisy = noisy  # incompressible pixels: multi-MB bodies like the real API
        self.latency = 0.0  # seconds added to every image request
        self.json_content_type = "application/json; charset=utf-8"
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0  # image requests being answered right now
        self.max_in_flight = 0  # the most image requests answered at once so far
        # Each image request's times, on time.monotonic (one clock for every process here).
        self.image_times: list[Answered] = []
        self.stream_mode = stream_mode
        self.partial_delay = partial_delay
        self.stream_refusals = 0
        self.sent_events: list[tuple[str, float]] = []
        self._today = today if callable(today) else (lambda: today)
        self._models_endpoint = models_endpoint
        self._moderations_endpoint = moderations_endpoint
        self.flag_words = dict(FLAG_WORDS)  # word -> categories a moderation input is flagged for
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
    def moderation_requests(self) -> list[RecordedRequest]:
        """Requests to ``POST /moderations``."""
        return [r for r in self.requests if r.endpoint == "moderations"]

    @property
    def image_requests(self) -> list[RecordedRequest]:
        """Requests to the three image endpoints (not /models, not result downloads)."""
        return [r for r in self.requests if r.endpoint in IMAGE_ENDPOINTS]

    def fail_next(
        self,
        kind: str,
        times: int | None = 1,
        *,
        on: str | Iterable[str] = "images",
        **opts: Any,
    ) -> None:
        """Make the next ``times`` requests to ``on`` fail as ``kind`` (``times=None``: always).

        ``on`` is "images" (the three image endpoints), an endpoint name, or several.
        """
        targets = (
            IMAGE_ENDPOINTS if on == "images" else frozenset([on] if isinstance(on, str) else on)
        )
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(FAIL_KINDS)}")
        if not targets <= _FAULT_TARGETS:
            raise ValueError(f"unknown endpoint in {sorted(targets)}; {sorted(_FAULT_TARGETS)}")
        if targets & _NOT_IMAGES and kind not in _EARLY | {"slow"}:
            raise ValueError(f"{kind!r} spoils an image answer; {sorted(targets & _NOT_IMAGES)} "
                             f"take {sorted(_EARLY)}")  # fmt: skip
        self._failures.append(_Failure(kind, times, opts, targets))

    def fail_always(self, kind: str, **opts: Any) -> None:
        """Make every image request fail as ``kind`` until ``clear_failures``."""
        self.fail_next(kind, None, **opts)

    def clear_failures(self) -> None:
        """Forget every queued or permanent failure."""
        self._failures.clear()

    def shutdown_date(self, model: str) -> date | None:
        """The date ``model`` stops being served in this world (None: never)."""
        for entry in self.listing:
            if entry["id"] == model and entry.get("shutdown_date"):
                return date.fromisoformat(entry["shutdown_date"])
        return None

    async def __aenter__(self) -> FakeImagesServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port (``self.port``)."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        for name in IMAGE_ENDPOINTS:
            app.router.add_post(f"{self.prefix}/images/{name}", self._image_handler(name))
        if self._models_endpoint:
            app.router.add_get(f"{self.prefix}/models", self._list_models)
            app.router.add_get(f"{self.prefix}/models/{{model}}", self._get_model)
        app.router.add_post(f"{self.prefix}/moderations", self._moderate)
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

    # --- the world ---------------------------------------------------------------------------

    def _listing(
        self, extra: Mapping[str, str], dates: Mapping[str, str | None]
    ) -> list[dict[str, Any]]:
        """What ``GET /models`` lists in this world."""
        if self.world == "gateway":
            return [
                {"id": m, "object": "model", "created": _GATEWAY_CREATED, "owned_by": "system"}
                for m in sorted(self.models)
            ]
        listing = openai_model_list()
        known = {entry["id"] for entry in listing}
        for model in extra:
            if model not in known:
                listing.append(
                    {"id": model, "object": "model", "created": _EXTRA_CREATED}
                    | {"owned_by": "system", "shutdown_date": None}
                )
        for entry in listing:
            if entry["id"] in dates:
                entry["shutdown_date"] = dates[entry["id"]]
        return listing

    def _resolver(self, endpoint: str) -> Callable[[str | None], Family]:
        """The model id -> rules step of validation, as this world answers it."""

        def resolve(model: str | None) -> Family:
            if model is None:
                if self.world == "openai":
                    raise missing("model")
                model = _DEFAULT_MODEL[endpoint]
            if not self._serves(model):
                message = f"The model `{model}` does not exist or you do not have access to it."
                raise Reject(message, "model", "model_not_found", status=404)
            if model not in self.models:
                raise invalid("model", model, set(self.models))
            return FAMILIES[self.models[model]]

        return resolve

    def _serves(self, model: str) -> bool:
        """Whether this world still has ``model`` (a gateway has everything it knows)."""
        if self.world == "gateway":
            return True
        if not any(entry["id"] == model for entry in self.listing):
            return False
        end = self.shutdown_date(model)
        return end is None or self._today() < end

    # --- handlers --------------------------------------------------------------------------

    def _image_handler(self, endpoint: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            arrived, status, rec = time.monotonic(), 0, None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                rec = await self._record(request, endpoint)
                response = await answer(request, rec)
                status = response.status
                return response
            finally:
                self.in_flight -= 1
                if rec is not None:
                    self.image_times.append(Answered(arrived, time.monotonic(), status, rec))

        async def answer(request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
            await self._sleep(self.latency)
            if (denied := self._check_auth(request)) is not None:
                return denied
            failure = self._take_failure(endpoint)
            kind, opts = (failure.kind, failure.opts) if failure else ("", {})
            if kind in _EARLY:
                return self._early_answer(request, kind, opts)
            if kind == "slow":
                await self._sleep(opts.get("seconds", 5.0))
            if endpoint == "variations" and self.world == "openai":
                return self.error_response(404, _RETIRED_VARIATIONS)
            if self.stream_mode == "refuse" and asks_to_stream(rec.json or rec.form):
                self.stream_refusals += 1
                return self._json({"error": REFUSAL}, status=400)
            try:
                job = validate(endpoint, rec, self._resolver(endpoint), self.gated_formats)
            except Reject as r:
                return self.error_response(r.status, r.message, param=r.param, code=r.code)
            if job.stream and self.stream_mode == "sse":
                return await self._stream(request, endpoint, job, kind, opts)
            # Rendering and encoding run in a thread so a benchmark measures the client, not us.
            body = await asyncio.to_thread(self._answer, job, kind, opts)
            return await self._send_json(request, body, kind)

        return handle

    async def _preamble(self, request: web.Request, endpoint: str) -> web.StreamResponse | None:
        """Record, check the key, answer an injected early failure (None: go on)."""
        await self._record(request, endpoint)
        if (denied := self._check_auth(request)) is not None:
            return denied
        failure = self._take_failure(endpoint)
        if failure is not None and failure.kind == "slow":
            await self._sleep(failure.opts.get("seconds", 5.0))
        elif failure is not None:
            return self._early_answer(request, failure.kind, failure.opts)
        return None

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._preamble(request, "models")) is not None:
            return early
        return self._json({"object": "list", "data": self.listing})

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._preamble(request, "models")) is not None:
            return early
        model = request.match_info["model"]
        for entry in self.listing:
            if entry["id"] == model:
                return self._json(entry)
        message = f"The model `{model}` does not exist or you do not have access to it."
        return self.error_response(404, message, param="model", code="model_not_found")

    async def _moderate(self, request: web.Request) -> web.StreamResponse:
        if not self._moderations_endpoint:  # OpenAI's answer to a route it doesn't have
            await self._record(request, "moderations")
            return self.error_response(404, f"Invalid URL (POST {request.path})")
        if (early := await self._preamble(request, "moderations")) is not None:
            return early
        body = self.requests[-1].json
        if not isinstance(body, dict):
            return self.error_response(400, "We could not parse the JSON body of your request.")
        model, given = body.get("model"), body.get("input")
        for name, value in (("model", model), ("input", given)):
            if value is None:
                reject = missing(name)
                return self.error_response(400, reject.message, param=name, code=reject.code)
        if model not in MODERATION_MODELS:
            reject = invalid("model", model, MODERATION_MODELS)
            return self.error_response(400, reject.message, param="model", code=reject.code)
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            reject = invalid("input", type(given).__name__)
            return self.error_response(400, reject.message, param="input", code=reject.code)
        results = [self._verdict(text) for text in texts]
        answer = {"id": f"modr-{uuid.uuid4().hex}", "model": MODERATION_MODELS[model]}
        return self._json(answer | {"results": results})

    def _verdict(self, text: str) -> dict[str, Any]:
        """One moderation result in the spec's shape: flagged by the flag words in ``text``."""
        lowered = text.lower()
        hits = {c for word, cats in self.flag_words.items() if word in lowered for c in cats}
        return {
            "flagged": bool(hits),
            "categories": {c: c in hits for c in MODERATION_CATEGORIES},
            "category_scores": {c: 0.97 if c in hits else 0.0001 for c in MODERATION_CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
        }

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

    def _take_failure(self, endpoint: str) -> _Failure | None:
        failure = next((f for f in self._failures if endpoint in f.on), None)
        if failure is not None and failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
        return failure

    def _early_answer(
        self, request: web.Request, kind: str, opts: dict[str, Any]
    ) -> web.StreamResponse:
        """An injected answer that replaces the real one."""
        if kind in _ERRORS:
            return self._injected_error(kind, opts)
        if kind == "non_json":
            html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=opts.get("status", 502), text=html, content_type="text/html")
        if kind == "raw":
            body = opts.get("body", b"")
            headers = {"Content-Type": opts.get("content_type", "application/json")}
            return web.Response(
                status=opts.get("status", 200),
                body=body.encode() if isinstance(body, str) else body,
                headers={**headers, **opts.get("headers", {})},
            )
        assert kind == "reset", kind
        assert request.transport is not None
        request.transport.close()
        return web.Response()

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

    # --- answers ---------------------------------------------------------------------------

    async def _stream(
        self, request: web.Request, endpoint: str, job: Job, kind: str, opts: dict[str, Any]
    ) -> web.StreamResponse:
        def render(index: int) -> bytes:  # each partial its own colour, none the result's
            fmt, transparent = job.fmt, job.transparent
            return render_image(fmt, job.width, job.height, index + 1, transparent, self.noisy)

        def encode() -> list[bytes]:
            return events(endpoint, job, self._payload(job, kind, opts), render, kind, opts)

        encoded = await asyncio.to_thread(encode)
        return await send(
            request,
            encoded,
            delay=self.partial_delay,
            kind=kind,
            opts=opts,
            sleep=self._sleep,
            sent=self.sent_events,
        )

    def _answer(self, job: Job, kind: str, opts: dict[str, Any]) -> bytes:
        return json.dumps(self._payload(job, kind, opts)).encode()

    def _payload(self, job: Job, kind: str, opts: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"created": int(time.time())}
        if kind == "no_data":
            return payload
        items = []
        for index in range(job.n):
            data = render_image(
                job.fmt, job.width, job.height, index, job.transparent, self.noisy, job.frames
            )
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
            if kind == "no_made_size":  # a relay that drops what it calls extra fields
                del payload["size"], payload["quality"]
            if job.safety_identifier:
                payload["safety_identifier"] = job.safety_identifier
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


def _usage(job: Job, quality: str) -> dict[str, Any]:
    per_tile = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}
    output = per_tile.get(quality, 1056) * job.n * job.frames
    output *= max(1, job.width * job.height // (1024 * 1024))
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
    "gif": {"duration": 200, "loop": 0},
}


@lru_cache(maxsize=128)
def render_image(
    fmt: str,
    width: int,
    height: int,
    index: int,
    transparent: bool,
    noisy: bool,
    frames: int = 1,
) -> bytes:
    """A cheap real image: one colour per ``index`` with a yellow corner block (or noise).

    ``gif`` is an animated GIF of ``frames`` frames; ``svg`` an SVG document of the same picture.
    """
    colour = _PALETTE[index % len(_PALETTE)]
    if fmt == "svg":
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<rect width="100%" height="100%" fill="rgb{colour}"/>'
            f'<rect width="{width // 4}" height="{height // 4}" fill="rgb(255,220,0)"/></svg>'
        ).encode()
    mode = "RGBA" if transparent and fmt in ("png", "webp") else "RGB"
    pictures = []
    for frame in range(frames):
        if noisy:
            raw = os.urandom(width * height * 3)
            im = Image.frombytes("RGB", (width, height), raw).convert(mode)
        else:
            im = Image.new(mode, (width, height), colour + (255,) * (mode == "RGBA"))
        step = frame * width // (4 * frames)  # the block moves so frames differ
        ImageDraw.Draw(im).rectangle((step, 0, step + width // 4, height // 4), fill=(255, 220, 0))
        pictures.append(im)
    out = BytesIO()
    extra = {"save_all": True, "append_images": pictures[1:]} if len(pictures) > 1 else {}
    pictures[0].save(out, fmt.upper(), **_SAVE_OPTIONS[fmt], **extra)
    return out.getvalue()
