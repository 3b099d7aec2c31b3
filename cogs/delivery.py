"""Running a job for an interaction: defer, show progress, deliver, and every Discord fallback.

Shared by the slash commands, the context menus and the buttons. The result replaces the deferred
"thinking" message; when the interaction token has expired (or Discord no longer knows it), the
result goes to the channel as a reply mentioning the requester instead, so nothing is lost.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.errors import BotError, NotAllowed
from bot.fetch import ImageSource, download
from bot.jobs import Delivered, Requester
from bot.render import ResultInfo
from bot.service import JobSpec, Outcome
from bot.store.models import Job

if TYPE_CHECKING:
    from bot.app import ImageBot, Services

log = logging.getLogger(__name__)

TOKEN_MARGIN = datetime.timedelta(seconds=30)
TOO_LARGE = 40005
UNKNOWN_INTERACTION = 10062
INVALID_WEBHOOK_TOKEN = 50027
SHRINK_STEPS = (1.0, 0.5, 0.25)


def requester(interaction: discord.Interaction[ImageBot]) -> Requester:
    """Who is asking, as the interaction's payload tells it."""
    member = interaction.user
    roles = tuple(r.id for r in getattr(member, "roles", ()) if not r.is_default())
    perms = getattr(member, "guild_permissions", None)
    expires = interaction.created_at + datetime.timedelta(minutes=15)
    return Requester(
        guild_id=interaction.guild_id or 0,
        channel_id=interaction.channel_id or 0,
        user_id=member.id,
        role_ids=roles,
        is_moderator=bool(perms and perms.manage_guild),
        interaction_expires_at=expires.timestamp(),
    )


def attachment_source(attachment: discord.Attachment, services: Services) -> ImageSource:
    """An attachment as an image source: size known up front, bytes read only when the job runs."""

    async def read(max_bytes: int) -> bytes:
        return await download(
            services.session,
            attachment.url,
            filename=attachment.filename,
            max_bytes=max_bytes,
            allowed_hosts=services.attachment_hosts,
        )

    return ImageSource(attachment.filename, attachment.size, read, url=attachment.url)


def check_channel_permissions(interaction: discord.Interaction[ImageBot]) -> None:
    """Refuse before spending anything when the bot couldn't post the result here."""
    perms = interaction.app_permissions
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
    who = requester(interaction)
    check_channel_permissions(interaction)
    spec = await _with_model(services, who, spec)
    services.service.check(spec)  # instant refusals stay private: nothing has been posted yet
    if defer and not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    flow = InteractionFlow(interaction, services, spec)
    await services.jobs.run(who, spec, progress=flow, deliver=flow.deliver)


async def _with_model(services: Services, who: Requester, spec: JobSpec) -> JobSpec:
    import dataclasses

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

    def _token_alive(self) -> bool:
        return discord.utils.utcnow() < self.interaction.expires_at - TOKEN_MARGIN

    async def queued(self, job: Job, position: int) -> None:
        if self._token_alive():
            await self.interaction.edit_original_response(
                embed=render.progress_embed(render.queued_text(position)),
                view=render.cancel_view(job.id),
            )

    async def running(self, job: Job) -> None:
        if self._token_alive():
            await self.interaction.edit_original_response(
                embed=render.progress_embed(f"🎨 Working on it with {self.spec.model}…"),
                view=None,
            )

    async def deliver(self, job: Job, outcome: Outcome, credits: int) -> Delivered:
        info = result_info(job, self.spec, outcome, credits, self.interaction.user.display_name)
        limit = self.interaction.filesize_limit
        for step in SHRINK_STEPS:
            fitted = await self.services.service.fit_for_upload(outcome.result, int(limit * step))
            info_fitted = _with_notes(info, fitted.notes)
            try:
                if self._token_alive():
                    return await self._edit_original(info_fitted, fitted.images, job)
                return await self._to_channel(info_fitted, fitted.images, job)
            except discord.HTTPException as exc:
                if exc.code == TOO_LARGE or exc.status == 413:
                    log.info("job %s: Discord refused the upload as too large; shrinking", job.id)
                    continue
                if exc.code in (UNKNOWN_INTERACTION, INVALID_WEBHOOK_TOKEN) or exc.status == 404:
                    return await self._to_channel(info_fitted, fitted.images, job)
                raise
        raise BotError("Discord refused the images as too large, even after shrinking them.")

    async def _edit_original(self, info: ResultInfo, images: tuple, job: Job) -> Delivered:  # type: ignore[type-arg]
        message = await self.interaction.edit_original_response(
            content=None,
            embed=render.result_embed(info, images),
            attachments=render.result_files(info, images),
            view=self._view(job, len(images)),
            allowed_mentions=render.only_requester(self.interaction.user),
        )
        return Delivered(message.channel.id, message.id)

    async def _to_channel(self, info: ResultInfo, images: tuple, job: Job) -> Delivered:  # type: ignore[type-arg]
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
        can_vary = bool(self.services.catalog.names("variation"))
        return render.result_view(job.id, count, can_vary=can_vary)


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
        size=outcome.result.size or getattr(first, "size", None),
        quality=outcome.result.quality or getattr(first, "quality", None),
        style=getattr(first, "style", None),
        credits=credits,
        requester=requester_name,
        notes=outcome.notes,
    )


def _with_notes(info: ResultInfo, notes: tuple[str, ...]) -> ResultInfo:
    import dataclasses

    return dataclasses.replace(info, notes=info.notes + notes) if notes else info
