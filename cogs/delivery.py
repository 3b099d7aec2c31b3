"""Running a job for an interaction: defer, show progress, deliver, and every Discord fallback.

Shared by the slash commands, the context menus and the buttons. The result replaces the deferred
"thinking" message; when the interaction token has expired (or Discord no longer knows it), the
result goes to the channel as a reply mentioning the requester instead, so nothing is lost.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.errors import BotError, NotAllowed
from bot.fetch import ImageSource
from bot.images.types import GeneratedImage
from bot.jobs import Delivered, Requester
from bot.render import ResultInfo
from bot.scheduler import JobCancelled
from bot.service import JobSpec, Outcome
from bot.store.models import Job
from cogs.common import requester

if TYPE_CHECKING:
    from bot.app import ImageBot, Services

log = logging.getLogger(__name__)
Images = tuple[GeneratedImage, ...]

TOKEN_MARGIN = datetime.timedelta(seconds=30)
TOO_LARGE = 40005
UNKNOWN_INTERACTION = 10062
INVALID_WEBHOOK_TOKEN = 50027
UPLOAD_TRIES = 3
# Every finished job moves the whole queue: with hundreds waiting, editing each member's message on
# every move would be thousands of Discord calls. Show the first place, then one update per period.
POSITION_EVERY = 15.0


def attachment_source(attachment: discord.Attachment, services: Services) -> ImageSource:
    """An attachment as an image source: size known up front, bytes read only when the job runs."""
    return services.downloader.source(attachment.url, attachment.filename, attachment.size)


def check_channel_permissions(interaction: discord.Interaction[ImageBot]) -> None:
    """Refuse before spending anything when the bot couldn't post the result here."""
    check_permissions(interaction.app_permissions)


def check_permissions(perms: discord.Permissions) -> None:
    """Refuse when the bot's permissions in a channel can't carry a result (files and embed)."""
    missing = [
        name
        for name, ok in (("Attach Files", perms.attach_files), ("Embed Links", perms.embed_links))
        if not ok
    ]
    if missing:
        raise NotAllowed(
            f"I need the {' and '.join(missing)} permission in this channel to post images. "
            "Ask a moderator to grant it."
        )


async def run_interaction_job(
    interaction: discord.Interaction[ImageBot], spec: JobSpec, *, defer: bool = True
) -> None:
    """Validate, defer, run the job and deliver its images (errors reach the tree's handler)."""
    services = interaction.client.services
    who = await requester(interaction)
    check_channel_permissions(interaction)
    spec = await _with_model(services, who, spec)
    services.service.check(spec)  # instant refusals stay private: nothing has been posted yet
    if defer and not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    flow = InteractionFlow(interaction, services, spec)
    try:
        await services.jobs.run(who, spec, progress=flow, deliver=flow.deliver)
    except JobCancelled:
        # Not an error: the Cancel button already told the member; the runner refunded.
        log.info("A queued job of %s was cancelled", who.user_id)


async def _with_model(services: Services, who: Requester, spec: JobSpec) -> JobSpec:
    model = await services.jobs.resolve_model(who, spec.model or None, spec.operation)
    return dataclasses.replace(spec, model=model)


