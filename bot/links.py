"""Discord links: message links members paste, and the signed CDN links of attachments.

Discord's attachment links carry ``ex`` (when the link stops working, hex Unix time), ``is``
(when it was issued) and ``hm`` (the signature); after ``ex`` the CDN answers 404. Re-reading the
message the file is on gives a fresh link. ``clock`` is what "now" means for that check: tests
move it weeks ahead instead of waiting.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bot.errors import ImageInputError
from bot.i18n import lazy, lazy_n

clock: Callable[[], float] = time.time

# https://discord.com/channels/<guild or @me>/<channel>/<message>, also ptb./canary. and the
# discordapp.com domain that older links use.
MESSAGE_LINK_RE = re.compile(
    r"https://(?:(?:ptb|canary|www)\.)?discord(?:app)?\.com/channels/(@me|\d+)/(\d+)/(\d+)/?"
)
SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A message named by its link."""

    guild_id: int | None  # None: a direct message
    channel_id: int
    message_id: int


def message_links(text: str, guild_id: int, *, most: int) -> list[MessageLink]:
    """The message links in ``text`` (space or comma separated), in order, each once.

    Refused, naming the piece: anything that isn't a message link, a link to another server or a
    direct message, and more than ``most`` links.
    """
    links: list[MessageLink] = []
    for piece in filter(None, SEPARATORS.split(text.strip())):
        match = MESSAGE_LINK_RE.fullmatch(piece.strip("<>"))
        if match is None:
            raise ImageInputError(
                lazy(
                    "`{piece}` isn't a message link. Copy one with Discord's "
                    "message menu → Copy Message Link.",
                    piece=_short(piece),
                )
            )
        guild, channel, message = match.groups()
        if guild != str(guild_id):
            raise ImageInputError(lazy("I can only use messages from this server."))
        link = MessageLink(int(guild), int(channel), int(message))
        if link not in links:
            links.append(link)
    if len(links) > most:
        raise ImageInputError(
            lazy_n(
                "I can read at most {count} message link; you gave {given}.",
                "I can read at most {count} message links; you gave {given}.",
                most,
                given=len(links),
            )
        )
    return links


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("`", "ˋ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expires_at(url: str) -> float | None:
    """When Discord's signed link ``url`` stops working (Unix time); None when it isn't signed."""
    values = parse_qs(urlsplit(url).query).get("ex")
    if not values:
        return None
    try:
        return float(int(values[0], 16))
    except ValueError:
        return None


def expired(url: str, now: float | None = None) -> bool:
    """Whether a signed link has run out (by ``clock`` unless ``now`` is given).

    A link without an expiry is taken to work: trying it costs one request.
    """
    ends = expires_at(url)
    return ends is not None and ends <= (clock() if now is None else now)


def same_file(url: str, other: str) -> bool:
    """Whether two links name the same file, whatever their signatures (Discord signs each read
    of a message anew) and whichever of its hosts (CDN or media proxy) serves it."""
    return urlsplit(url).path == urlsplit(other).path
