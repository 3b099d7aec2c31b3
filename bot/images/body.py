"""Reading an Images API body without holding the event loop up: caps, base64 slices, off-loop JSON.

A success body is several MB (the base64 of several images): it is read as received and refused
past its cap, by header and while it arrives. Its base64 images are cut out of the JSON, so that
only the small rest is parsed, and decoded on the loop a slice at a time, one image at a time; any
other big JSON is parsed away from the loop (in the bot's worker processes, or a thread). Bodies
under ``ON_LOOP_MAX`` are parsed on the loop: that is faster than a hop. The client reads plain
answers and result downloads with these, and ``bot.images.stream`` each event of a streamed one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from bot.errors import BadResponse
from bot.i18n import lazy
from bot.images.errors_map import TOO_BIG, UNREADABLE
from bot.images.preview import thumbnail
from bot.images.results import (
    Encoded,
    Item,
    Parsed,
    b64_spans,
    cut_images,
    decode_b64,
    inspect_image,
    parse_result,
)
from bot.images.types import GeneratedImage
from bot.images.urls import UNREACHABLE, fetch_result
from bot.offload import Offloader

_T = TypeVar("_T")
_A = TypeVar("_A")

Decode = Callable[[memoryview | str], Awaitable[bytes]]
OffLoop = Callable[[bytes], Awaitable[Any]]  # json.loads away from the loop

DOWNLOAD_SLOW = lazy("The finished image took too long to download from the image service.")
ON_LOOP_MAX = 64 * 1024  # smaller bodies parse faster than a thread hop
# Base64 characters decoded between two turns of the event loop (a multiple of 4): about a
# millisecond of work, so the heartbeat never waits on an image.
_DECODE_SLICE = 256 * 1024


async def capped(resp: aiohttp.ClientResponse, cap: int) -> AsyncIterator[bytes]:
    """The body's chunks as received, refusing more than ``cap`` bytes by header and while
    streaming (as received: re-chunking would copy it all)."""
    if resp.content_length is not None and resp.content_length > cap:
        raise BadResponse(TOO_BIG)
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise BadResponse(TOO_BIG)
        yield chunk


async def read_chunks(resp: aiohttp.ClientResponse, cap: int) -> list[bytes]:
    """The body as received, at most ``cap`` bytes."""
    return [chunk async for chunk in capped(resp, cap)]


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body, at most ``cap`` bytes."""
    return b"".join(await read_chunks(resp, cap))


async def decode_in_slices(text: memoryview | str) -> bytes:
    """Strict base64 decoding, one slice per turn of the event loop."""
    parts = []
    for at in range(0, len(text), _DECODE_SLICE):
        parts.append(decode_b64(text[at : at + _DECODE_SLICE]))
        await asyncio.sleep(0)
    return b"".join(parts)


class BodyParser:
    """Parses bodies on or off the loop by their size, and decodes images one at a time.

    One image decodes at a time: each turn of the loop then carries one slice at most, and every
    other job's next step (an upload, a database write) waits a millisecond at most.
    """

    def __init__(self, offload: Offloader | None = None) -> None:
        self._offload = offload
        self._decoding = asyncio.Semaphore(1)

    async def off_loop(self, func: Callable[[_A], _T], arg: _A, size: int) -> _T:
        """``func(arg)``: on the loop for under ``ON_LOOP_MAX`` bytes, else in a worker."""
        if size < ON_LOOP_MAX:
            return func(arg)
        if self._offload is not None:
            return await self._offload.run(func, arg)
        return await asyncio.to_thread(func, arg)

    async def decode(self, text: memoryview | str) -> bytes:
        """Strict base64 decoding in slices, waiting for the image being decoded."""
        async with self._decoding:
            return await decode_in_slices(text)

    async def preview(self, text: memoryview | str, max_side: int) -> bytes:
        """A partial image's small preview, made in a worker (``bot.images.preview``)."""
        data = text.encode("ascii") if isinstance(text, str) else bytes(text)
        if self._offload is not None:
            return await self._offload.run(thumbnail, data, max_side)
        return await asyncio.to_thread(thumbnail, data, max_side)

    async def json(self, body: bytes) -> Any:
        """``json.loads(body)``, off the loop when big; its errors as ``json.loads`` raises them."""
        return await self.off_loop(json.loads, body, len(body))

    async def json_chunks(self, chunks: list[bytes]) -> Any:
        """The JSON of a body read as chunks; an unreadable one is a ``BadResponse``."""
        try:
            return await self.json(b"".join(chunks))
        except (ValueError, UnicodeDecodeError):
            raise BadResponse(UNREADABLE) from None

    async def result(self, chunks: list[bytes]) -> Parsed:
        """A plain success body: its fields, and per entry an inspected image or a URL."""
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()  # the joined body is the one copy kept
        cut = cut_images(body) if len(body) >= ON_LOOP_MAX else None
        if cut is None:
            # Any other shape: parsed whole in a worker process (or a thread), so the gateway
            # heartbeat never waits on it.
            return await self.off_loop(parse_result, [body], len(body))
        # Decoding on the loop in slices costs the decoding alone: no pickled copy of the body
        # and of the image through a pipe each way, and no JSON copy of the base64 text.
        fields, entries = cut
        images: list[GeneratedImage | Item] = []
        for entry in entries:
            if isinstance(entry, Encoded):
                data = await self.decode(memoryview(body)[entry.start : entry.end])
                images.append(inspect_image(data, entry.revised_prompt))  # the header only
            else:
                images.append(entry)
        return Parsed(fields, images)


