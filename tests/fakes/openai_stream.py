"""The streamed answers of the fake Images API: server-sent events, and providers that don't stream.

A GPT image request with ``stream=true`` is answered as OpenAI does (SDK 3.57,
``types/image_gen_*_event.py`` / ``image_edit_*_event.py``): ``Content-Type: text/event-stream``,
``partial_images`` events ``image_generation.partial_image`` (edits: ``image_edit.partial_image``)
``partial_delay`` seconds apart, each a real image of the requested size and format, then one
``*.completed`` event per image with the usage; every partial adds ``PARTIAL_TOKENS`` output
tokens to it. Other providers are ``StreamMode``s:

- ``"sse"``: as above (OpenAI);
- ``"json"``: ``stream`` is ignored and the answer is plain JSON (LiteLLM and several gateways);
- ``"refuse"``: any request with ``stream`` is refused before anything is made, 400 naming the
  parameter (a relay that can't stream); counted in ``FakeImagesServer.stream_refusals``.

Faults on a stream (``fail_next(kind)``): ``sse_cut`` drops the connection after the first
partial, ``sse_error`` sends an ``error`` event there instead of the rest (opts ``type``,
``code``, ``message``), ``sse_no_completed`` ends cleanly without the completed event,
``sse_stall`` goes quiet there for ``seconds`` (default 5).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from tests.fakes.openai_rules import Job

StreamMode = Literal["sse", "json", "refuse"]
STREAM_MODES: tuple[StreamMode, ...] = ("sse", "json", "refuse")
STREAM_FAULTS = frozenset({"sse_cut", "sse_error", "sse_no_completed", "sse_stall"})
PARTIAL_TOKENS = 100  # extra output tokens per partial image
REFUSAL = {"message": "Unknown parameter: 'stream'.", "type": "invalid_request_error",
           "param": "stream", "code": "unknown_parameter"}  # fmt: skip
_PREFIX = {"generations": "image_generation", "edits": "image_edit"}

Render = Callable[[int], bytes]  # partial index -> image bytes
Sleep = Callable[[float], Awaitable[None]]


def asks_to_stream(fields: Any) -> bool:
    """Whether a request's body (JSON or form fields) carries ``stream`` at all."""
    return isinstance(fields, dict) and fields.get("stream") not in (None, False, "false")


def events(
    endpoint: str,
    job: Job,
    payload: dict[str, Any],
    render: Render,
    kind: str,
    opts: dict[str, Any],
) -> list[bytes]:
    """The encoded events of one streamed answer (partials, then completed ones), in order.

    ``payload`` is the plain answer the request would get; the events carry the same images
    and fields. A fault's event list stops where the fault happens (``send`` does the rest).
    """
    prefix = _PREFIX[endpoint]
    common = {
        k: payload[k] for k in ("background", "output_format", "quality", "size") if k in payload
    }
    created = int(time.time())
    encoded = []
    for index in range(job.partial_images):
        event = {
            "type": f"{prefix}.partial_image",
            "b64_json": base64.b64encode(render(index)).decode(),
            "created_at": created,
            "partial_image_index": index,
            **common,
        }
        encoded.append(_event(event["type"], event))
        if kind in STREAM_FAULTS:
            break
    if kind == "sse_error":
        error = {"type": opts.get("type", "server_error"), "code": opts.get("code"),
                 "message": opts.get("message", "The image could not be generated."),
                 "param": None}  # fmt: skip
        return [*encoded, _event("error", {"type": "error", "error": error})]
    if kind in STREAM_FAULTS:
        return encoded
    usage = payload.get("usage")
    if isinstance(usage, dict):
        extra = PARTIAL_TOKENS * job.partial_images
        usage = {**usage, "output_tokens": usage["output_tokens"] + extra,
                 "total_tokens": usage["total_tokens"] + extra}  # fmt: skip
    for item in payload.get("data", []):
        event = {"type": f"{prefix}.completed", "b64_json": item.get("b64_json"),
                 "created_at": created, **common}  # fmt: skip
        if usage is not None:
            event["usage"] = usage
        if "safety_identifier" in payload:
            event["safety_identifier"] = payload["safety_identifier"]
        encoded.append(_event(event["type"], event))
    return encoded


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + json.dumps(data).encode() + b"\n\n"


async def send(
    request: web.Request,
    encoded: list[bytes],
    *,
    delay: float,
    kind: str,
    opts: dict[str, Any],
    sleep: Sleep,
    sent: list[tuple[str, float]],
) -> web.StreamResponse:
    """Answer ``encoded`` as server-sent events, ``delay`` seconds before each; each event's name
    and the loop time it was written go to ``sent``."""
    headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    resp = web.StreamResponse(headers=headers)
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    for event in encoded:
        await sleep(delay)
        await resp.write(event)
        sent.append((event[7 : event.index(b"\n")].decode(), loop.time()))
    if kind == "sse_cut":
        assert request.transport is not None
        request.transport.close()
        return resp
    if kind == "sse_stall":
        await sleep(opts.get("seconds", 5.0))
    await resp.write_eof()
    return resp
