"""Jobs asked for through an interaction: slash commands, buttons, context menus and forms.

``InteractionSurface`` is where such a job's messages go (see cogs/flow.py for their order): the
public progress message is the interaction's answer, the result a followup that pings the member,
refusals are ephemeral. Once the 15-minute token has run out, the result goes to the channel
instead, mentioning only the member, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, TypeVar

import discord
from discord.utils import MISSING

from bot import render
from bot.errors import BotError, NotAllowed
from bot.fetch import ImageSource
from bot.i18n import N_, Listed, lazy, lazy_n, t
from bot.service import JobSpec
from cogs.common import NO_ONE, TOKEN_MARGIN, Files, reader_locale, requester, tell_privately
from cogs.flow import InteractionGone, JobFlow

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.app import ImageBot, Services

log = logging.getLogger(__name__)
T = TypeVar("T")

UNKNOWN_INTERACTION = 10062
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
# Discord drops an interaction not answered within 3 seconds: when the checks take longer than
# this (a very busy database), the member gets a private "thinking…" first.
ANSWER_WITHIN = 2.0
# The permissions a result needs, by the names Discord shows them under in its settings.
ATTACH_FILES = N_("Attach Files")
EMBED_LINKS = N_("Embed Links")
ON_ITS_WAY = N_("On its way: the progress is below.")
EXPIRED = N_("The interaction expired and I can't post in this channel.")


def attachment_source(attachment: discord.Attachment, services: Services) -> ImageSource:
    """An attachment as an image source: size known up front, bytes read only when the job runs."""
    return services.downloader.source(attachment.url, attachment.filename, attachment.size)


def check_permissions(perms: discord.Permissions) -> None:
    """Refuse when the bot's permissions in a channel can't carry a result (files and embed)."""
    needed = ((ATTACH_FILES, perms.attach_files), (EMBED_LINKS, perms.embed_links))
    missing = tuple(lazy(name) for name, ok in needed if not ok)
    if missing:
        raise NotAllowed(
            lazy_n(
                "I need the {permissions} permission in this channel to post images. Ask a "
                "moderator to grant it.",
                "I need the {permissions} permissions in this channel to post images. Ask a "
                "moderator to grant them.",
                len(missing),
                permissions=Listed(missing),
            )
        )


async def run_interaction_job(interaction: discord.Interaction[ImageBot], spec: JobSpec) -> None:
    """Run ``spec`` for whoever is behind ``interaction``; every outcome is told to them."""
    check_permissions(interaction.app_permissions)
    who = await requester(interaction)
    await JobFlow(InteractionSurface(interaction), interaction.client.services, who, spec).run()


def gone(exc: discord.HTTPException) -> bool:
    """Whether Discord no longer accepts this interaction's token."""
    return exc.code in (UNKNOWN_INTERACTION, UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN)


class InteractionSurface:
    """One interaction's messages: public progress, a pinging result, private refusals."""

    def __init__(self, interaction: discord.Interaction[ImageBot]) -> None:
        self.interaction = interaction
        self.member: discord.User | discord.Member = interaction.user
        self.filesize_limit = interaction.filesize_limit
        self._progress_id: int | None = None
        self._followup: discord.WebhookMessage | None = None  # the progress, when a followup
        self._private = False  # the answer is a private "thinking…" (slow checks)

    def _alive(self) -> bool:
        return discord.utils.utcnow() < self.interaction.expires_at - TOKEN_MARGIN

    async def in_time(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        response = self.interaction.response
        try:
            if not response.is_done():
                done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
                if not done:
                    await self._defer_privately()
            return await task
        except asyncio.CancelledError:
            task.cancel()
            raise

    async def _defer_privately(self) -> None:
        try:
            await self.interaction.response.defer(ephemeral=True, thinking=True)
            self._private = True
        except discord.HTTPException as exc:
            log.info("Could not defer a slow interaction (%s, code %s)", exc.status, exc.code)

    async def show(
        self, embed: discord.Embed, view: discord.ui.View | None, files: list[discord.File]
    ) -> None:
        interaction = self.interaction
        try:
            if self._progress_id is None:
                await self._post(embed, view, files)
            elif self._alive():
                attachments = files if files else MISSING
                if self._followup is not None:
                    await self._followup.edit(embed=embed, view=view, attachments=attachments)
                else:
                    await interaction.edit_original_response(
                        embed=embed, view=view, attachments=attachments
                    )
        except discord.HTTPException as exc:
            if self._progress_id is None and gone(exc):
                raise InteractionGone() from exc
            raise

    async def _post(
        self, embed: discord.Embed, view: discord.ui.View | None, files: list[discord.File]
    ) -> None:
        interaction = self.interaction
        if not interaction.response.is_done():
            sent = await interaction.response.send_message(
                embed=embed, view=view or MISSING, files=files or MISSING, allowed_mentions=NO_ONE
            )
            self._progress_id = sent.message_id or 0
            return
        if self._private:
            # Resolve the private "thinking…" first: Discord would turn the first followup into
            # it, and the progress would be private.
            text = t(await reader_locale(interaction), ON_ITS_WAY)
            await interaction.edit_original_response(embed=render.status_embed(text))
        self._followup = await interaction.followup.send(
            embed=embed, view=view or MISSING, files=files or MISSING, wait=True,
            allowed_mentions=NO_ONE,
        )  # fmt: skip
        self._progress_id = self._followup.id

    async def remove(self) -> None:
        interaction = self.interaction
        try:
            if self._followup is not None:
                await self._followup.delete()
            elif self._progress_id is not None:
                if self._alive():
                    await interaction.delete_original_response()
                elif isinstance(interaction.channel, discord.abc.Messageable) and self._progress_id:
                    await interaction.channel.get_partial_message(self._progress_id).delete()  # type: ignore[union-attr]
            if self._private and self._alive():
                await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.info("Could not remove a progress message (%s, code %s)", exc.status, exc.code)
        self._progress_id = self._followup = None
        self._private = False

    async def post_result(
        self, content: str, embed: discord.Embed, files: Files, view: discord.ui.View
    ) -> discord.Message:
        mentions = render.only_requester(self.member)
        if self._alive():
            try:
                return await self.interaction.followup.send(
                    content=content, embed=embed, files=files(), view=view, wait=True,
                    allowed_mentions=mentions,
                )  # fmt: skip
            except discord.HTTPException as exc:
                if not gone(exc):
                    raise
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise BotError(lazy(EXPIRED))
        return await channel.send(
            content=content, embed=embed, files=files(), view=view, allowed_mentions=mentions
        )

    async def tell(self, embed: discord.Embed, view: discord.ui.View | None, files: Files) -> None:
        await tell_privately(self.interaction, embed, view, files)
