"""A streamed Images API answer (server-sent events), read and decoded as it arrives.

With ``stream=true`` the API answers ``event: image_generation.partial_image`` (edits:
``image_edit.partial_image``) blocks of ``data: {json}``, separated by blank lines, then one
``*.completed`` event per image carrying the usage; an ``error`` event ends a failed stream.
Each partial image is 1-3 MB of base64: like a plain answer, an event's base64 is cut out of its
JSON and decoded a slice at a time (``decode``), and any other big JSON is parsed off the loop
(``off_loop``), both by ``bot.images.body``. Only the event being read is held in memory, never
the whole stream. This module frames the events and hands partial images over (``Previews``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.errors import BadResponse, UpstreamUnavailable
from bot.images.body import ON_LOOP_MAX, Decode, OffLoop, capped, parse_object
from bot.images.errors_map import UNAVAILABLE, error_fields, map_error
from bot.images.results import NOT_AN_IMAGE, Item, Parsed, inspect_image
from bot.images.sniff import sniff_format
from bot.images.types import GeneratedImage, PartialImage

log = logging.getLogger(__name__)

OnPartial = Callable[[PartialImage], Awaitable[None]]

_SEPARATORS = (b"\n\n", b"\r\n\r\n")
# How long the result waits for the preview being shown: it supersedes previews not shown yet.
PREVIEW_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One server-sent event: its ``event:`` name (may be empty), its data at ``body[start:end]``.

    The data stays a span of the received bytes: no copy of megabytes of base64 per step.
    """

    name: str
    body: bytes = field(repr=False)
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


class EventReader:
    """Frames the response body into events, refusing more than ``cap`` bytes in all and a gap
    of more than ``gap`` seconds before the next event is complete.

    An event of several MB comes in many chunks: they are kept as received and joined once when
    its end arrives (one copy, no growing buffer), and each chunk is searched once.
    """

    def __init__(self, resp: aiohttp.ClientResponse, *, cap: int, gap: float) -> None:
        self._body, self._gap = capped(resp, cap), gap
        self._chunks: list[bytes] = []  # the event being received
        self._tail = b""  # the last 3 bytes before the last chunk: a separator may start there
        self._ended = False

    async def next(self) -> RawEvent | None:
        """The next event with data, or None at the end of the body."""
        async with asyncio.timeout(self._gap):  # a TimeoutError is the client's timeout
            while True:
                block = self._take_block()
                if block is not None:
                    if len(block) >= ON_LOOP_MAX:
                        await asyncio.sleep(0)  # joining it was a turn's worth of work
                    event = split_event(block)
                    if event is not None:
                        return event
                    continue
                if self._ended:
                    rest = b"".join(self._chunks)
                    self._chunks.clear()
                    return split_event(rest) if rest.strip() else None
                await self._fill()

    async def _fill(self) -> None:
        chunk = await anext(self._body, b"")
        if not chunk:
            self._ended = True
            return
        if self._chunks:
            self._tail = (self._tail + self._chunks[-1][-3:])[-3:]
        self._chunks.append(chunk)

    def _take_block(self) -> bytes | None:
        """The first complete event block received, taken out of the chunks; None if none yet."""
        chunks = self._chunks
        if not chunks:
            return None
        last, tail = chunks[-1], self._tail
        straddle = _separator(tail + last[:3], 0) if tail else None
        if straddle is not None and straddle[0] < len(tail):  # begun in an earlier chunk
            at, length = straddle
            before = b"".join(chunks[:-1])
            block = before[: len(before) - len(tail) + at]
            rest = last[at + length - len(tail) :]
        elif (cut := _separator(last, 0)) is not None:
            at, length = cut
            block = b"".join([*chunks[:-1], last[:at]])
            rest = last[at + length :]
        else:
            return None
        chunks.clear()
        self._tail = b""
        if rest:
            chunks.append(rest)  # the next event, maybe already whole: taken on the next call
        return block


def _separator(data: bytes, start: int) -> tuple[int, int] | None:
    """Where the first blank line (the end of an event) is in ``data``, and its length."""
    if b"\r" not in data:  # the usual case: one search, not one per separator
        at = data.find(b"\n\n", start)
        return None if at == -1 else (at, 2)
    found = [(at, len(sep)) for sep in _SEPARATORS if (at := data.find(sep, start)) != -1]
    return min(found) if found else None


def split_event(block: bytes) -> RawEvent | None:
    """The name and data of one event block; None for a block of comments only."""
    name, spans = "", []
    at = 0
    while at < len(block):
        end = block.find(b"\n", at)
        end = len(block) if end == -1 else end
        stop = end - 1 if end > at and block[end - 1] == 0x0D else end
        colon = block.find(b":", at, stop)
        key = block[at : colon if colon != -1 else stop]
        value = colon + 1 if colon != -1 else stop
        if value < stop and block[value] == 0x20:
            value += 1
        if key == b"event":
            name = block[value:stop].decode("utf-8", "replace").strip()
        elif key == b"data":
            spans.append((value, stop))
        at = end + 1
    if not spans:
        return None
    if len(spans) == 1:
        return RawEvent(name, block, *spans[0])
    joined = b"\n".join(block[a:b] for a, b in spans)  # several data lines: rare, and small
    return RawEvent(name, joined, 0, len(joined))


