"""The images of a Discord message, as sources a job can read: attachments and image embeds.

Shared by the context menus, reply-to-edit, /blend and the buttons. Nothing is downloaded here; a
source is read (with the size cap and the host allow-list) only when its job runs. Each source
remembers its message, so a stored job whose links have expired can read fresh ones from it
(``fresh_link``).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import discord

from bot import links
from bot.errors import ImageInputError
from bot.fetch import ImageSource
from bot.i18n import N_, lazy
from cogs.delivery import attachment_source

if TYPE_CHECKING:
    from bot.app import ImageBot, Services

NO_IMAGE = N_("That message has no image I can use.")
SOURCE_DELETED = N_("The message {name} was on has been deleted, so I can't read it again.")
SOURCE_UNREADABLE = N_(
    "I can no longer read the message {name} was on (I need View Channel and Read Message "
    "History there), so I can't read it again."
)
SOURCE_CHANGED = N_("{name} is no longer on the message it came from, so I can't read it again.")
# What the image service can read (phone photos are converted); others (SVG...) would only fail.
READABLE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif",
    "image/heic", "image/heif", "image/avif", "image/tiff", "image/bmp",
})  # fmt: skip
READABLE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".webp", ".gif", ".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp",
})  # fmt: skip
MASK_PREFIX = "mask"


@dataclass(frozen=True, slots=True)
class FoundImages:
    """A message's usable images in order, and the attachment named ``mask*`` if there is one."""

    images: tuple[ImageSource, ...] = ()
    mask: ImageSource | None = None

    def __add__(self, other: FoundImages) -> FoundImages:
        """Both messages' images in order; the later message's mask wins (the member's own)."""
        return FoundImages(self.images + other.images, other.mask or self.mask)

    def require(self) -> FoundImages:
        """These images, or a clear refusal when there are none.

        A lone ``mask*`` file is an image like any other: someone may just have named it so.
        """
        if not self.images and self.mask is not None:
            return FoundImages((self.mask,))
        if not self.images:
            raise ImageInputError(lazy(NO_IMAGE))
        return self

    def first(self, count: int) -> tuple[ImageSource, ...]:
        """The first ``count`` images (a model's input limit)."""
        return self.images[: max(count, 1)]

    def every(self) -> tuple[ImageSource, ...]:
        """Every image, a ``mask*`` file too (for uses that take no mask, such as a blend)."""
        return self.images + ((self.mask,) if self.mask else ())


def find_images(message: discord.Message, services: Services) -> FoundImages:
    """The images of ``message``: its image attachments, then its image embeds on allowed hosts."""
    images: list[ImageSource] = []
    mask: ImageSource | None = None
    for attachment in message.attachments:
        if not is_image(attachment):
            continue
        source = on_message(attachment_source(attachment, services), message)
        if mask is None and attachment.filename.lower().startswith(MASK_PREFIX):
            mask = source
        else:
            images.append(source)
    for embed in message.embeds:
        url = embed_image_url(embed, services.downloader.allowed_hosts)
        if url is not None:
            images.append(on_message(url_source(url, services), message))
    return FoundImages(tuple(images), mask)


def on_message(source: ImageSource, message: discord.Message | None) -> ImageSource:
    """``source`` marked as found on ``message``: where a fresh link is read once its expires."""
    if message is None:
        return source
    return dataclasses.replace(source, message=(message.channel.id, message.id))


async def fresh_link(
    bot: ImageBot, guild_id: int, filename: str, url: str, where: tuple[int, int]
) -> str:
    """A working link to the file ``url`` names, read again from the message it is on (Discord
    signs the links of every message it hands out anew)."""
    channel_id, message_id = where
    channel = bot.get_partial_messageable(channel_id, guild_id=guild_id)
    try:
        message = await channel.fetch_message(message_id)
    except discord.NotFound as exc:
        raise ImageInputError(lazy(SOURCE_DELETED, name=filename)) from exc
    except discord.HTTPException as exc:
        raise ImageInputError(lazy(SOURCE_UNREADABLE, name=filename)) from exc
    for source in find_images(message, bot.services).every():
        if source.url and links.same_file(source.url, url):
            return source.url
    raise ImageInputError(lazy(SOURCE_CHANGED, name=filename))


def is_image(attachment: discord.Attachment) -> bool:
    """Whether Discord's content type or the file's extension says it is an image we can read."""
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    extension = posixpath.splitext(attachment.filename.lower())[1]
    return content_type in READABLE_TYPES or extension in READABLE_EXTENSIONS


def embed_image_url(embed: discord.Embed, allowed_hosts: Collection[str]) -> str | None:
    """The embed's image (or an image link's preview) when it is served from an allowed host."""
    candidates = [embed.image.proxy_url, embed.image.url]
    if embed.type == "image":
        candidates += [embed.thumbnail.proxy_url, embed.thumbnail.url, embed.url]
    for url in candidates:
        if url and urlsplit(url).hostname in allowed_hosts:
            return url
    return None


def url_source(url: str, services: Services) -> ImageSource:
    """An image behind a URL (size unknown until read; the download is capped and host-checked)."""
    filename = posixpath.basename(unquote(urlsplit(url).path)) or "image"
    return services.downloader.source(url, filename)
