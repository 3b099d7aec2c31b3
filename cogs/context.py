"""The message context menus: Edit image (asks for a prompt) and Vary image."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.service import JobSpec
from cogs.common import report
from cogs.delivery import check_permissions, run_interaction_job
from cogs.message_images import FoundImages, find_images

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
log = logging.getLogger(__name__)

EDIT_MODAL_ID = "img:ctxedit:{channel}:{message}"
# The modal waits in the bot's memory while the member types; a forgotten one is dropped after this.
MODAL_TIMEOUT = datetime.timedelta(minutes=15).total_seconds()


class EditPrompt(discord.ui.Modal, title="Edit image"):
    """Asks for the prompt; holds the target message's images until the member submits."""

    prompt: discord.ui.TextInput[EditPrompt] = discord.ui.TextInput(
        label="What should change?",
        style=discord.TextStyle.paragraph,
        placeholder="e.g. give the cat a red hat",
        custom_id="prompt",
        required=True,
        max_length=4000,
    )

    def __init__(self, found: FoundImages, channel_id: int, message_id: int) -> None:
        custom_id = EDIT_MODAL_ID.format(channel=channel_id, message=message_id)
        super().__init__(custom_id=custom_id, timeout=MODAL_TIMEOUT)
        self.found = found

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
        await interaction.response.send_modal(EditPrompt(found, message.channel.id, message.id))

    async def vary_image(self, interaction: Interaction, message: discord.Message) -> None:
        """Make a variation of this message's first image."""
        found = find_images(message, self.bot.services).require()
        await run_interaction_job(interaction, JobSpec("variation", "", images=found.first(1)))


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(ContextMenus(bot))
