"""/favourites (the jobs a member saved with ⭐) and /show (a job's result posted again).

/show reads the stored result message again: Discord hands out fresh links to its files with
every read (the old ones expire), so the images are downloaded from those and posted anew under
the same embed and live buttons as a fresh result. Reroll and Edit on the new message then work
as on the first; inputs whose links expired are read again from their messages (cogs/forms.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import library, render, views
from bot.errors import JobNotFound, NotAllowed
from bot.i18n import lazy, t
from bot.images.sniff import sniff_format
from bot.images.types import GeneratedImage
from bot.jobs import require_channel
from bot.render import ResultInfo
from bot.store.models import Job
from bot.usage_text import jump_url
from cogs.buttons import MAX_JOB_ID
from cogs.common import NO_ONE, age_restricted, member_is_moderator, reader_locale, requester
from cogs.delivery import attachment_source, check_permissions
from cogs.message_images import is_image
from cogs.moderation import guild_id, reply_pages
from cogs.results import result_view

if TYPE_CHECKING:
    from bot.app import ImageBot

log = logging.getLogger(__name__)
Interaction = discord.Interaction["ImageBot"]
JobNumber = app_commands.Range[int, 1, MAX_JOB_ID]


class Library(commands.Cog):
    """Favourites and showing results again."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="favourites")
    @app_commands.guild_only()
    @app_commands.describe(page="Which page, 20 to a page (default: the first)")
    async def favourites(
        self, interaction: Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        """The results you saved with ⭐, newest first; /show posts one again."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        store, gid, uid = self.bot.services.store, guild_id(interaction), interaction.user.id
        total = await store.count_favourites(gid, uid)
        offset = (page - 1) * library.PER_PAGE
        saved = await store.favourites(gid, uid, library.PER_PAGE, offset) if total else []
        locale = await reader_locale(interaction)
        lines = library.favourites_lines(page, total, saved, locale)
        await reply_pages(interaction, library.favourites_title(page, total, locale), lines)

    @app_commands.command(name="show")
    @app_commands.guild_only()
    @app_commands.describe(job="The job's number (see /favourites, or a result's footer)")
    async def show(self, interaction: Interaction, job: JobNumber) -> None:
        """Post one of your results again, with working buttons."""
        found = await self._showable(interaction, job)
        message = await self._result_message(found)
        attachments = [a for a in message.attachments if is_image(a)] if message else []
        if message is None or not attachments:
            locale = await reader_locale(interaction)
            await interaction.response.send_message(
                embed=render.status_embed(library.no_images(found).render(locale)),
                view=views.reroll_view(found.id, locale),
                ephemeral=True,
            )
            return
        await interaction.response.defer(thinking=True)
        try:
            await self._post(interaction, found, attachments, message)
        except BaseException:
            # The public "thinking…" goes, so the member's error is told privately instead.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            raise

    async def _showable(self, interaction: Interaction, job_id: int) -> Job:
        """The job, when this member may show it in this channel; else the refusal."""
        services, gid = self.bot.services, guild_id(interaction)
        job = await services.store.get_job(gid, job_id)
        if job is None:
            raise JobNotFound(library.not_found(job_id))
        if not (
            job.user_id == interaction.user.id
            or await services.store.is_favourite(gid, interaction.user.id, job.id)
            or await member_is_moderator(interaction)
        ):
            raise NotAllowed(library.not_yours(job_id))
        require_channel(await services.store.get_guild_settings(gid), interaction.channel_id or 0)
        refusal = library.unshowable(job, age_restricted=age_restricted(interaction.channel))
        if refusal:
            raise NotAllowed(refusal)
        if job.status == "succeeded":
            check_permissions(interaction.app_permissions)
        return job

    async def _result_message(self, job: Job) -> discord.Message | None:
        """The job's result message read again (fresh links to its files); None when gone."""
        if job.status != "succeeded" or not (job.result_channel_id and job.result_message_id):
            return None
        channel = self.bot.get_partial_messageable(job.result_channel_id, guild_id=job.guild_id)
        try:
            return await channel.fetch_message(job.result_message_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as exc:
            log.info("job %s: could not read its result message (%s)", job.id, exc.status)
            raise NotAllowed(
                lazy(
                    "I can no longer read the channel that result was posted in, so I can't show it."
                )
            ) from exc

    async def _post(
        self,
        interaction: Interaction,
        job: Job,
        attachments: list[discord.Attachment],
        message: discord.Message,
    ) -> None:
        services = self.bot.services
        limit = interaction.filesize_limit
        data = await asyncio.gather(
            *(attachment_source(a, services).read(limit) for a in attachments)
        )
        images = [
            GeneratedImage(
                d, sniff_format(d) or "png", a.width or 0, a.height or 0, job.revised_prompt
            )
            for d, a in zip(data, attachments, strict=True)
        ]
        who = await requester(interaction)
        spoiler = who.spoiler or any(a.is_spoiler() for a in attachments)
        info = stored_info(job, spoiler=spoiler, locale=who.locale)
        try:
            provider = await services.jobs.provider_for(job.guild_id)
            view = result_view(provider, job, len(images), who.locale)
        except NotAllowed:  # no provider now: the images can still be shown, the buttons say why
            view = views.result_view(job.id, len(images), can_vary=False, locale=who.locale)
        link = jump_url(job.guild_id, message.channel.id, message.id)
        await interaction.edit_original_response(
            content=library.shown_again(job, link, who.locale),
            embed=render.result_embed(info, images),
            attachments=render.result_files(info, images),
            view=view,
            allowed_mentions=NO_ONE,
        )


def stored_info(job: Job, *, spoiler: bool, locale: str) -> ResultInfo:
    """What the result embed says about a stored job (as it said when it was first posted), in
    the language of the member who shows it."""
    params = job.params
    return ResultInfo(
        job_id=job.id,
        operation=job.operation,
        model=job.model,
        prompt=job.prompt or "",
        size=params.get("size"),
        quality=params.get("quality"),
        style=params.get("style"),
        credits=job.credits,
        requester=job.requester_name or t(locale, "a member"),
        spoiler=spoiler,
        locale=locale,
    )


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Library(bot))