async def parse_object(
    body: bytes, start: int, end: int, off_loop: OffLoop
) -> tuple[dict[str, Any], memoryview | str | None]:
    """The JSON object at ``body[start:end]`` without its ``b64_json``, and that base64's text.

    A big object's one base64 string is cut out (see ``_cut_b64``); any other big JSON goes to
    ``off_loop``. Not an object, or not JSON: a ``BadResponse``.
    """
    b64: memoryview | str | None = None
    big = end - start >= ON_LOOP_MAX
    cut = _cut_b64(body, start, end) if big else None
    try:
        if cut is not None:
            payload, b64 = cut
        elif big:
            payload = await off_loop(body[start:end])
        else:
            payload = json.loads(body[start:end])
    except (ValueError, UnicodeDecodeError):
        raise BadResponse(UNREADABLE) from None
    if not isinstance(payload, dict):
        raise BadResponse(UNREADABLE)
    if b64 is None:
        text = payload.pop("b64_json", None)
        b64 = text if isinstance(text, str) and text else None
    return payload, b64


def _cut_b64(body: bytes, first: int, last: int) -> tuple[dict[str, Any], memoryview] | None:
    """The JSON at ``body[first:last]`` parsed without its one ``b64_json`` string, and that text.

    JSON parsing would copy megabytes of base64 into a new str; this parses the small rest. Any
    shape but one plain, escape-free string returns None, and the whole JSON is parsed off the loop.
    """
    spans = b64_spans(body, first, last)
    if spans is None or len(spans) != 1:
        return None
    ((start, end),) = spans
    skeleton = body[first:start] + body[end:last]
    if len(skeleton) > ON_LOOP_MAX:
        return None
    try:
        payload = json.loads(skeleton)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or payload.get("b64_json") != "":
        return None  # the key was somewhere else than where the parse puts it
    del payload["b64_json"]
    return payload, memoryview(body)[start:end]


async def fetch_images(
    session: aiohttp.ClientSession,
    parsed: Parsed,
    *,
    base: str,
    client_timeout: aiohttp.ClientTimeout,
    cap: int,
) -> list[GeneratedImage]:
    """Every entry of ``parsed`` as an image: those given as URLs downloaded, all at once, and
    inspected in a thread; the first failed download fails them all (a ``BadResponse``)."""
    pending = [e for e in parsed.entries if isinstance(e, Item) and e.url is not None]
    urls = [item.url for item in pending if item.url is not None]
    downloads: list[bytes] = []
    if urls:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(_download(session, u, base, client_timeout, cap))
                    for u in urls
                ]
        except ExceptionGroup as eg:  # the first failure cancels the other downloads
            raise eg.exceptions[0] from None
        downloads = [t.result() for t in tasks]

    def inspect_downloads() -> list[GeneratedImage]:
        pairs = zip(downloads, pending, strict=True)
        return [inspect_image(raw, item.revised_prompt) for raw, item in pairs]

    inspected = iter(await asyncio.to_thread(inspect_downloads) if pending else [])
    return [e if isinstance(e, GeneratedImage) else next(inspected) for e in parsed.entries]


async def _download(
    session: aiohttp.ClientSession,
    url: str,
    base: str,
    client_timeout: aiohttp.ClientTimeout,
    cap: int,
) -> bytes:
    # No Authorization header: result URLs live on a storage host that must never see the key.
    try:
        async with fetch_result(session, url, base, client_timeout) as resp:
            if resp.status != 200:
                raise BadResponse(UNREACHABLE, status=resp.status)
            return await read_capped(resp, cap)
    except TimeoutError:
        raise BadResponse(DOWNLOAD_SLOW) from None
    except aiohttp.ClientError:
        raise BadResponse(UNREACHABLE) from None