class InteractionFlow:
    """Progress and delivery of one job through its interaction (or its channel as fallback)."""

    def __init__(
        self, interaction: discord.Interaction[ImageBot], services: Services, spec: JobSpec
    ) -> None:
        self.interaction = interaction
        self.services = services
        self.spec = spec
        self._position_shown_at = float("-inf")

    def _token_alive(self) -> bool:
        return discord.utils.utcnow() < self.interaction.expires_at - TOKEN_MARGIN

    async def queued(self, job: Job, position: int) -> None:
        now = time.monotonic()
        if now - self._position_shown_at < POSITION_EVERY:
            return
        self._position_shown_at = now
        await self._progress(render.queued_text(position), render.cancel_view(job.id))

    async def running(self, job: Job) -> None:
        # A job that never waited still shows Discord's "thinking…", which says as much: only a
        # shown queue place (and its Cancel button) needs replacing.
        if self._position_shown_at > float("-inf"):
            await self._progress(f"🎨 Working on it with {self.spec.model}…", None)

    async def _progress(self, text: str, view: discord.ui.View | None) -> None:
        # Progress is a courtesy: a Discord hiccup here must not cost the member their job.
        if not self._token_alive():
            return
        try:
            await self.interaction.edit_original_response(
                embed=render.progress_embed(text), view=view
            )
        except discord.HTTPException as exc:
            log.info("Could not show a job's progress (%s, code %s)", exc.status, exc.code)

    async def deliver(self, job: Job, outcome: Outcome, credits: int) -> Delivered:
        info = result_info(job, self.spec, outcome, credits, self.interaction.user.display_name)
        limit = self.interaction.filesize_limit
        return await upload_shrinking(self.services, job, outcome, info, limit, self._send)

    async def _send(self, info: ResultInfo, images: Images, job: Job) -> Delivered:
        try:
            if self._token_alive():
                return await self._edit_original(info, images, job)
            return await self._to_channel(info, images, job)
        except discord.HTTPException as exc:
            if exc.code in (UNKNOWN_INTERACTION, INVALID_WEBHOOK_TOKEN) or exc.status == 404:
                return await self._to_channel(info, images, job)
            raise

    async def _edit_original(self, info: ResultInfo, images: Images, job: Job) -> Delivered:
        message = await self.interaction.edit_original_response(
            content=None,
            embed=render.result_embed(info, images),
            attachments=render.result_files(info, images),
            view=self._view(job, len(images)),
            allowed_mentions=render.only_requester(self.interaction.user),
        )
        return Delivered(message.channel.id, message.id)

    async def _to_channel(self, info: ResultInfo, images: Images, job: Job) -> Delivered:
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise BotError("The interaction expired and I can't post in this channel.")
        message = await channel.send(
            content=f"{self.interaction.user.mention}, your images are ready.",
            embed=render.result_embed(info, images),
            files=render.result_files(info, images),
            view=self._view(job, len(images)),
            allowed_mentions=render.only_requester(self.interaction.user),
        )
        return Delivered(message.channel.id, message.id)

    def _view(self, job: Job, count: int) -> discord.ui.View:
        return result_view(self.services, job, count)


def result_view(services: Services, job: Job, count: int) -> discord.ui.View:
    """The result's buttons; Vary only when some model here can make variations."""
    return render.result_view(job.id, count, can_vary=bool(services.provider.usable("variation")))


def result_info(
    job: Job, spec: JobSpec, outcome: Outcome, credits: int | None, requester_name: str
) -> ResultInfo:
    """What the result embed says about a job."""
    first = outcome.requests[0] if outcome.requests else None
    return ResultInfo(
        job_id=job.id,
        operation=spec.operation,
        model=spec.model,
        prompt=spec.prompt,
        size=outcome.result.size or (first.params.size if first else None),
        quality=outcome.result.quality or (first.params.quality if first else None),
        style=first.params.style if first else None,
        credits=credits,
        requester=requester_name,
        notes=outcome.notes,
    )


async def upload_shrinking(
    services: Services,
    job: Job,
    outcome: Outcome,
    info: ResultInfo,
    limit: int,
    send: Callable[[ResultInfo, Images, Job], Awaitable[Delivered]],
) -> Delivered:
    """Send the result; when Discord says it is too large, shrink the images and try again."""
    total: int | None = None
    for _ in range(UPLOAD_TRIES):
        fitted = await services.service.fit_for_upload(outcome.result, limit, total)
        try:
            return await send(_with_notes(info, fitted.notes), fitted.images, job)
        except discord.HTTPException as exc:
            if exc.code == TOO_LARGE or exc.status == 413:
                log.info("job %s: Discord refused the upload as too large; shrinking", job.id)
                # Halve what was refused: it can be well under the per-file limit (Discord
                # counts the whole message), so shrinking against that limit would change nothing.
                total = sum(len(image.data) for image in fitted.images) // 2
                continue
            raise
    raise BotError("Discord refused the images as too large, even after shrinking them.")


def _with_notes(info: ResultInfo, notes: tuple[str, ...]) -> ResultInfo:
    return dataclasses.replace(info, notes=info.notes + notes) if notes else info
