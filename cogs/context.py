"""The message context menus: Edit image (asks for a prompt) and Vary image."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import N_, SOURCE, t
from bot.service import JobSpec
from cogs.common import reader_locale, report
from cogs.delivery import check_permissions, run_interaction_job
from cogs.forms import WHAT_CHANGES
from cogs.message_images import FoundImages, find_images

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
log = logging.getLogger(__name__)

EDIT_MODAL_ID = "img:ctxedit:{channel}:{message}"
# The modal waits in the bot's memory while the member types; a forgotten one is dropped after this.
MODAL_TIMEOUT = datetime.timedelta(minutes=15).total_seconds()
TITLE = N_("Edit image")
EXAMPLE = N_("e.g. give the cat a red hat")


class EditPrompt(discord.ui.Modal):
    """Asks for the prompt, in the member's language; holds the target message's images until
    the member submits."""

    def __init__(
        self, found: FoundImages, channel_id: int, message_id: int, locale: str = SOURCE
    ) -> None:
        custom_id = EDIT_MODAL_ID.format(channel=channel_id, message=message_id)
        super().__init__(title=t(locale, TITLE), custom_id=custom_id, timeout=MODAL_TIMEOUT)
        self.found = found
        self.prompt: discord.ui.TextInput[EditPrompt] = discord.ui.TextInput(
            label=t(locale, WHAT_CHANGES),
            style=discord.TextStyle.paragraph,
            placeholder=t(locale, EXAMPLE),
            custom_id="prompt",
            required=True,
            max_length=4000,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        found = self.found
        spec = JobSpec(
            "edit", "", self.prompt.value.strip(), images=found.images, mask=found.mask,
            images_found=True,
        )  # fmt: skip
        await run_interaction_job(interaction, spec)

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        # Modal errors don't pass through the tree's handler: report them the same way here.
        await report(interaction, error, "Edit image")


class ContextMenus(commands.Cog):
    """Right-click (or long-press) a message → Apps → Edit image / Vary image."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.menus = (
            app_commands.guild_only(
                app_commands.ContextMenu(name="Edit image", callback=self.edit_image)
            ),
            app_commands.guild_only(
                app_commands.ContextMenu(name="Vary image", callback=self.vary_image)
            ),
        )

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def edit_image(self, interaction: Interaction, message: discord.Message) -> None:
        """Edit this message's image with a prompt you type."""
        found = find_images(message, self.bot.services).require()
        check_permissions(interaction.app_permissions)  # refuse before the member types a prompt
        locale = await reader_locale(interaction)
        modal = EditPrompt(found, message.channel.id, message.id, locale)
        await interaction.response.send_modal(modal)

    async def vary_image(self, interaction: Interaction, message: discord.Message) -> None:
        """Make a variation of this message's first image."""
        found = find_images(message, self.bot.services).require()
        await run_interaction_job(interaction, JobSpec("variation", "", images=found.first(1)))


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(ContextMenus(bot))
