"""Downloading members' images: only from allowed hosts, with a size cap before and during transfer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from bot.errors import ImageInputError
from bot.i18n import Text, Words, lazy
from bot.images.codec import megabytes

DISCORD_MEDIA_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK = 256 * 1024


def _mb(n: int) -> Text:
    return megabytes(n, round_up=True)  # a file just over a limit doesn't read as the limit


@dataclass(frozen=True, slots=True)
class ImageSource:
    """An image not yet downloaded: its name, declared size and a way to read it (capped)."""

    filename: str
    size: int | None
    read: Callable[[int], Awaitable[bytes]] = field(repr=False)
    url: str | None = None  # where it can be fetched again (stored so buttons can re-run a job)
    # The Discord message it is on, (channel id, message id): where a fresh link is read once
    # ``url`` has expired. None for files attached to a slash command: no message holds them.
    message: tuple[int, int] | None = None

    def check_declared_size(self, max_bytes: int) -> None:
        """Refuse before downloading when the declared size is already over the cap."""
        if self.size is not None and self.size > max_bytes:
            raise ImageInputError(
                lazy(
                    "{name} is {size}; the limit is {limit}.",
                    name=self.filename,
                    size=_mb(self.size),
                    limit=_mb(max_bytes),
                )
            )

    @classmethod
    def from_bytes(cls, filename: str, data: bytes) -> ImageSource:
        """A source for bytes already in memory (files given on the command line)."""

        async def read(max_bytes: int) -> bytes:
            return data

        return cls(filename, len(data), read)


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    filename: str,
    max_bytes: int,
    allowed_hosts: Collection[str],
    time_limit: float = 30.0,
) -> bytes:
    """Fetch ``url`` if its host is allowed, refusing as soon as it passes ``max_bytes``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or host not in allowed_hosts:
        raise ImageInputError(
            lazy("I can only read images uploaded to Discord ({name}).", name=filename)
        )
    too_big = ImageInputError(
        lazy("{name} is larger than the {limit} limit.", name=filename, limit=_mb(max_bytes))
    )
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=time_limit), allow_redirects=False
        ) as response:
            if response.status != 200:
                raise ImageInputError(
                    lazy(
                        "I couldn't download {name} (Discord answered {status}).",
                        name=filename,
                        status=response.status,
                    )
                )
            if response.content_length is not None and response.content_length > max_bytes:
                raise too_big
            body = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise too_big
            return bytes(body)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ImageInputError(
            lazy("I couldn't download {name}; please try again.", name=filename)
        ) from exc


class Downloader:
    """Makes image sources for URLs members' images live at, all read through one session."""

    def __init__(self, session: aiohttp.ClientSession, allowed_hosts: Collection[str]) -> None:
        self.session = session
        self.allowed_hosts = allowed_hosts

    def source(
        self, url: str, filename: str, size: int | None = None, *, on_failure: Words = ""
    ) -> ImageSource:
        """A source read from ``url`` only when the job runs; ``on_failure`` is added to errors."""

        async def read(max_bytes: int) -> bytes:
            try:
                return await download(
                    self.session,
                    url,
                    filename=filename,
                    max_bytes=max_bytes,
                    allowed_hosts=self.allowed_hosts,
                )
            except ImageInputError as exc:
                if not on_failure:
                    raise
                raise ImageInputError(
                    lazy("{problem} {hint}", problem=exc.text, hint=on_failure)
                ) from exc

        return ImageSource(filename, size, read, url=url)
