"""What every moderator command shares: the server-side check, the guild, the private answer.

Every moderator command is checked on the bot's side (``moderators_only``, each cog's
``interaction_check``), whatever the client shows; ``default_permissions`` only hides the groups
from members without Manage Server. Replies are ephemeral and never ping. The commands live in
``cogs/quota.py`` (/quota), ``cogs/settings.py`` (/settings) and ``cogs/usage.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import NotAllowed
from bot.moderation import MAX_CREDITS, MODERATORS_ONLY
from bot.render import DESCRIPTION_LIMIT, OK_COLOUR, shorten
from cogs.common import member_is_moderator

if TYPE_CHECKING:
    from bot.app import ImageBot  # noqa: F401 (the Interaction alias names it)

Interaction = discord.Interaction["ImageBot"]
Credits = app_commands.Range[int, 0, MAX_CREDITS]
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)
NO_PINGS = discord.AllowedMentions.none()


class ModeratorsOnly(app_commands.CheckFailure, NotAllowed):
    """A check failure the tree shows like any BotError: the member isn't a moderator."""


def guild_id(interaction: Interaction) -> int:
    """The guild the command runs in; every store call is scoped by it."""
    if interaction.guild_id is None:
        raise NotAllowed("This command only works in a server.")
    return interaction.guild_id


async def moderators_only(interaction: Interaction) -> bool:
    """The server-side check of every moderator command."""
    if interaction.guild_id is None:
        raise ModeratorsOnly("This command only works in a server.")
    if not await member_is_moderator(interaction):
        raise ModeratorsOnly(MODERATORS_ONLY)
    return True


async def reply(
    interaction: Interaction,
    text: str,
    *,
    title: str | None = None,
    files: Sequence[discord.File] = (),
) -> None:
    """Answer a deferred command: one ephemeral embed (and files), pinging nobody."""
    embed = discord.Embed(
        title=title, description=shorten(text, DESCRIPTION_LIMIT), colour=OK_COLOUR
    )
    await interaction.edit_original_response(
        embed=embed, attachments=list(files), allowed_mentions=NO_PINGS
    )