@dataclass(frozen=True, slots=True)
class Event:
    """A parsed event: its type, its JSON fields without the image, and the image's base64."""

    type: str
    fields: dict[str, Any]
    b64: memoryview | str | None


async def parse_event(raw: RawEvent, off_loop: OffLoop) -> Event | None:
    """The event's JSON with its base64 left to decode; None for a ``[DONE]`` marker."""
    if raw.body.startswith(b"[DONE]", raw.start, raw.end):
        return None
    if len(raw) >= ON_LOOP_MAX:
        await asyncio.sleep(0)  # finding its lines was a turn's worth of work
    payload, b64 = await parse_object(raw.body, raw.start, raw.end, off_loop)
    kind = raw.name or payload.get("type")
    return Event(kind if isinstance(kind, str) else "", payload, b64)


class Previews:
    """Hands partial images to ``callback`` in order, one at a time, beside the stream.

    A slow or failing callback never holds up reading: while it runs, only the newest partial
    waits (an older one not shown yet is dropped: the newer is closer to the result), and its
    exceptions are logged, not raised.
    """

    def __init__(self, callback: OnPartial, decode: Decode) -> None:
        self._callback = callback
        self._decode = decode
        # The newest partial not shown yet. One that arrives while another is being shown waits
        # in base64: if a newer replaces it, it is never decoded.
        self._latest: PartialImage | tuple[int, memoryview | str] | None = None
        self._showing = False
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def put(self, index: int, b64: memoryview | str) -> None:
        """Queue partial image ``index`` (replacing one that is still waiting)."""
        if self._showing:
            self._latest = (index, b64)
        elif (partial := await self._decoded(index, b64)) is not None:
            self._latest = partial
        else:
            return
        self._ready.set()
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name="image-previews")

    async def close(self, grace: float = PREVIEW_GRACE) -> None:
        """Let the previews queued finish, ``grace`` seconds at most, then stop."""
        task = self._task
        if task is None:
            return
        self._closing = True
        self._ready.set()
        try:
            if grace <= 0:
                raise TimeoutError
            await asyncio.wait_for(asyncio.shield(task), grace)
        except (TimeoutError, asyncio.CancelledError) as stop:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if isinstance(stop, asyncio.CancelledError):
                raise

    async def _deliver(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            waiting, self._latest = self._latest, None
            partial = await self._decoded(*waiting) if isinstance(waiting, tuple) else waiting
            if partial is not None:
                self._showing = True
                try:
                    await self._callback(partial)
                except Exception:  # a preview that failed to show must not fail the image
                    log.warning("Showing partial image %d failed", partial.index, exc_info=True)
                finally:
                    self._showing = False
            if self._closing and self._latest is None:
                return

    async def _decoded(self, index: int, b64: memoryview | str) -> PartialImage | None:
        try:
            data = await self._decode(b64)
        except BadResponse:  # a spoilt preview costs the member nothing: the result still comes
            log.warning("Partial image %d could not be decoded; skipped", index)
            return None
        fmt = sniff_format(data)
        if fmt is None:
            log.warning("Partial image %d is not an image; skipped", index)
            return None
        return PartialImage(index, data, fmt)


async def read_stream(
    resp: aiohttp.ClientResponse,
    *,
    model: str,
    n: int,
    cap: int,
    gap: float,
    decode: Decode,
    off_loop: OffLoop,
    previews: Previews | None,
) -> Parsed:
    """The result of a streamed answer (its ``n`` completed images); partial images go to
    ``previews`` as they arrive. A stream that ends early, or says error, is an APIError."""
    reader = EventReader(resp, cap=cap, gap=gap)
    fields: dict[str, Any] = {}
    images: list[GeneratedImage] = []
    while len(images) < n and (raw := await reader.next()) is not None:
        if previews is None and raw.name.endswith(".partial_image"):
            continue  # nobody to show it to: not even parsed
        event = await parse_event(raw, off_loop)
        if event is None:
            break
        kind = event.type.rpartition(".")[2]
        if kind in ("error", "failed") or (
            kind not in ("partial_image", "completed") and "error" in event.fields
        ):
            raise map_error(200, error_fields(event.fields), model=model)
        if kind == "partial_image" and previews is not None:
            await _preview(event, previews)
        elif kind == "completed":
            if event.b64 is None:
                raise BadResponse(NOT_AN_IMAGE)
            images.append(inspect_image(await decode(event.b64)))  # the header only
            fields = _result_fields(event.fields)
    if len(images) < n:
        # Cut before its result: the image may have been made and billed, so it is not retried.
        log.info("The image stream ended after %d of %d images", len(images), n)
        raise UpstreamUnavailable(UNAVAILABLE, code="stream_cut")
    entries: list[GeneratedImage | Item] = list(images)
    return Parsed(fields, entries)


async def _preview(event: Event, previews: Previews) -> None:
    index = event.fields.get("partial_image_index")
    if event.b64 is None or not isinstance(index, int) or isinstance(index, bool):
        log.info("A partial image event without an image or an index was skipped")
        return
    await previews.put(index, event.b64)


def _result_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A completed event's fields in a plain answer's names (``created_at`` is ``created``)."""
    kept = {k: v for k, v in fields.items() if k not in ("type", "created_at")}
    if "created" not in kept and "created_at" in fields:
        kept["created"] = fields["created_at"]
    return kept
