"""Stored jobs as new requests, and the forms that change one before it runs again.

Used by the buttons (cogs/buttons.py): Re-roll and Try again rerun a stored job as it was; Edit
and Change prompt open a form first. A form lives only while the member types (15 minutes); the
button that opens it is persistent.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import discord

from bot import links
from bot.errors import BotError, ImageInputError
from bot.fetch import ImageSource
from bot.i18n import N_, SOURCE, Command, lazy, t
from bot.images.params import Params
from bot.images.types import Operation
from bot.moderation import COMMAND_OF
from bot.service import JobSpec
from bot.store.models import Job
from cogs.common import report
from cogs.delivery import attachment_source, run_interaction_job
from cogs.message_images import fresh_link, on_message

if TYPE_CHECKING:
    from bot.app import ImageBot, Services  # noqa: F401 (ImageBot: in a string annotation)

Interaction = discord.Interaction["ImageBot"]
PROMPT_INPUT_MAX = 4000  # Discord's cap on a text input
Where = tuple[int, int]  # (channel id, message id) of the message an image is on
# A working link for an expired one: (filename, expired link, its message) -> fresh link.
Refresh = Callable[[str, str, Where], Awaitable[str]]
EXPIRED_UPLOAD = N_(
    "Discord's link to {name} has expired, and it was attached to the command itself, so there "
    "is no message to read it again from. Use {command} with the image to start again."
)
LINKS_EXPIRE = N_(
    "Discord's links to uploaded images expire after a while; use {command} with the image to "
    "start again."
)
NOT_KEPT = N_(
    "I didn't keep links to the images of that job, so I can't redo it. Use {command} with the "
    "image to start again."
)
EDIT_TITLE = N_("Edit this image")
WHAT_CHANGES = N_("What should change?")
IMAGE_NUMBER = N_("Image number (1-{count})")
BAD_NUMBER = N_("The image number must be between 1 and {count}.")
PROMPT_TITLE = N_("Change the prompt")
PROMPT_LABEL = N_("Prompt")


def refresher(interaction: Interaction) -> Refresh:
    """Reads fresh links off the messages of the interaction's server."""
    return functools.partial(fresh_link, interaction.client, interaction.guild_id or 0)


def stored_source(
    services: Services,
    filename: str,
    url: str,
    op: Operation,
    where: Where | None = None,
    refresh: Refresh | None = None,
) -> ImageSource:
    """An input image of a stored job, downloaded again from the link saved with the job; once
    that link has expired, from a fresh one read off the message it is on (``where``)."""
    command = Command(COMMAND_OF[op])

    async def read(max_bytes: int) -> bytes:
        current = url
        if links.expired(url):
            if where is None or refresh is None:
                raise ImageInputError(lazy(EXPIRED_UPLOAD, name=filename, command=command))
            current = await refresh(filename, url, where)
        hint = lazy(LINKS_EXPIRE, command=command)
        source = services.downloader.source(current, filename, on_failure=hint)
        return await source.read(max_bytes)

    return ImageSource(filename, None, read, url=url, message=where)


def _where(value: object) -> Where | None:
    """A stored (channel id, message id), or None when there is none (or it is malformed)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        channel, message = value
        if isinstance(channel, int) and isinstance(message, int):
            return channel, message
    return None


def rerun_spec(job: Job, services: Services, refresh: Refresh | None = None) -> JobSpec:
    """The stored job as a new request: same operation, model, prompt, parameters, preset (by
    name) and inputs.

    ``refresh`` reads fresh links for inputs whose stored ones have expired (see ``refresher``).
    """
    params = dict(job.params)
    names = [str(n) for n in params.get("images", [])]
    urls = [str(u) for u in params.get("image_urls", [])]
    mask_name, mask_url = params.get("mask"), params.get("mask_url")
    images: tuple[ImageSource, ...] = ()
    mask = None
    if job.operation != "generate":
        if not names or len(urls) != len(names) or (mask_name and not mask_url):
            raise BotError(lazy(NOT_KEPT, command=Command(COMMAND_OF[job.operation])))
        stored = params.get("image_messages")
        wheres = [_where(w) for w in stored] if isinstance(stored, list) else []
        wheres += [None] * (len(names) - len(wheres))
        images = tuple(
            stored_source(services, n, u, job.operation, w, refresh)
            for n, u, w in zip(names, urls, wheres, strict=False)
        )
        if mask_name and mask_url:
            where = _where(params.get("mask_message"))
            mask = stored_source(
                services, str(mask_name), str(mask_url), job.operation, where, refresh
            )
    return JobSpec(
        job.operation,
        job.model,
        job.prompt or "",
        Params.from_mapping(params),
        fit="pad" if params.get("fit") == "pad" else "crop",
        strength="strong" if params.get("strength") == "strong" else "subtle",
        images=images,
        mask=mask,
        preset=str(params["preset"]) if params.get("preset") else None,
        rerun=True,
    )


class EditModal(discord.ui.Modal):
    """What to change, and which image when the result has several, in the member's language."""

    def __init__(
        self, job: Job, images: list[discord.Attachment], nonce: int, locale: str = SOURCE
    ) -> None:
        # A custom id per opening, so two members editing the same result never swap modals.
        super().__init__(
            title=t(locale, EDIT_TITLE), custom_id=f"img:edit-modal:{job.id}:{nonce}", timeout=900
        )
        self.job = job
        self.images = images
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label=t(locale, WHAT_CHANGES),
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            min_length=1,
            max_length=PROMPT_INPUT_MAX,
        )
        self.add_item(self.prompt)
        self.number: discord.ui.TextInput[EditModal] | None = None
        if len(images) > 1:
            self.number = discord.ui.TextInput(
                label=t(locale, IMAGE_NUMBER, count=len(images)),
                custom_id="image",
                default="1",
                min_length=1,
                max_length=2,
            )
            self.add_item(self.number)

    def chosen(self) -> discord.Attachment:
        """The image the member picked (the only one when there is one)."""
        if self.number is None:
            return self.images[0]
        text = self.number.value.strip()
        if not text.isdigit() or not 1 <= int(text) <= len(self.images):
            raise BotError(lazy(BAD_NUMBER, count=len(self.images)))
        return self.images[int(text) - 1]

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        services = interaction.client.services
        model = self.job.model
        provider = await services.jobs.provider_for(interaction.guild_id or 0)
        if not provider.is_usable(model, "edit"):
            model = ""  # run_interaction_job picks the server's default edit model
        source = on_message(attachment_source(self.chosen(), services), interaction.message)
        spec = JobSpec("edit", model, self.prompt.value.strip(), images=(source,))
        await run_interaction_job(interaction, spec)

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, f"Edit form on job {self.job.id}")


class PromptModal(discord.ui.Modal):
    """The failed job's prompt, to change; the job runs again with its other settings."""

    def __init__(self, job: Job, nonce: int, locale: str = SOURCE) -> None:
        super().__init__(
            title=t(locale, PROMPT_TITLE),
            custom_id=f"img:prompt-modal:{job.id}:{nonce}",
            timeout=900,
        )
        self.job = job
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label=t(locale, PROMPT_LABEL),
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=(job.prompt or "")[:PROMPT_INPUT_MAX],
            min_length=1,
            max_length=PROMPT_INPUT_MAX,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        spec = rerun_spec(self.job, interaction.client.services, refresher(interaction))
        await run_interaction_job(interaction, replace(spec, prompt=self.prompt.value.strip()))

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, f"Prompt form on job {self.job.id}")
