"""Async client for any OpenAI-compatible Images API, on the bot's one shared aiohttp session.

``ImagesClient`` is the public calls (generate, edit, create_variation, call, list_models,
moderate) and the one retry policy around each request. How a body is read and decoded is ``bot.images.body``; the
multipart forms are ``bot.images.forms``; a streamed answer is ``bot.images.stream``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from bot.errors import APIError, BadResponse, RateLimited, UpstreamTimeout, UpstreamUnavailable
from bot.i18n import lazy
from bot.images.body import BodyParser, fetch_images, read_capped, read_chunks
from bot.images.errors_map import (
    UNAVAILABLE,
    error_in_body,
    map_error,
    parse_error_body,
)
from bot.images.forms import FormBuilder, edit_form, variation_form
from bot.images.moderations import MODERATION_MODEL, Moderation, parse_moderation
from bot.images.results import Parsed, build_result
from bot.images.stream import OnPartial, Previews, read_stream
from bot.images.types import ImageRequest, ImageResult, ModelListing
from bot.offload import Offloader

log = logging.getLogger(__name__)
_T = TypeVar("_T")

TIMED_OUT = lazy("The image service did not answer in time; try again later.")
MODERATION_TIMEOUT = 10.0  # seconds a prompt check may hold a job up, retries included
# Success bodies read and parsed at once. Answers to parallel requests land together; the others
# wait unread in their sockets instead of each holding several MB of the bot's memory.
_PARSING_AT_ONCE = 4
_EVENT_STREAM = "text/event-stream"


class ImagesClient:
    """``generate``, ``edit`` and ``create_variation`` against ``{base_url}/images/...``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 120.0,
        max_retries: int = 2,
        max_download_bytes: int = 64 * 1024 * 1024,
        retry_cap: float = 30.0,
        backoff: float = 0.5,
        rate_limit_backoff: float = 15.0,
        slow_attempt: float = 10.0,
        max_wait: float = 90.0,
        offload: Offloader | None = None,
        stream_gap: float | None = None,
        preview_side: int = 0,
    ) -> None:
        """``max_retries`` at most, each only if the member's whole wait stays within ``max_wait``.

        ``backoff`` doubles per retry of a 502/503 or a refused connection (at most ``retry_cap``);
        a 429 waits what it asked for, or ``rate_limit_backoff`` when it named no wait; a failure
        that took ``slow_attempt`` seconds or more was retried by a gateway already: not again.
        A streamed answer is bound by ``timeout`` in all like any other, and fails when no event
        completes for ``stream_gap`` seconds (default: ``timeout``). Partial images are handed
        over as they came, or as previews of at most ``preview_side`` pixels when it is set.
        """
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if any(c in api_key for c in "\r\n") or not api_key.strip():
            raise ValueError("api_key is empty or contains a line break")
        self._session = session
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key.strip()}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._max_retries = max(0, max_retries)
        self._max_bytes = max_download_bytes
        self._retry_cap = retry_cap
        self._parsing = asyncio.Semaphore(_PARSING_AT_ONCE)
        self._body = BodyParser(offload)
        self._backoff = backoff
        self._rate_limit_backoff = rate_limit_backoff
        self._slow_attempt = slow_attempt
        self._max_wait = max_wait
        self._stream_gap = timeout if stream_gap is None else stream_gap
        self._preview_side = preview_side
        # None: not asked yet; False: the provider has no /moderations (404/405), never asked again.
        self.has_moderations: bool | None = None
        self._moderation_warned = False

    def _preview_decoder(self) -> Callable[[memoryview | str], Awaitable[bytes]]:
        side = self._preview_side
        if side <= 0:
            return self._body.decode
        return lambda text: self._body.preview(text, side)

    @property
    def base_url(self) -> str:
        """Where this client sends its requests (no key in it)."""
        return self._base

    def __repr__(self) -> str:
        return f"ImagesClient(base_url={self._base!r}, timeout={self._timeout.total})"

    async def generate(self, req: ImageRequest, on_partial: OnPartial | None = None) -> ImageResult:
        """Create images from a prompt (``POST /images/generations``, JSON)."""
        body = req.text_fields()
        return await self._images_call("images/generations", req, on_partial, json_body=body)

    async def edit(self, req: ImageRequest, on_partial: OnPartial | None = None) -> ImageResult:
        """Edit or combine images with a prompt (``POST /images/edits``, multipart)."""
        return await self._images_call("images/edits", req, on_partial, form=edit_form(req))

    async def create_variation(self, req: ImageRequest) -> ImageResult:
        """Vary one image (``POST /images/variations``, multipart; where a provider still has it)."""
        return await self._images_call("images/variations", req, None, form=variation_form(req))

    async def call(self, req: ImageRequest, *, on_partial: OnPartial | None = None) -> ImageResult:
        """The endpoint ``req.operation`` names.

        When ``req`` streams, each partial image is handed to ``on_partial`` as it arrives (in
        order, beside the stream: a slow or failing callback never holds the result up); the
        result is the same as without streaming. A provider that answers plain JSON gives no
        partials; one that refuses ``stream`` raises ``StreamRefused``.
        """
        if req.operation == "generate":
            return await self.generate(req, on_partial)
        if req.operation == "edit":
            return await self.edit(req, on_partial)
        return await self.create_variation(req)

    async def list_models(self) -> list[ModelListing] | None:
        """``GET /models``, with each model's ``shutdown_date``; None when there is no such route."""
        try:
            payload = await self._send(
                "GET", "models", idempotent=True, parse=self._body.json_chunks
            )
        except APIError as err:
            if err.status in (404, 405):
                return None
            raise
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise BadResponse(lazy("The image service sent a model list the bot could not read."))
        return [
            ModelListing(m["id"], _text(m.get("shutdown_date")))
            for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]

    async def moderate(self, text: str) -> Moderation | None:
        """``POST /moderations`` on ``text``: the provider's verdict, or None when it can't give
        one (no such endpoint, an error, no answer in time). A check that can't be made never
        blocks a job, so every failure is a warning in the log, once per client."""
        if self.has_moderations is False:
            return None
        body = {"model": MODERATION_MODEL, "input": text}
        try:
            async with asyncio.timeout(MODERATION_TIMEOUT):
                payload = await self._send(
                    "POST", "moderations", json_body=body, idempotent=True,
                    parse=self._body.json_chunks,
                )  # fmt: skip
        except APIError as err:
            if err.status in (404, 405):
                self.has_moderations = False
                log.warning("The image service has no moderation endpoint (HTTP %s): prompt "
                            "checks are skipped", err.status)  # fmt: skip
                return None
            self._moderation_failed(f"{err.kind}, status {err.status}")
            return None
        except TimeoutError:
            self._moderation_failed("no answer in time")
            return None
        verdict = parse_moderation(payload)
        if verdict is None:
            self._moderation_failed("an answer the bot could not read")
            return None
        self.has_moderations = True
        return verdict

    def _moderation_failed(self, why: str) -> None:
        if not self._moderation_warned:
            self._moderation_warned = True
            log.warning("A prompt check failed (%s); prompts it can't check are sent unchecked "
                        "(said once)", why)  # fmt: skip

    # --- one call ---------------------------------------------------------------------------

    async def _images_call(
        self,
        path: str,
        req: ImageRequest,
        on_partial: OnPartial | None,
        *,
        json_body: dict[str, Any] | None = None,
        form: FormBuilder | None = None,
    ) -> ImageResult:
        model = req.model
        previews = (
            Previews(on_partial, self._preview_decoder())
            if on_partial is not None and req.streams
            else None
        )

        async def stream(resp: aiohttp.ClientResponse) -> Parsed:
            return await read_stream(
                resp,
                model=model,
                n=req.n,
                cap=2 * self._max_bytes,
                gap=self._stream_gap,
                decode=self._body.decode,
                off_loop=self._body.json,
                previews=previews,
            )

        try:
            parsed = await self._send(
                "POST",
                path,
                json_body=json_body,
                form=form,
                model=model,
                parse=self._body.result,
                stream=stream if req.streams else None,
            )
        except BaseException:
            if previews is not None:
                await previews.close(grace=0)
            raise
        if previews is not None:
            await previews.close()  # the result waits a moment for the preview being shown
        images = await fetch_images(
            self._session,
            parsed,
            base=self._base,
            client_timeout=self._timeout,
            cap=self._max_bytes,
        )
        return build_result(model, parsed.fields, images)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: FormBuilder | None = None,
        idempotent: bool = False,
        model: str | None = None,
        parse: Callable[[list[bytes]], Awaitable[_T]],
        stream: Callable[[aiohttp.ClientResponse], Awaitable[_T]] | None = None,
    ) -> _T:
        """One request with the retry policy; the parsed success body, or a typed error.

        ``model`` is the request's model, named by a ``ModelUnavailable``; ``stream`` reads a
        success answered as server-sent events (any other success goes to ``parse``).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        while True:
            began = loop.time()
            try:
                return await self._send_once(method, path, json_body, form, parse, model, stream)
            except APIError as err:
                now = loop.time()
                attempt += 1
                delay = self._retry_delay(err, attempt, idempotent, now - began, now - started)
                if delay is None:
                    raise
                log.info(
                    "Images API %s /%s failed (%s, status %s); retry %d/%d in %.2fs",
                    method, path, err.kind, err.status, attempt, self._max_retries, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)

    def _retry_delay(
        self, err: APIError, attempt: int, idempotent: bool, took: float, waited: float
    ) -> float | None:
        """Seconds before retry ``attempt``, or None when the error goes to the member now."""
        if attempt > self._max_retries or not _may_retry(err, idempotent):
            return None
        if err.status is not None and took >= self._slow_attempt:
            # An answer this slow was retried behind us already (LiteLLM makes up to 9 calls):
            # trying again would multiply its retries into minutes of waiting. A connection
            # that failed or timed out never reached a gateway, so it keeps its retries.
            log.info("Images API failure took %.1fs: not retried on top of a gateway", took)
            return None
        delay = self._delay(err, attempt)
        if waited + delay + took > self._max_wait:
            # The retry would end past what a member is kept waiting; a RateLimited says when.
            log.info("Images API retry in %.1fs would pass max_wait: not retried", delay)
            return None
        return delay

    async def _send_once(
        self,
        method: str,
        path: str,
        json_body: dict[str, Any] | None,
        form: FormBuilder | None,
        parse: Callable[[list[bytes]], Awaitable[_T]],
        model: str | None = None,
        stream: Callable[[aiohttp.ClientResponse], Awaitable[_T]] | None = None,
    ) -> _T:
        url = f"{self._base}/{path}"
        data = form() if form is not None else None  # a FormData can be sent only once
        # A JSON body may be up to twice max_download_bytes (base64 of several images).
        cap = 2 * self._max_bytes
        body, error = b"", None
        try:
            async with self._session.request(
                method, url, headers=self._auth, json=json_body, data=data, timeout=self._timeout
            ) as resp:
                status, headers = resp.status, resp.headers
                if 200 <= status < 300 and stream is not None and _is_event_stream(resp):
                    # Read as it arrives, for a minute maybe: outside the parsing slots.
                    return await stream(resp)
                if 200 <= status < 300:
                    async with self._parsing:
                        chunks = await read_chunks(resp, cap)
                        # Relays (new-api, one-api) answer some failures with 200 and an error.
                        error = error_in_body(chunks)
                        if error is None:
                            return await parse(chunks)
                else:
                    body = await read_capped(resp, cap)
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamTimeout(TIMED_OUT, code="connect_timeout") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(TIMED_OUT) from exc
        except aiohttp.ClientSSLError as exc:
            raise UpstreamUnavailable(UNAVAILABLE, code="tls_error") from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnavailable(UNAVAILABLE, code="connect_failed") from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            raise UpstreamUnavailable(UNAVAILABLE, code="connection_lost") from exc
        if error is None:
            error = await self._body.off_loop(parse_error_body, body, len(body))
        raise map_error(status, error, headers, model=model)

    def _delay(self, err: APIError, attempt: int) -> float:
        if isinstance(err, RateLimited):
            # A 429 that names no wait gets a long one: a gateway behind it has already retried,
            # and half a second later the answer is the same.
            return self._rate_limit_backoff if err.retry_after is None else err.retry_after
        jitter = random.uniform(0.75, 1.25)
        return min(self._backoff * 2.0 ** (attempt - 1) * jitter, self._retry_cap)


def _may_retry(err: APIError, idempotent: bool) -> bool:
    """Whether trying again is safe; an image generation can bill twice.

    A 429, a 502/503 (the request was turned away before any work) and a refused connection (the
    request never left) are safe. A timeout, a 500 or a connection lost after the request was sent
    may mean the image was made and billed, so those are only retried for idempotent reads.
    Quota, key, safety, model and endpoint errors are never retried: the answer would not change.
    """
    if isinstance(err, RateLimited):
        return True
    if isinstance(err, UpstreamTimeout):
        return idempotent or err.code == "connect_timeout"
    if isinstance(err, UpstreamUnavailable):
        if err.status in (502, 503) or err.code == "connect_failed":
            return True
        return idempotent and err.code != "tls_error"
    return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_event_stream(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == _EVENT_STREAM
