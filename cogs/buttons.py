"""The persistent buttons under results: Re-roll, Vary n, Edit, Save (⭐), Delete, and Cancel
while queued.

Each button is a ``DynamicItem`` whose custom id (see ``bot.render``) carries the job id, so the
buttons keep working after a restart: every click reads the job back from the store. Errors of
these callbacks never reach the tree's handler, so ``JobButton.callback`` reports them itself.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import render, views
from bot.errors import BotError, JobNotFound, NotAllowed
from bot.i18n import N_, Command, lazy, t
from bot.service import JobSpec
from bot.store.models import IN_FLIGHT, Job
from cogs.common import member_is_moderator, reader_locale, report
from cogs.delivery import attachment_source, run_interaction_job
from cogs.forms import EditModal, PromptModal, refresher, rerun_spec
from cogs.message_images import on_message

if TYPE_CHECKING:
    from bot.app import ImageBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction["ImageBot"]
Button = discord.ui.Button[Any]

GONE = N_(
    "That job is no longer stored, so this button can't redo it. Use {imagine} to start again."
)
GONE_DELETE = N_(
    "That job is no longer stored, so I can't tell who may delete these images. "
    "A moderator can delete the message from Discord's message menu."
)
GONE_CANCEL = N_("That job is no longer stored, so there is nothing to cancel.")
ONLY_DELETE = N_("Only the person who asked for these images or a moderator can delete them.")
ONLY_CANCEL = N_("Only the person who asked for this job or a moderator can cancel it.")
ALREADY_RUNNING = N_("It's already being made; it can't be cancelled now.")
ALREADY_DONE = N_("That job has already finished, so there is nothing to cancel.")
IMAGE_GONE = N_("That image is no longer on this message.")
ONLY_RETRY = N_("Only the person who asked for this job can try it again.")
CONFIRM_DELETE = N_("Delete these images for everyone? This can't be undone.")
NOT_DELETED = N_("Discord didn't let me delete that message.")
DELETED = N_("Deleted.")
KEPT = N_("Kept.")
CANCELLED = N_("Cancelled. Nothing was charged.")
SAVED = N_("Saved to your favourites ({favourites}).")
UNSAVED = N_("Removed from your favourites.")
FAVOURITES = Command("favourites")
MAX_JOB_ID = 2**63 - 1  # the store's ids are signed 64-bit; anything larger can't exist


async def find_job(interaction: Interaction, job_id: int, gone: str) -> Job:
    """The clicked job of this guild; JobNotFound (saying ``gone``) when it was deleted or
    belongs elsewhere."""
    guild_id = interaction.guild_id
    job = None
    if guild_id is not None and 0 < job_id <= MAX_JOB_ID:
        job = await interaction.client.services.store.get_job(guild_id, job_id)
    if job is None:
        raise JobNotFound(lazy(gone, imagine=Command("imagine")))
    return job


async def may_manage(interaction: Interaction, job: Job) -> bool:
    """The requester, a member who can manage messages here, or one of the server's moderators."""
    if interaction.user.id == job.user_id or interaction.permissions.manage_messages:
        return True
    return await member_is_moderator(interaction)


def result_image(interaction: Interaction, index: int) -> discord.Attachment:
    """The ``index``-th image of the clicked result message."""
    attachments = interaction.message.attachments if interaction.message else []
    if not 0 <= index < len(attachments):
        raise BotError(lazy(IMAGE_GONE))
    return attachments[index]


class JobButton(discord.ui.DynamicItem[Button], template=r"(?!)"):
    """A button naming a job; subclasses set their own template and implement ``act``."""

    gone = GONE

    def __init__(self, item: Button, job_id: int, index: int = 0) -> None:
        super().__init__(item)
        self.job_id = job_id
        self.index = index

    # discord.py types the interaction by a generic client; these buttons only ever run in ImageBot.
    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        index = int(match["index"]) if "index" in match.groupdict() else 0
        return cls(item, int(match["job"]), index)  # type: ignore[arg-type]

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            job = await find_job(interaction, self.job_id, self.gone)
            await self.act(interaction, job)
        except Exception as error:  # callbacks of dynamic items bypass the tree's on_error
            await report(interaction, error, f"{type(self).__name__} on job {self.job_id}")

    async def act(self, interaction: Interaction, job: Job) -> None:
        raise NotImplementedError


class RerollButton(JobButton, template=views.REROLL_RE):
    """Run the same job again; the member who clicks pays."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        spec = rerun_spec(job, interaction.client.services, refresher(interaction))
        await run_interaction_job(interaction, spec)


class VaryButton(JobButton, template=views.VARY_RE):
    """Variations of one image of the result: with the result's model while it can vary them,
    else with the server's default."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        services = interaction.client.services
        image = attachment_source(result_image(interaction, self.index), services)
        source = on_message(image, interaction.message)
        provider = await services.jobs.provider_for(job.guild_id)
        model = job.model if provider.is_usable(job.model, "variation") else ""
        await run_interaction_job(interaction, JobSpec("variation", model, images=(source,)))


