"""A fake Discord REST API and CDN that records what discord.py sends and answers like Discord.

The server runs on its own thread and event loop, so its connection tasks never mix with the
bot's tasks that the harness waits for. Every API request is recorded (``requests``), every
error the fake produced by itself is recorded (``errors``), and faults can be injected per route.

CDN links are signed as Discord signs them: ``ex`` (hex Unix time the link stops working), ``is``
(when it was issued) and ``hm`` (a signature over the path and both). After ``ex``, or with a
signature that doesn't match, the CDN answers 404; every read of a message (GET) hands out freshly
signed links. ``clock`` is the fake's now for both: a test moves it weeks ahead.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import fnmatch
import hashlib
import io
import json
import mimetypes
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import discord.http
import discord.webhook.async_
from aiohttp import web

API_PREFIX = "/api/v10"
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = 4 | EPHEMERAL | (1 << 12) | (1 << 13) | COMPONENTS_V2
LINK_LIFETIME = 24 * 3600.0  # how long a signed CDN link works (Discord: about a day)
CDN_FOLDERS = ("attachments", "ephemeral-attachments")
GONE_TEXT = "This content is no longer available."

# Codes and messages as Discord documents them (JSON error codes table).
ERROR_MESSAGES = {
    0: "General error",
    10003: "Unknown Channel",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10013: "Unknown User",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    10063: "Unknown application command",
    40005: "Request entity too large",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
}
STATUS_DEFAULTS = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    413: (40005, "Request entity too large"),
    429: (0, "You are being rate limited."),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}

JSON = dict[str, Any]


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request, or one file the fake serves."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def kind(self) -> str | None:
        """Image format told from the bytes: 'png', 'jpeg', 'gif', 'webp' or None."""
        return sniff_image(self.data)

    def image(self) -> Any:
        """Open the bytes with Pillow (imported lazily)."""
        from PIL import Image

        return Image.open(io.BytesIO(self.data))


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None
    injected: bool = False

    @property
    def payload(self) -> Any:
        """The JSON body, or the decoded ``payload_json`` part of a multipart body."""
        return self.json

    @property
    def data(self) -> JSON:
        """``payload['data']`` for interaction callbacks, else the payload itself."""
        body = self.json if isinstance(self.json, dict) else {}
        return body.get("data", body) if "type" in body and "data" in body else body

    @property
    def multipart(self) -> bool:
        return "multipart/" in self.headers.get("Content-Type", "")

    def file(self, filename: str) -> UploadedFile:
        """The uploaded file with this filename."""
        for uploaded in self.files:
            if uploaded.filename == filename:
                return uploaded
        raise KeyError(f"{filename!r} not among {[f.filename for f in self.files]}")


@dataclass(frozen=True)
class FakeError:
    """An error response the fake produced by itself (never an injected fault).

    kind: 'rejected' (Discord would refuse this too), 'unauthorized', 'unsupported' (route the fake
    does not know), 'bug' (the fake crashed).
    """

    kind: str
    method: str
    path: str
    status: int
    code: int
    message: str

    def __str__(self) -> str:
        return (
            f"[{self.kind}] {self.method} {self.path} -> {self.status} {self.code}: {self.message}"
        )


@dataclass
class Fault:
    """An injected error for requests whose method and path match, for the next ``times`` calls."""

    method: str
    pattern: str
    status: int
    code: int
    message: str
    retry_after: float = 0.05
    global_: bool = False
    via: bool = True
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method in ("*", method) and fnmatch.fnmatchcase(path, self.pattern)

    def response(self) -> web.Response:
        headers: dict[str, str] = {}
        body: JSON = {"message": self.message, "code": self.code}
        if self.status == 429:
            body = {
                "message": self.message,
                "retry_after": self.retry_after,
                "global": self.global_,
            }
            if self.code:
                body["code"] = self.code
            reset = datetime.datetime.now(datetime.UTC).timestamp() + self.retry_after
            headers = {
                "Retry-After": str(max(1, round(self.retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{reset:.3f}",
                "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
                "X-RateLimit-Bucket": "fakebucket",
                "X-RateLimit-Scope": "global" if self.global_ else "user",
            }
            if self.global_:
                headers["X-RateLimit-Global"] = "true"
            if self.via:
                headers["Via"] = "1.1 google"
        return json_response(self.status, body, headers)


class DiscordRejection(Exception):
    """Raised by a handler to answer with a Discord error body."""

    def __init__(self, status: int, code: int, message: str = "", errors: JSON | None = None):
        super().__init__(message or ERROR_MESSAGES.get(code, ""))
        self.status, self.code, self.errors = status, code, errors
        self.message = message or ERROR_MESSAGES.get(code, STATUS_DEFAULTS.get(status, (0, ""))[1])

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def form_error(path: str, message: str, code: str = "BASE_TYPE_INVALID") -> DiscordRejection:
    """A 400 / 50035 Invalid Form Body naming the offending field path (dot separated)."""
    node: JSON = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        node = {key: node}
    return DiscordRejection(400, 50035, errors=node)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A response discord.py parses as JSON: Content-Type must be exactly application/json."""
    if status == 204 or body is None:
        return web.Response(status=204, headers=headers)
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type=None,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def sniff_image(data: bytes) -> str | None:
    """Image format from magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def iso(snowflake: int) -> str:
    """The ISO timestamp embedded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat()


@dataclass
class FakeInteraction:
    """What the fake knows about an interaction the harness injected."""

    payload: JSON
    response_type: int | None = None
    original_id: int | None = None
    message_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def size_limit(self) -> int:
        return int(self.payload.get("attachment_size_limit", DEFAULT_UPLOAD_LIMIT))


class _FastRetries:
    """Stands in for the ``asyncio`` module inside discord.py's HTTP modules: retry sleeps
    (called from ``request``) are recorded and shortened to zero, everything else delegates."""

    def __init__(self, sleeps: list[float]):
        self._sleeps = sleeps

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    def sleep(self, delay: float, result: Any = None) -> Any:
        if sys._getframe(1).f_code.co_name in ("request", "__aexit__"):
            self._sleeps.append(delay)
            delay = 0
        return asyncio.sleep(delay, result)


