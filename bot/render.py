"""How results, progress and errors look in Discord: embeds, buttons, files, allowed mentions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp.payload
import discord

from bot.i18n import N_, Words, render, t, tn
from bot.images.types import GeneratedImage, Operation, PartialImage

# Discord's documented limits.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
FILES_PER_MESSAGE = 10
CONTENT_LIMIT = 2000

OK_COLOUR = discord.Colour.from_rgb(88, 101, 242)
ERROR_COLOUR = discord.Colour.from_rgb(237, 66, 69)
WAIT_COLOUR = discord.Colour.from_rgb(254, 231, 92)

# The result's title, with the model in it ("Imagined with gpt-image-1"), in each language.
OPERATION_TITLES: dict[Operation, str] = {
    "generate": N_("Imagined with {model}"),
    "edit": N_("Edited with {model}"),
    "variation": N_("Variations with {model}"),
}

PREVIEW_NAME = "preview"
SPOILER = "SPOILER_"  # Discord blurs an attachment whose name starts with this until clicked
# A prompt longer than this is shortened in the failure message and attached whole as a file.
QUOTED_PROMPT_LIMIT = 3500


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def only_requester(user: discord.abc.Snowflake | None) -> discord.AllowedMentions:
    """Mentions that can ping the requester and nobody else (no @everyone, no roles)."""
    users: list[discord.abc.Snowflake] | bool = [user] if user is not None else False
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=True)


@dataclass(frozen=True, slots=True)
class ResultInfo:
    """What the result message says about a finished job."""

    job_id: int
    operation: Operation
    model: str
    prompt: str
    size: str | None
    quality: str | None
    style: str | None
    credits: int | None
    requester: str
    notes: tuple[Words, ...] = ()
    spoiler: bool = False  # the files are posted as spoilers
    preset: str | None = None  # the server preset the prompt was sent in
    locale: str = "en"  # the requester's language (bot/i18n.py)


def spoiler_name(filename: str, spoiler: bool) -> str:
    """``filename`` as Discord shows it blurred when ``spoiler``, else as it is."""
    return f"{SPOILER}{filename}" if spoiler else filename


def result_embed(info: ResultInfo, images: Sequence[GeneratedImage]) -> discord.Embed:
    """The embed under a result: prompt, revised prompt, model and parameters, notes."""
    lang = info.locale
    embed = discord.Embed(
        title=shorten(t(lang, OPERATION_TITLES[info.operation], model=info.model), TITLE_LIMIT),
        description=shorten(info.prompt, 1500) if info.prompt else None,
        colour=OK_COLOUR,
    )
    revised = [i.revised_prompt for i in images if i.revised_prompt]
    if revised and revised[0] != info.prompt:
        embed.add_field(
            name=t(lang, "Revised prompt"), value=shorten(revised[0], FIELD_LIMIT), inline=False
        )
    embed.add_field(name=t(lang, "Model"), value=info.model)
    sizes = sorted({f"{i.width}x{i.height}" for i in images})
    embed.add_field(name=t(lang, "Size"), value=", ".join(sizes) or info.size or "auto")
    if info.quality:
        embed.add_field(name=t(lang, "Quality"), value=info.quality)
    if info.style:
        embed.add_field(name=t(lang, "Style"), value=info.style)
    if info.preset:
        embed.add_field(name=t(lang, "Preset"), value=info.preset)
    if info.credits is not None:
        embed.add_field(name=t(lang, "Credits"), value=str(info.credits))
    if info.notes:
        notes = "\n".join(f"• {render(lang, note)}" for note in info.notes)
        embed.add_field(name=t(lang, "Adjusted"), value=shorten(notes, FIELD_LIMIT), inline=False)
    embed.set_footer(text=footer(lang, info.requester, info.job_id))
    return embed


def footer(locale: str, requester: str, job_id: int) -> str:
    """ "Requested by NAME · job N": under progress and results alike."""
    text = t(locale, "Requested by {name} · job {job}", name=requester, job=job_id)
    return shorten(text, FOOTER_LIMIT)


def result_files(info: ResultInfo, images: Sequence[GeneratedImage]) -> list[discord.File]:
    """The images as uploads, named after the job so members can tell them apart."""
    return [
        ImageFile(ImageBytes(image.data), filename=spoiler_name(name, info.spoiler))
        for n, image in enumerate(images[:FILES_PER_MESSAGE], start=1)
        for name in [f"{info.operation}-{info.job_id}-{n}.{_extension(image.format)}"]
    ]


class ImageFile(discord.File):
    """A discord.File that lets go of its image once discord.py is done with it.

    discord.py closes each file after its request (retries included) but leaves a file object it
    did not open open, in a reference cycle of its own making (``fp.close`` bound to ``fp``): every
    sent image would stay in memory until a full garbage collection, which a busy bot runs rarely.
    """

    __slots__ = ()

    def close(self) -> None:
        super().close()
        self.fp.close()


class ImageBytes(io.BytesIO):
    """An image's bytes as the file object discord.File wants, uploaded without a copy of its own.

    aiohttp sizes a plain BytesIO through ``getbuffer()``, which makes the BytesIO copy the bytes
    it shared until then: several MB per upload, for every upload in flight.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.nbytes = len(data)