class EditButton(JobButton, template=views.EDIT_RE):
    """Ask what to change (and which image), then edit it."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        images = list(interaction.message.attachments) if interaction.message else []
        if not images:
            raise BotError(lazy(IMAGE_GONE))
        locale = await reader_locale(interaction)
        await interaction.response.send_modal(EditModal(job, images, interaction.id, locale))


class DeleteButton(JobButton, template=views.DELETE_RE):
    """Ask, privately, whether to remove the result message (the job stays in the audit log)."""

    gone = GONE_DELETE

    async def act(self, interaction: Interaction, job: Job) -> None:
        if not await may_manage(interaction, job):
            raise NotAllowed(lazy(ONLY_DELETE))
        message_id = interaction.message.id if interaction.message else 0
        locale = await reader_locale(interaction)
        await interaction.response.send_message(
            embed=render.status_embed(t(locale, CONFIRM_DELETE)),
            view=views.delete_confirm_view(job.id, message_id, locale),
            ephemeral=True,
        )


class ConfirmDeleteButton(JobButton, template=views.DELETE_YES_RE):
    """Yes, delete: remove the result message named in the custom id."""

    gone = GONE_DELETE

    async def act(self, interaction: Interaction, job: Job) -> None:
        if not await may_manage(interaction, job):
            raise NotAllowed(lazy(ONLY_DELETE))
        channel = interaction.channel
        if isinstance(channel, discord.abc.Messageable) and self.index:
            try:
                await channel.get_partial_message(self.index).delete()  # type: ignore[union-attr]
            except discord.NotFound:
                pass  # someone else deleted it first: the outcome the member wanted
            except discord.HTTPException as exc:
                log.info("Could not delete the result of job %s (%s)", job.id, exc.status)
                raise BotError(lazy(NOT_DELETED)) from exc
        log.info("Job %s: result deleted by %s", job.id, interaction.user.id)
        text = t(await reader_locale(interaction), DELETED)
        await interaction.response.edit_message(embed=render.status_embed(text), view=None)


class KeepButton(JobButton, template=views.KEEP_RE):
    """Keep: the member changed their mind about deleting."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        text = t(await reader_locale(interaction), KEPT)
        await interaction.response.edit_message(embed=render.status_embed(text), view=None)


class RetryButton(JobButton, template=views.RETRY_RE):
    """Try a failed job again with the same settings."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        if interaction.user.id != job.user_id:
            raise NotAllowed(lazy(ONLY_RETRY))
        spec = rerun_spec(job, interaction.client.services, refresher(interaction))
        await run_interaction_job(interaction, spec)


class RepromptButton(JobButton, template=views.REPROMPT_RE):
    """Change the prompt of a failed job (shown whole, to shorten), then run it again."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        if interaction.user.id != job.user_id:
            raise NotAllowed(lazy(ONLY_RETRY))
        locale = await reader_locale(interaction)
        await interaction.response.send_modal(PromptModal(job, interaction.id, locale))


class StarButton(JobButton, template=views.STAR_RE):
    """Save the result to the clicker's favourites; a second press takes it out again."""

    async def act(self, interaction: Interaction, job: Job) -> None:
        store = interaction.client.services.store
        saved = await store.toggle_favourite(job.guild_id, interaction.user.id, job.id)
        text = t(
            await reader_locale(interaction), SAVED if saved else UNSAVED, favourites=FAVOURITES
        )
        await interaction.response.send_message(embed=render.status_embed(text), ephemeral=True)


class CancelButton(JobButton, template=views.CANCEL_RE):
    """Take a job out of the queue before it starts; its credits come back."""

    gone = GONE_CANCEL

    async def act(self, interaction: Interaction, job: Job) -> None:
        if not await may_manage(interaction, job):
            raise NotAllowed(lazy(ONLY_CANCEL))
        if interaction.client.services.jobs.cancel(job.id):
            # The job's own task refunds, records the cancel and takes the progress away.
            text = t(await reader_locale(interaction), CANCELLED)
            await interaction.response.send_message(embed=render.status_embed(text), ephemeral=True)
            return
        raise BotError(lazy(ALREADY_RUNNING if job.status in IN_FLIGHT else ALREADY_DONE))


BUTTONS: tuple[type[JobButton], ...] = (
    RerollButton,
    VaryButton,
    EditButton,
    DeleteButton,
    ConfirmDeleteButton,
    KeepButton,
    CancelButton,
    RetryButton,
    RepromptButton,
    StarButton,
)


class Buttons(commands.Cog):
    """Registers the result buttons for as long as the extension is loaded."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*BUTTONS)


async def setup(bot: ImageBot) -> None:
    """Answer clicks on every result's buttons, including those sent before a restart."""
    bot.add_dynamic_items(*BUTTONS)
    await bot.add_cog(Buttons(bot))