Handler = Callable[..., tuple[int, Any]]


class FakeDiscord:
    """A local Discord REST API. Use as ``async with FakeDiscord() as fake:``."""

    _active: FakeDiscord | None = None

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "ImageBot",
        instant_retries: bool = True,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        answer_window: float | None = 3.0,
    ) -> None:
        self.token = token
        # The CDN's now: links are signed to expire LINK_LIFETIME after it, and refused once it
        # has passed their ``ex``. Tests move it ahead (never the real clock).
        self.clock: Callable[[], float] = time.time
        self.link_lifetime = LINK_LIFETIME
        self._cdn_key = secrets.token_hex(8)  # what the CDN signs its links with
        # Discord forgets an interaction not answered this many seconds after it was created
        # (its id's time): a later callback is 404 10062, as for real.
        self.answer_window = answer_window
        self.upload_limit = upload_limit
        self.instant_retries = instant_retries
        self.requests: list[RecordedRequest] = []
        self.downloads: list[RecordedRequest] = []
        self.errors: list[FakeError] = []
        self.retry_sleeps: list[float] = []
        self.messages: dict[int, JSON] = {}
        self.deleted_messages: dict[int, JSON] = {}
        # (channel id, flags, content, embeds) of every message as created and after each edit.
        self.shown: list[tuple[int, int, str, list[JSON]]] = []
        self.channels: dict[int, JSON] = {}
        self.guilds: dict[int, JSON] = {}
        self.members: dict[tuple[int, int], JSON] = {}
        self.users: dict[int, JSON] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.faults: list[Fault] = []
        self._commands: dict[int | None, dict[tuple[str, int], JSON]] = {}
        self._blobs: dict[int, UploadedFile] = {}
        self._lock = threading.RLock()
        self._last_id = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved: list[tuple[Any, str, Any]] = []
        self.port = 0
        self.application_id = self.snowflake()
        self.bot_user = self.add_user(bot_name, bot=True, user_id=self.application_id)
        self.owner_user = self.add_user("owner")
        self._routes = self._route_table()

    # lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serve on 127.0.0.1 (random port) and point discord.py's Route.BASE at it."""
        if FakeDiscord._active is not None:
            raise RuntimeError("one FakeDiscord at a time: discord.http.Route.BASE is global")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait, 10)
        if failure or not self.port:
            raise RuntimeError("fake Discord did not start") from (failure[0] if failure else None)
        FakeDiscord._active = self
        self._patch(discord.http.Route, "BASE", self.api_url)
        if self.instant_retries:
            fast = _FastRetries(self.retry_sleeps)
            self._patch(discord.http, "asyncio", fast)
            self._patch(discord.webhook.async_, "asyncio", fast)

    async def stop(self) -> None:
        """Stop serving and restore what start() patched."""
        for target, name, value in reversed(self._saved):
            setattr(target, name, value)
        self._saved.clear()
        if FakeDiscord._active is self:
            FakeDiscord._active = None
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)
            self._loop = self._thread = None

    def _patch(self, target: Any, name: str, value: Any) -> None:
        self._saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
            self._loop = loop
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    # ids and registries ------------------------------------------------------------------------

    def snowflake(self) -> int:
        """A new unique, increasing snowflake dated now."""
        with self._lock:
            now = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
            value = max((now - DISCORD_EPOCH_MS) << 22, self._last_id + 1)
            self._last_id = value
            return value

    def add_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> JSON:
        """Register a user and return its payload."""
        uid = user_id or self.snowflake()
        user: JSON = {
            "id": str(uid),
            "username": username,
            "global_name": None if bot else username.title(),
            "avatar": None,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if bot:
            user.update(bot=True, verified=True, mfa_enabled=False, locale="en-US", email=None)
        with self._lock:
            self.users[uid] = user
        return user

    def add_guild(self, guild: JSON) -> None:
        """Register a GUILD_CREATE payload: its channels, members and users become known."""
        with self._lock:
            gid = int(guild["id"])
            self.guilds[gid] = guild
            for channel in guild.get("channels", []):
                self.channels[int(channel["id"])] = {**channel, "guild_id": str(gid)}
            for member in guild.get("members", []):
                self.add_member(gid, member)

    def add_channel(self, guild_id: int, channel: JSON) -> JSON:
        """Register a channel or thread payload of a guild (fetchable, postable to)."""
        with self._lock:
            stored = {**channel, "guild_id": str(guild_id)}
            self.channels[int(channel["id"])] = stored
            return stored

    def add_member(self, guild_id: int, member: JSON) -> None:
        with self._lock:
            uid = int(member["user"]["id"])
            self.users.setdefault(uid, member["user"])
            self.members[(guild_id, uid)] = member

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        channel_id: int | None = None,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> JSON:
        """Serve ``data`` from the fake CDN and return a Discord attachment object for it."""
        upload = UploadedFile("", filename, content_type, data)
        return self._store_blob(
            upload, channel_id or 0, ephemeral=ephemeral, description=description
        )

    def _store_blob(
        self,
        upload: UploadedFile,
        channel_id: int,
        *,
        filename: str | None = None,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> JSON:
        aid = self.snowflake()
        name = filename or upload.filename or "unknown"
        kind = sniff_image(upload.data)
        if kind:
            content_type = f"image/{kind}"
        else:
            content_type = upload.content_type
            if content_type in (None, "application/octet-stream"):
                content_type = mimetypes.guess_type(name)[0] or content_type
        folder = "ephemeral-attachments" if ephemeral else "attachments"
        url = self.signed(f"{self.url}/{folder}/{channel_id}/{aid}/{name}")
        attachment: JSON = {
            "id": str(aid),
            "filename": name,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        if kind:
            try:
                with upload.image() as image:
                    attachment["width"], attachment["height"] = image.size
            except Exception:  # undecodable bytes: Discord then omits the dimensions too
                pass
        if ephemeral:
            attachment["ephemeral"] = True
        if description is not None:
            attachment["description"] = description
        with self._lock:
            self._blobs[aid] = UploadedFile("", name, content_type, upload.data)
        return attachment

    # signed CDN links -----------------------------------------------------------------------

    def _signature(self, path: str, ex: str, issued: str) -> str:
        return hashlib.sha256(f"{self._cdn_key}|{path}|{ex}|{issued}".encode()).hexdigest()

    def signed(self, url: str) -> str:
        """``url`` (a CDN link, any old signature dropped) signed afresh at ``clock()``."""
        base = url.split("?")[0]
        issued = int(self.clock())
        ex, since = f"{issued + int(self.link_lifetime):x}", f"{issued:x}"
        path = base[len(self.url) :] if base.startswith(self.url) else base
        return f"{base}?ex={ex}&is={since}&hm={self._signature(path, ex, since)}&"

    def _is_cdn_link(self, value: object) -> bool:
        return isinstance(value, str) and any(
            value.startswith(f"{self.url}/{folder}/") for folder in CDN_FOLDERS
        )

    def fresh(self, payload: Any) -> Any:
        """A copy of ``payload`` (a message, a list of them) with every CDN link signed afresh,
        as Discord signs the links of each message it hands out."""
        if isinstance(payload, dict):
            return {k: self.fresh(v) for k, v in payload.items()}
        if isinstance(payload, list):
            return [self.fresh(v) for v in payload]
        return self.signed(payload) if self._is_cdn_link(payload) else payload

    def link_works(self, path: str, query: dict[str, str]) -> bool:
        """Whether the CDN serves ``path`` with this query: signed by it and not yet expired."""
        ex, issued, hm = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
        try:
            expires = int(ex, 16)
        except ValueError:
            return False
        return hm == self._signature(path, ex, issued) and self.clock() < expires

    def store_message(self, message: JSON) -> JSON:
        """Keep a message payload (e.g. one a user sent) so later fetches and replies find it."""
        with self._lock:
            self.messages[int(message["id"])] = message
        return message

    def register_interaction(self, payload: JSON) -> FakeInteraction:
        """Make an injected interaction known, so its callback and webhook routes answer."""
        interaction = FakeInteraction(payload)
        with self._lock:
            self.interactions[interaction.token] = interaction
            if payload.get("message"):
                self.messages.setdefault(int(payload["message"]["id"]), payload["message"])
        return interaction

    # faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        pattern: str,
        *,
        status: int,
        code: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        retry_after: float = 0.05,
        global_: bool = False,
        via: bool = True,
    ) -> Fault:
        """Answer the next ``times`` (None: all) matching requests with an error.

        ``pattern`` is an fnmatch glob on the path without ``/api/v10`` (``*`` crosses ``/``),
        e.g. ``fail_next("POST", "/webhooks/*", status=404, code=10062)``. CDN paths
        (``/attachments/*``) can fail too. A 429 carries ``retry_after``, X-RateLimit-* headers
        and, unless ``via=False``, the ``Via`` header discord.py needs before it retries.
        """
        default_code, default_message = STATUS_DEFAULTS.get(status, (0, f"{status}: Error"))
        code = default_code if code is None else code
        if message is None:
            message = default_message if code == default_code else ERROR_MESSAGES.get(code, "")
        fault = Fault(
            method.upper(), pattern, status, code, message, retry_after, global_, via, times
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    # queries -----------------------------------------------------------------------------------

    def requests_to(self, method: str, pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose method (or '*') and path glob match."""
        with self._lock:
            return [
                r
                for r in self.requests
                if method.upper() in ("*", r.method) and fnmatch.fnmatchcase(r.path, pattern)
            ]

    def callbacks(self, interaction_id: int | str) -> list[RecordedRequest]:
        """Interaction callback requests (POST /interactions/{id}/{token}/callback)."""
        return self.requests_to("POST", f"/interactions/{interaction_id}/*/callback")

    def followups(self, token: str) -> list[RecordedRequest]:
        """Followup sends (POST /webhooks/{app}/{token})."""
        return self.requests_to("POST", f"/webhooks/{self.application_id}/{token}")

    def webhook_requests(self, token: str) -> list[RecordedRequest]:
        """Every followup and @original/{id} request made with this interaction token."""
        return self.requests_to("*", f"/webhooks/{self.application_id}/{token}*")

    def bot_messages(self, channel_id: int | None = None) -> list[JSON]:
        """Stored (not deleted) messages the bot authored, oldest first."""
        bot_id = self.bot_user["id"]
        with self._lock:
            return [
                m
                for m in self.messages.values()
                if m["author"]["id"] == bot_id
                and (channel_id is None or int(m["channel_id"]) == channel_id)
            ]

    def seen_by_others(self) -> list[str]:
        """Every text a channel's other members could read at some point (edits, deleted ones).

        Ephemeral messages and direct messages are the member's alone.
        """
        texts: list[str] = []
        for channel_id, flags, content, embeds in self.shown:
            if flags & EPHEMERAL or self.channels.get(channel_id, {}).get("type") == 1:
                continue
            texts.append(content)
            for embed in embeds:
                texts += [embed.get("title") or "", embed.get("description") or ""]
                texts += [f.get("value") or "" for f in embed.get("fields") or []]
        return [t for t in texts if t]

    def last_message(self, channel_id: int | None = None) -> JSON:
        """The bot's most recently created message still stored."""
        messages = self.bot_messages(channel_id)
        if not messages:
            raise LookupError("the bot has not sent any message")
        return messages[-1]

    def files_of(self, message: JSON) -> list[UploadedFile]:
        """The bytes behind a message's attachments, in order."""
        return [self.attachment_file(a) for a in message.get("attachments", [])]

    def attachment_file(self, attachment: JSON | str | int) -> UploadedFile:
        """The stored file for an attachment object, id or URL."""
        if isinstance(attachment, dict):
            key = int(attachment["id"])
        elif isinstance(attachment, str) and "/" in attachment:
            key = int(attachment.split("?")[0].rstrip("/").split("/")[-2])
        else:
            key = int(attachment)
        with self._lock:
            return self._blobs[key]

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Application commands registered (globally or for one guild)."""
        with self._lock:
            return list(self._commands.get(guild_id, {}).values())

    def command_id(self, name: str, *, guild_id: int | None = None, type: int = 1) -> int | None:
        with self._lock:
            command = self._commands.get(guild_id, {}).get((name, type))
        return int(command["id"]) if command else None

    def assert_no_errors(self) -> None:
        """Fail with every error the fake produced by itself."""
        assert not self.errors, "fake Discord errors:\n" + "\n".join(map(str, self.errors))

    # the server --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        is_api = path.startswith(API_PREFIX)
        record = RecordedRequest(
            method=request.method,
            path=path[len(API_PREFIX) :] if is_api else path,
            query=dict(request.query),
            headers=dict(request.headers),
        )
        unreadable: Exception | None = None
        try:
            record.json, record.files = await _read_body(request)
        except Exception as exc:
            unreadable = exc
        with self._lock:
            (self.requests if is_api else self.downloads).append(record)
            fault = next((f for f in self.faults if f.matches(record.method, record.path)), None)
            if unreadable is not None:
                response = self._error("bug", record, 400, 0, f"unreadable body: {unreadable}")
            elif fault is not None:
                fault.hits += 1
                record.injected = True
                response = fault.response()
            elif is_api:
                response = self._dispatch(record)
            else:
                response = self._serve_blob(record)
            record.status = response.status
            if response.body and response.content_type == "application/json":
                record.response = json.loads(bytes(response.body))  # type: ignore[arg-type]
        return response

    def _dispatch(self, record: RecordedRequest) -> web.Response:
        for method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(record.path)
            if match is None or method != record.method:
                continue
            if needs_auth and record.headers.get("Authorization") != f"Bot {self.token}":
                return self._error("unauthorized", record, 401, 0, "401: Unauthorized")
            try:
                status, body = handler(record, **match.groupdict())
            except DiscordRejection as exc:
                self.errors.append(
                    FakeError(
                        "rejected", record.method, record.path, exc.status, exc.code, _describe(exc)
                    )
                )
                return json_response(exc.status, exc.body())
            except Exception:
                return self._error(
                    "bug", record, 400, 0, "fake Discord crashed: " + traceback.format_exc()
                )
            return json_response(status, body)
        return self._error(
            "unsupported",
            record,
            400,
            0,
            f"fake Discord has no route for {record.method} {record.path}",
        )

    def _error(
        self, kind: str, record: RecordedRequest, status: int, code: int, message: str
    ) -> web.Response:
        with self._lock:
            self.errors.append(FakeError(kind, record.method, record.path, status, code, message))
        return json_response(status, {"message": message, "code": code})

    def _serve_blob(self, record: RecordedRequest) -> web.Response:
        parts = record.path.strip("/").split("/")
        blob = None
        if (
            len(parts) == 4
            and parts[0] in ("attachments", "ephemeral-attachments")
            and parts[2].isdigit()
        ):
            blob = self._blobs.get(int(parts[2]))
        if blob is None or not self.link_works(record.path, record.query):
            return web.Response(status=404, text=GONE_TEXT)
        return web.Response(
            body=blob.data,
            headers={"Content-Type": blob.content_type or "application/octet-stream"},
        )

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        sf = r"(?P<{}>\d+)"
        app = sf.format("app_id")
        chan = "/channels/" + sf.format("channel_id")
        msg = chan + "/messages/" + sf.format("message_id")
        hook = f"/webhooks/{app}/(?P<token>[^/]+)"
        cmds = f"/applications/{app}(?:/guilds/{sf.format('guild_id')})?/commands"
        table = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/users/" + sf.format("user_id"), self._get_user, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", cmds, self._get_commands, True),
            ("PUT", cmds, self._put_commands, True),
            ("POST", cmds, self._post_command, True),
            ("GET", cmds + "/" + sf.format("command_id"), self._get_command, True),
            ("DELETE", cmds + "/" + sf.format("command_id"), self._delete_command, True),
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._callback,
                False,
            ),
            ("POST", hook, self._followup, False),
            (
                "GET",
                hook + r"/messages/(?P<message_id>@original|\d+)",
                self._webhook_message,
                False,
            ),
            (
                "PATCH",
                hook + r"/messages/(?P<message_id>@original|\d+)",
                self._webhook_message,
                False,
            ),
            (
                "DELETE",
                hook + r"/messages/(?P<message_id>@original|\d+)",
                self._webhook_message,
                False,
            ),
            ("GET", chan, self._get_channel, True),
            ("POST", chan + "/typing", lambda record, channel_id: (204, None), True),
            ("GET", chan + "/messages", self._list_messages, True),
            ("POST", chan + "/messages", self._create_channel_message, True),
            ("GET", msg, self._get_channel_message, True),
            ("PATCH", msg, self._edit_channel_message, True),
            ("DELETE", msg, self._delete_channel_message, True),
            ("PUT", msg + "/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("DELETE", msg + "/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("GET", "/guilds/" + sf.format("guild_id"), self._get_guild, True),
            (
                "GET",
                "/guilds/{}/members/{}".format(sf.format("guild_id"), sf.format("user_id")),
                self._get_member,
                True,
            ),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in table]

    # identity, users, guilds -------------------------------------------------------------------

    def _get_me(self, record: RecordedRequest) -> tuple[int, Any]:
        return 200, self.bot_user

    def _get_application(self, record: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner_user,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    def _get_user(self, record: RecordedRequest, user_id: str) -> tuple[int, Any]:
        user = self.users.get(int(user_id))
        if user is None:
            raise DiscordRejection(404, 10013)
        return 200, user

    def _create_dm(self, record: RecordedRequest) -> tuple[int, Any]:
        recipient = self.users.get(int((record.json or {}).get("recipient_id", 0)))
        if recipient is None:
            raise form_error("recipient_id", "Unknown user")
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == recipient["id"]:
                return 200, channel
        channel = {
            "id": str(self.snowflake()),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [recipient],
        }
        self.channels[int(channel["id"])] = channel
        return 200, channel

    def _get_guild(self, record: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise DiscordRejection(404, 10004, "Unknown Guild")
        skip = ("members", "channels", "threads", "presences", "voice_states")
        return 200, {k: v for k, v in guild.items() if k not in skip}

    def _get_member(self, record: RecordedRequest, guild_id: str, user_id: str) -> tuple[int, Any]:
        member = self.members.get((int(guild_id), int(user_id)))
        if member is None:
            raise DiscordRejection(404, 10007)
        return 200, member

    def _get_channel(self, record: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        return 200, self._channel(channel_id)

    def _channel(self, channel_id: str | int) -> JSON:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise DiscordRejection(404, 10003)
        return channel

    # application commands ----------------------------------------------------------------------

    def _command_scope(self, app_id: str, guild_id: str | None) -> dict[tuple[str, int], JSON]:
        if int(app_id) != self.application_id:
            raise DiscordRejection(403, 50001)
        if guild_id is not None and int(guild_id) not in self.guilds:
            raise DiscordRejection(403, 50001)
        return self._commands.setdefault(int(guild_id) if guild_id else None, {})

    def _get_commands(
        self, record: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        return 200, list(self._command_scope(app_id, guild_id).values())

    def _put_commands(
        self, record: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        scope = self._command_scope(app_id, guild_id)
        if not isinstance(record.json, list):
            raise form_error("_", "Must be an array")
        if len(record.json) > 100:
            raise form_error("_", "Must be 100 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        for index, command in enumerate(record.json):
            _validate_command(command, str(index))
        new = {}
        for command in record.json:
            stored = self._store_command(scope, command, guild_id)
            new[(stored["name"], stored["type"])] = stored
        scope.clear()
        scope.update(new)
        return 200, list(new.values())

    def _post_command(
        self, record: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        scope = self._command_scope(app_id, guild_id)
        _validate_command(record.json or {}, "")
        existed = ((record.json or {}).get("name"), (record.json or {}).get("type", 1)) in scope
        stored = self._store_command(scope, record.json, guild_id)
        scope[(stored["name"], stored["type"])] = stored
        return (200 if existed else 201), stored

    def _get_command(
        self, record: RecordedRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        for command in self._command_scope(app_id, guild_id).values():
            if command["id"] == command_id:
                return 200, command
        raise DiscordRejection(404, 10063)

    def _delete_command(
        self, record: RecordedRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        scope = self._command_scope(app_id, guild_id)
        for key, command in list(scope.items()):
            if command["id"] == command_id:
                del scope[key]
                return 204, None
        raise DiscordRejection(404, 10063)

    def _store_command(
        self, scope: dict[tuple[str, int], JSON], command: JSON, guild_id: str | None
    ) -> JSON:
        kind = command.get("type", 1)
        previous = scope.get((command["name"], kind))
        stored = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": previous["id"] if previous else str(self.snowflake()),
            "application_id": str(self.application_id),
            "type": kind,
            "version": str(self.snowflake()),
        }
        if guild_id is not None:
            stored["guild_id"] = guild_id
        return stored

    # interactions ------------------------------------------------------------------------------

    def _callback(
        self, record: RecordedRequest, interaction_id: str, token: str
    ) -> tuple[int, Any]:
        interaction = self.interactions.get(token)
        if interaction is None or interaction.id != int(interaction_id):
            raise DiscordRejection(404, 10062)
        if self.answer_window is not None and interaction.response_type is None:
            created_ms = (interaction.id >> 22) + DISCORD_EPOCH_MS
            now_ms = datetime.datetime.now(datetime.UTC).timestamp() * 1000
            if now_ms - created_ms > self.answer_window * 1000:
                raise DiscordRejection(404, 10062)
        if interaction.response_type is not None:
            raise DiscordRejection(400, 40060)
        body = record.json if isinstance(record.json, dict) else {}
        kind, data = body.get("type"), body.get("data") or {}
        source = interaction.payload.get("message")
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7} if source else {4, 5}}
        if kind not in allowed.get(interaction.type, set()):
            raise form_error(
                "type", f"response type {kind} is not valid for interaction type {interaction.type}"
            )
        result: JSON = {"interaction": {"id": str(interaction.id), "type": interaction.type}}
        message: JSON | None = None
        if kind in (4, 5):
            if kind == 5:
                data = {"content": "", "flags": (data.get("flags") or 0) & EPHEMERAL}
            message = self._create_message(
                interaction.channel_id,
                data,
                record.files,
                limit=interaction.size_limit,
                interaction=interaction,
                loading=kind == 5,
            )
            interaction.original_id = int(message["id"])
        elif kind in (6, 7):
            message = self.messages.get(int(source["id"])) or self.store_message(source)  # type: ignore[index]
            if kind == 7:
                self._edit_message(message, data, record.files, interaction.size_limit)
            interaction.original_id = int(message["id"])
        elif kind == 8:
            _validate_choices(data.get("choices"))
        elif kind == 9:
            _validate_modal(data)
        interaction.response_type = kind
        if message is not None:
            result["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & LOADING),
                response_message_ephemeral=bool(message["flags"] & EPHEMERAL),
            )
            result["resource"] = {"type": kind, "message": message}
        return 200, result

    def _interaction_for(self, app_id: str, token: str) -> FakeInteraction:
        interaction = self.interactions.get(token)
        if interaction is None or int(app_id) != self.application_id:
            raise DiscordRejection(404, 10015)
        return interaction

    def _followup(self, record: RecordedRequest, app_id: str, token: str) -> tuple[int, Any]:
        interaction = self._interaction_for(app_id, token)
        if interaction.response_type is None:
            raise DiscordRejection(404, 10015)
        data = record.json if isinstance(record.json, dict) else {}
        original = self.messages.get(interaction.original_id or 0)
        if original is not None and original["flags"] & LOADING:
            # Documented compatibility behaviour: the first followup after a deferral edits
            # the loading message instead of creating a new one (ephemerality is kept).
            message = self._edit_message(original, data, record.files, interaction.size_limit)
        else:
            message = self._create_message(
                interaction.channel_id,
                data,
                record.files,
                limit=interaction.size_limit,
                interaction=interaction,
            )
        interaction.message_ids.append(int(message["id"]))
        return (200, message) if record.query.get("wait") in ("1", "true", "True") else (204, None)

    def _webhook_message(
        self, record: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        interaction = self._interaction_for(app_id, token)
        if message_id == "@original":
            mid = interaction.original_id
        else:
            mid = (
                int(message_id)
                if int(message_id) in (interaction.original_id, *interaction.message_ids)
                else None
            )
        message = self.messages.get(mid or 0)
        if message is None:
            raise DiscordRejection(404, 10008)
        if record.method == "GET":
            return 200, self.fresh(message)
        if record.method == "DELETE":
            self.deleted_messages[int(message["id"])] = self.messages.pop(int(message["id"]))
            return 204, None
        data = record.json if isinstance(record.json, dict) else {}
        return 200, self._edit_message(message, data, record.files, interaction.size_limit)

    # channel messages --------------------------------------------------------------------------

    def _create_channel_message(self, record: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        self._channel(channel_id)
        data = record.json if isinstance(record.json, dict) else {}
        reference = data.get("message_reference")
        referenced = None
        if reference:
            referenced = self.messages.get(int(reference.get("message_id") or 0))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise form_error(
                    "message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
                )
        message = self._create_message(
            int(channel_id), data, record.files, limit=self.upload_limit, referenced=referenced
        )
        return 200, message

    def _stored(self, channel_id: str, message_id: str) -> JSON:
        self._channel(channel_id)
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise DiscordRejection(404, 10008)
        return message

    def _list_messages(self, record: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        self._channel(channel_id)
        limit = int(record.query.get("limit", 50))
        found = [m for m in self.messages.values() if m["channel_id"] == channel_id]
        return 200, self.fresh(list(reversed(found))[:limit])

    def _get_channel_message(
        self, record: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        return 200, self.fresh(self._stored(channel_id, message_id))

    def _edit_channel_message(
        self, record: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        message = self._stored(channel_id, message_id)
        if message["author"]["id"] != self.bot_user["id"]:
            raise DiscordRejection(403, 50005)
        data = record.json if isinstance(record.json, dict) else {}
        return 200, self._edit_message(message, data, record.files, self.upload_limit)

    def _delete_channel_message(
        self, record: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        self._stored(channel_id, message_id)
        self.deleted_messages[int(message_id)] = self.messages.pop(int(message_id))
        return 204, None

    def _add_reaction(
        self, record: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> tuple[int, Any]:
        message = self._stored(channel_id, message_id)
        name, _, emoji_id = emoji.partition(":")
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == name:
                if not reaction["me"]:
                    reaction["me"] = True
                    reaction["count"] += 1
                return 204, None
        reactions.append(
            {
                "emoji": {"id": emoji_id or None, "name": name},
                "count": 1,
                "count_details": {"burst": 0, "normal": 1},
                "me": True,
                "me_burst": False,
                "burst_colors": [],
            }
        )
        return 204, None

    def _remove_reaction(
        self, record: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> tuple[int, Any]:
        message = self._stored(channel_id, message_id)
        name = emoji.partition(":")[0]
        for reaction in message.get("reactions", []):
            if reaction["emoji"]["name"] == name and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
        message["reactions"] = [r for r in message.get("reactions", []) if r["count"] > 0]
        return 204, None

    # message objects ---------------------------------------------------------------------------

    def _create_message(
        self,
        channel_id: int,
        data: JSON,
        files: list[UploadedFile],
        *,
        limit: int,
        interaction: FakeInteraction | None = None,
        referenced: JSON | None = None,
        loading: bool = False,
    ) -> JSON:
        _validate_message(data, files, limit, creating=not loading)
        mid = self.snowflake()
        channel = self.channels.get(channel_id, {})
        message: JSON = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": data.get("content") or "",
            "timestamp": iso(mid),
            "edited_timestamp": None,
            "tts": bool(data.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(data, files, channel_id, []),
            "embeds": [],
            "components": data.get("components") or [],
            "pinned": False,
            "flags": (data.get("flags") or 0) | (LOADING if loading else 0),
        }
        message["embeds"] = [
            _render_embed(e, message["attachments"]) for e in data.get("embeds") or []
        ]
        if "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
        if data.get("nonce") is not None:
            message["nonce"] = data["nonce"]
        if interaction is not None:
            payload = interaction.payload
            user = payload.get("member", {}).get("user") or payload.get("user")
            command_type = (payload.get("data") or {}).get("type", 1)
            message.update(
                type={2: 20 if command_type == 1 else 23}.get(interaction.type, 0),
                webhook_id=str(self.application_id),
                application_id=str(self.application_id),
                interaction_metadata={
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "user": user,
                    "authorizing_integration_owners": payload.get(
                        "authorizing_integration_owners", {}
                    ),
                },
            )
        if referenced is not None:
            message.update(reply_fields(referenced))
        self.messages[mid] = message
        self._shown(message)
        return message

    def _shown(self, message: JSON) -> None:
        """Remember what a message showed, edits included (references: no copying)."""
        self.shown.append(
            (int(message["channel_id"]), message["flags"], message["content"], message["embeds"])
        )

    def _edit_message(
        self, message: JSON, data: JSON, files: list[UploadedFile], limit: int
    ) -> JSON:
        """Apply an edit like Discord: all or nothing; the ephemeral flag cannot change."""
        _validate_message(data, files, limit, creating=False)
        edited = copy.deepcopy(message)
        if "content" in data:
            edited["content"] = data["content"] or ""
        if "components" in data:
            edited["components"] = data["components"] or []
        if data.get("flags") is not None:
            edited["flags"] = (message["flags"] & EPHEMERAL) | (data["flags"] & ~EPHEMERAL)
        edited["flags"] &= ~LOADING
        if "attachments" in data or files:
            channel_id = int(message["channel_id"])
            edited["attachments"] = self._attachments(
                data, files, channel_id, message["attachments"]
            )
        if "embeds" in data:
            edited["embeds"] = [
                _render_embed(e, edited["attachments"]) for e in data["embeds"] or []
            ]
        if not any(edited[k] for k in ("content", "embeds", "attachments", "components")):
            raise DiscordRejection(400, 50006)
        if not message["flags"] & LOADING:
            edited["edited_timestamp"] = iso(self.snowflake())
        message.clear()
        message.update(edited)  # same dict: references held by tests see the edit
        self._shown(message)
        return message

    def _attachments(
        self, data: JSON, files: list[UploadedFile], channel_id: int, existing: list[JSON]
    ) -> list[JSON]:
        by_index = {int(f.field[6:-1]): f for f in files if re.fullmatch(r"files\[\d+\]", f.field)}
        entries = data.get("attachments")
        if entries is None:
            kept, wanted = list(existing), [(i, {}) for i in sorted(by_index)]
        else:
            kept, wanted = [], []
            known = {a["id"]: a for a in existing}
            for position, entry in enumerate(entries):
                key = str(entry.get("id"))
                if key in known:
                    kept.append(known[key])
                elif key.isdigit() and int(key) in by_index:
                    wanted.append((int(key), entry))
                else:
                    raise form_error(f"attachments.{position}.id", f"Unknown attachment {key}")
            used = {index for index, _ in wanted}
            wanted += [(i, {}) for i in sorted(by_index) if i not in used]
        created = [
            self._store_blob(
                by_index[index],
                channel_id,
                filename=entry.get("filename"),
                description=entry.get("description"),
            )
            for index, entry in wanted
        ]
        return kept + created


# validation --------------------------------------------------------------------------------------


def _describe(exc: DiscordRejection) -> str:
    return exc.message + (f" {json.dumps(exc.errors)}" if exc.errors else "")


def _check_length(value: Any, limit: int, path: str) -> None:
    if value is not None and len(str(value)) > limit:
        raise form_error(path, f"Must be {limit} or fewer in length.", "BASE_TYPE_MAX_LENGTH")


def _validate_message(data: JSON, files: list[UploadedFile], limit: int, *, creating: bool) -> None:
    if sum(f.size for f in files) > limit:
        raise DiscordRejection(413, 40005)
    if len(files) > 10:
        raise form_error("files", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    _check_length(data.get("content"), 2000, "content")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        raise form_error("embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    total = 0
    for i, embed in enumerate(embeds):
        for key, cap in (("title", 256), ("description", 4096)):
            _check_length(embed.get(key), cap, f"embeds.{i}.{key}")
            total += len(embed.get(key) or "")
        _check_length((embed.get("footer") or {}).get("text"), 2048, f"embeds.{i}.footer.text")
        _check_length((embed.get("author") or {}).get("name"), 256, f"embeds.{i}.author.name")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise form_error(
                f"embeds.{i}.fields", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )
        for j, embed_field in enumerate(fields):
            _check_length(embed_field.get("name"), 256, f"embeds.{i}.fields.{j}.name")
            _check_length(embed_field.get("value"), 1024, f"embeds.{i}.fields.{j}.value")
            total += len(embed_field.get("name") or "") + len(embed_field.get("value") or "")
        total += len((embed.get("footer") or {}).get("text") or "") + len(
            (embed.get("author") or {}).get("name") or ""
        )
    if total > 6000:
        raise form_error(
            "embeds", "Embed size exceeds maximum size of 6000", "MAX_EMBED_SIZE_EXCEEDED"
        )
    flags = data.get("flags") or 0
    if flags & ~SENDABLE_FLAGS:
        raise form_error("flags", f"Invalid message flags {flags}")
    _validate_components(data.get("components") or [], v2=bool(flags & COMPONENTS_V2))
    content_keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    if creating and not files and not any(data.get(k) for k in content_keys):
        raise DiscordRejection(400, 50006)


def _validate_components(rows: list[JSON], *, v2: bool) -> None:
    if not v2 and len(rows) > 5:
        raise form_error("components", "Must be 5 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    seen: set[str] = set()
    for path, component in _walk_components(rows, "components"):
        if component.get("type") == 1 and not v2 and len(component.get("components", [])) > 5:
            raise form_error(
                path + ".components", "Must be 5 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )
        custom_id = component.get("custom_id")
        if custom_id is None:
            if component.get("type") in (3, 4, 5, 6, 7, 8) or (
                component.get("type") == 2 and component.get("style") not in (5, 6)
            ):
                raise form_error(
                    path + ".custom_id", "This field is required", "BASE_TYPE_REQUIRED"
                )
            continue
        _check_length(custom_id, 100, path + ".custom_id")
        if custom_id in seen:
            raise form_error(
                path + ".custom_id",
                "Component custom id cannot be duplicated",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
            )
        seen.add(custom_id)
        _check_length(component.get("label"), 80, path + ".label")


def _walk_components(components: list[JSON], path: str) -> Iterator[tuple[str, JSON]]:
    for index, component in enumerate(components):
        here = f"{path}.{index}"
        yield here, component
        yield from _walk_components(component.get("components") or [], here + ".components")
        if isinstance(component.get("component"), dict):
            yield from _walk_components([component["component"]], here + ".component")
        if isinstance(component.get("accessory"), dict):
            yield from _walk_components([component["accessory"]], here + ".accessory")


def _validate_choices(choices: Any) -> None:
    if not isinstance(choices, list):
        raise form_error("data.choices", "This field is required", "BASE_TYPE_REQUIRED")
    if len(choices) > 25:
        raise form_error("data.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    for index, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            raise form_error(f"data.choices.{index}.name", "Must be between 1 and 100 in length.")
        if isinstance(choice.get("value"), str):
            _check_length(choice["value"], 100, f"data.choices.{index}.value")


def _validate_modal(data: JSON) -> None:
    if not 1 <= len(data.get("custom_id") or "") <= 100:
        raise form_error("data.custom_id", "Must be between 1 and 100 in length.")
    if not 1 <= len(data.get("title") or "") <= 45:
        raise form_error("data.title", "Must be between 1 and 45 in length.")
    if not 1 <= len(data.get("components") or []) <= 5:
        raise form_error("data.components", "Must be between 1 and 5 in length.")
    _validate_components(data["components"], v2=True)


NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
# Discord's locales (AvailableLocalesEnum in specs/discord/openapi.json): the only keys a
# name_localizations or description_localizations map may have.
LOCALES = frozenset({
    "ar", "bg", "cs", "da", "de", "el", "en-GB", "en-US", "es-419", "es-ES", "fi", "fr", "he",
    "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "nl", "no", "pl", "pt-BR", "ro", "ru",
    "sv-SE", "th", "tr", "uk", "vi", "zh-CN", "zh-TW",
})  # fmt: skip


def _validate_localizations(
    found: object, path: str, longest: int, name_rule: Callable[[str], bool] | None = None
) -> None:
    """A localizations map as Discord checks it: known locale keys, each text 1..``longest``
    characters, and names by the same rule as the name itself."""
    if found is None:
        return
    if not isinstance(found, dict):
        raise form_error(path, "Must be an object")
    for locale, text in found.items():
        here = f"{path}.{locale}"
        if locale not in LOCALES:
            raise form_error(
                here, f"Value {locale!r} is not a valid enum value.", "ENUM_TYPE_COERCE"
            )
        if not isinstance(text, str) or not 1 <= len(text) <= longest:
            raise form_error(here, f"Must be between 1 and {longest} in length.")
        if name_rule is not None and not name_rule(text):
            raise form_error(
                here, f"Invalid localized name {text!r}", "APPLICATION_COMMAND_INVALID_NAME"
            )


def _chat_name(name: str) -> bool:
    return bool(NAME_RE.match(name)) and name == name.lower()


def _validate_command(command: JSON, path: str) -> None:
    prefix = f"{path}." if path else ""
    kind = command.get("type", 1)
    name = command.get("name") or ""
    if kind == 1 and (not NAME_RE.match(name) or name != name.lower()):
        raise form_error(
            prefix + "name",
            f"Invalid chat input command name {name!r}",
            "APPLICATION_COMMAND_INVALID_NAME",
        )
    if not 1 <= len(name) <= 32:
        raise form_error(prefix + "name", "Must be between 1 and 32 in length.")
    description = command.get("description") or ""
    if kind == 1 and not 1 <= len(description) <= 100:
        raise form_error(prefix + "description", "Must be between 1 and 100 in length.")
    if kind in (2, 3) and description:
        raise form_error(prefix + "description", "Context menu commands cannot have description")
    name_rule = _chat_name if kind == 1 else None
    _validate_localizations(
        command.get("name_localizations"), prefix + "name_localizations", 32, name_rule
    )
    _validate_localizations(
        command.get("description_localizations"), prefix + "description_localizations", 100
    )
    _validate_options(command.get("options") or [], prefix + "options")


def _validate_options(options: list[JSON], path: str) -> None:
    if len(options) > 25:
        raise form_error(path, "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    optional_seen = False
    for index, option in enumerate(options):
        here = f"{path}.{index}"
        name = option.get("name") or ""
        if not NAME_RE.match(name) or name != name.lower():
            raise form_error(
                here + ".name", f"Invalid option name {name!r}", "APPLICATION_COMMAND_INVALID_NAME"
            )
        if not 1 <= len(option.get("description") or "") <= 100:
            raise form_error(here + ".description", "Must be between 1 and 100 in length.")
        _validate_localizations(
            option.get("name_localizations"), here + ".name_localizations", 32, _chat_name
        )
        _validate_localizations(
            option.get("description_localizations"), here + ".description_localizations", 100
        )
        for number, choice in enumerate(option.get("choices") or []):
            _validate_localizations(
                choice.get("name_localizations"),
                f"{here}.choices.{number}.name_localizations",
                100,
            )
        if option.get("type") in (1, 2):
            _validate_options(option.get("options") or [], here + ".options")
            continue
        if option.get("required"):
            if optional_seen:
                raise form_error(
                    here + ".required",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        if option.get("choices") and option.get("autocomplete"):
            raise form_error(here + ".autocomplete", "Autocomplete cannot be set with choices")
        if len(option.get("choices") or []) > 25:
            raise form_error(
                here + ".choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )


def _render_embed(embed: JSON, attachments: list[JSON]) -> JSON:
    """An embed as Discord returns it: typed, with ``attachment://`` URLs resolved."""
    rendered: JSON = {"type": "rich", **embed}
    for key in ("image", "thumbnail"):
        url = (embed.get(key) or {}).get("url") or ""
        if url.startswith("attachment://"):
            found = next(
                (a for a in attachments if a["filename"] == url[len("attachment://") :]), None
            )
            if found is not None:
                media = {"url": found["url"], "proxy_url": found["proxy_url"]}
                media.update({k: found[k] for k in ("width", "height") if k in found})
                rendered[key] = media
    return rendered


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        async for part in reader:
            data = await part.read(decode=False)  # type: ignore[union-attr]
            if part.name == "payload_json":
                payload = json.loads(data)
            else:
                part_type = part.headers.get("Content-Type")
                files.append(
                    UploadedFile(part.name or "", part.filename or "", part_type, bytes(data))
                )
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    if content_type.startswith("application/json"):
        return json.loads(raw), []
    raise ValueError(f"unexpected Content-Type {content_type!r}")


def interaction_token(interaction_id: int) -> str:
    """A token shaped like Discord's (base64 text)."""
    return base64.b64encode(f"interaction:{interaction_id}:FAKE".encode()).decode().rstrip("=")


def reply_fields(referenced: JSON) -> JSON:
    """The fields that make a message a reply to ``referenced`` (type 19), as Discord sends them."""
    return {
        "type": 19,
        "message_reference": {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
        },
        "referenced_message": copy.deepcopy(
            {k: v for k, v in referenced.items() if k != "referenced_message"}
        ),
    }