@aiohttp.payload.payload_type(ImageBytes)
class _ImageBytesPayload(aiohttp.payload.BytesIOPayload):
    """BytesIOPayload, sized from the length ImageBytes knows instead of from ``getbuffer()``."""

    def __init__(self, value: ImageBytes, *args: Any, **kwargs: Any) -> None:
        aiohttp.payload.IOBasePayload.__init__(self, value, *args, **kwargs)
        self._size = value.nbytes - value.tell()


@dataclass(frozen=True, slots=True)
class ProgressInfo:
    """What the progress message says about a job while it waits and runs."""

    job_id: int
    operation: Operation
    model: str
    prompt: str
    size: str | None
    n: int
    requester: str
    locale: str = "en"  # the requester's language (bot/i18n.py)


@dataclass(frozen=True, slots=True)
class Stage:
    """Where a job stands: queued (with its place and an estimate) or running since a time."""

    running: bool = False
    position: int | None = None
    done_at: float | None = None  # estimated finish, Unix time
    started_at: float | None = None  # Unix time
    preview: str | None = None  # file name of the newest partial image, shown in the embed


def progress_embed(info: ProgressInfo, stage: Stage) -> discord.Embed:
    """The progress message: prompt, model, size and count; place in the queue or time running.

    Times are Discord timestamps (``<t:…:R>``), which every client counts live: "2 minutes ago"
    moves without the bot editing the message.
    """
    lang = info.locale
    if stage.running:
        title = tn(lang, "🎨 Making your image…", "🎨 Making your {count} images…", info.n)
        status = (
            t(lang, "Started {when}", when=_since(stage.started_at)) if stage.started_at else ""
        )
    else:
        title = t(lang, "⏳ Waiting for a free slot")
        if stage.position is not None:
            title = t(lang, "⏳ In the queue — position {position}", position=stage.position)
        status = (
            t(lang, "Should be done {when}", when=_since(stage.done_at)) if stage.done_at else ""
        )
        status = "\n".join(filter(None, [status, t(lang, "You can cancel while it waits.")]))
    description = "\n\n".join(filter(None, [shorten(info.prompt, 1000), status]))
    embed = discord.Embed(title=title, description=description or None, colour=WAIT_COLOUR)
    embed.add_field(name=t(lang, "Model"), value=info.model)
    embed.add_field(name=t(lang, "Size"), value=info.size or "auto")
    embed.add_field(name=t(lang, "Images"), value=str(info.n))
    if stage.preview and not stage.preview.startswith(SPOILER):
        # A spoiler stays an attachment under the embed: Discord never blurs an embed's image.
        embed.set_image(url=f"attachment://{stage.preview}")
    embed.set_footer(text=footer(lang, info.requester, info.job_id))
    return embed


def _since(when: float) -> str:
    """A Discord timestamp that every client shows as relative time, in its own language."""
    return f"<t:{int(when)}:R>"


def preview_file(image: PartialImage, *, spoiler: bool = False) -> discord.File:
    """A partial image as the progress message's attachment (named as the embed shows it)."""
    return ImageFile(ImageBytes(image.data), filename=preview_name(image.format, spoiler=spoiler))


def preview_name(image_format: str, *, spoiler: bool = False) -> str:
    """The file name of a preview: the embed shows it, unless it is a spoiler."""
    return spoiler_name(f"{PREVIEW_NAME}.{_extension(image_format)}", spoiler)


def _extension(image_format: str) -> str:
    return "jpg" if image_format == "jpeg" else image_format


def status_embed(text: str) -> discord.Embed:
    """A short status line (cancelled, deleted...)."""
    return discord.Embed(description=shorten(text, DESCRIPTION_LIMIT), colour=WAIT_COLOUR)


def ready_text(mention: str, count: int, locale: str = "en") -> str:
    """The line that pings the member when the result is posted."""
    return tn(
        locale,
        "{mention}, your image is ready.",
        "{mention}, your images are ready.",
        count,
        mention=mention,
    )


def failure_embed(
    message: str, prompt: str, *, charged: bool = False, locale: str = "en"
) -> discord.Embed:
    """A job that failed, for its member only: why, their prompt quoted back, and what it cost."""
    parts = [f"⚠️ {message}"]
    if prompt:
        quoted = shorten(prompt, QUOTED_PROMPT_LIMIT).replace("```", "`\u200b``")
        label = (
            t(locale, "Your prompt")
            if len(prompt) <= QUOTED_PROMPT_LIMIT
            else tn(
                locale,
                "Your prompt ({count} character, attached whole as prompt.txt)",
                "Your prompt ({count} characters, attached whole as prompt.txt)",
                len(prompt),
            )
        )
        parts.append(f"**{label}**\n```\n{quoted}\n```")
    if not charged:
        parts.append(t(locale, "Nothing was charged for this."))
    return discord.Embed(
        description=shorten("\n\n".join(parts), DESCRIPTION_LIMIT), colour=ERROR_COLOUR
    )


def prompt_file(prompt: str) -> list[discord.File]:
    """The whole prompt as a text file when the failure message had to shorten it."""
    if len(prompt) <= QUOTED_PROMPT_LIMIT:
        return []
    return [discord.File(io.BytesIO(prompt.encode()), filename="prompt.txt")]


def error_embed(message: str) -> discord.Embed:
    """A member-facing error, short and true."""
    return discord.Embed(
        description=shorten(f"⚠️ {message}", DESCRIPTION_LIMIT), colour=ERROR_COLOUR
    )
