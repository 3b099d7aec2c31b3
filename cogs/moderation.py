"""What every moderator command shares: the server-side check, the guild, the private answer.

Every moderator command is checked on the bot's side (``moderators_only``, each cog's
``interaction_check``), whatever the client shows; ``default_permissions`` only hides the groups
from members without Manage Server. Replies are ephemeral and never ping. The commands live in
``cogs/quota.py`` (/quota), ``cogs/settings.py`` (/settings) and ``cogs/usage.py``. Every change
they make is posted to the moderation log through ``announce_change``. What they answer is in the
moderator's own language: ``reply`` and ``reply_pages`` take ``Words`` (a ``Text`` is put in it;
a plain string was worded already), ``confirmation`` the moderator's ``locale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import audit_text, usage_text
from bot.errors import NotAllowed
from bot.i18n import N_, SOURCE, Words, lazy, render, t
from bot.moderation import MAX_CREDITS, MODERATORS_ONLY
from bot.render import DESCRIPTION_LIMIT, OK_COLOUR, shorten
from bot.store import Change
from cogs.common import member_is_moderator, reader_locale

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
Credits = app_commands.Range[int, 0, MAX_CREDITS]
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)
NO_PINGS = discord.AllowedMentions.none()
PAGED_MESSAGES = 5  # a listing answers in at most this many ephemeral messages
CHANGE_TITLE = N_("⚙️ Settings changed")
NOTHING_CHANGED = N_("Nothing changed: it was already set that way.")
SERVERS_ONLY = N_("This command only works in a server.")


class ModeratorsOnly(app_commands.CheckFailure, NotAllowed):
    """A check failure the tree shows like any BotError: the member isn't a moderator."""


def guild_id(interaction: Interaction) -> int:
    """The guild the command runs in; every store call is scoped by it."""
    if interaction.guild_id is None:
        raise NotAllowed(lazy(SERVERS_ONLY))
    return interaction.guild_id


async def moderators_only(interaction: Interaction) -> bool:
    """The server-side check of every moderator command."""
    if interaction.guild_id is None:
        raise ModeratorsOnly(lazy(SERVERS_ONLY))
    if not await member_is_moderator(interaction):
        raise ModeratorsOnly(lazy(MODERATORS_ONLY))
    return True


async def reply(
    interaction: Interaction,
    text: Words,
    *,
    title: Words | None = None,
    files: Sequence[discord.File] = (),
) -> None:
    """Answer a deferred command: one ephemeral embed (and files), pinging nobody, in the
    moderator's language."""
    locale = await reader_locale(interaction)
    description = shorten(render(locale, text), DESCRIPTION_LIMIT)
    heading = None if title is None else render(locale, title)
    embed = discord.Embed(title=heading, description=description, colour=OK_COLOUR)
    await interaction.edit_original_response(
        embed=embed, attachments=list(files), allowed_mentions=NO_PINGS
    )


def confirmation(done: Words, changed: bool, locale: str = SOURCE) -> str:
    """The first line of a change's answer in ``locale`` (the moderator's): what was done, or
    that nothing needed doing."""
    return f"✅ {render(locale, done)}" if changed else t(locale, NOTHING_CHANGED)


async def reply_pages(interaction: Interaction, title: Words, lines: Sequence[Words]) -> None:
    """Answer a deferred command with a listing: embeds paged to Discord's limits, no pings, in
    the moderator's language."""
    locale = await reader_locale(interaction)
    messages = usage_text.pages([render(locale, line) for line in lines])
    for number, descriptions in enumerate(messages[:PAGED_MESSAGES]):
        embeds = [discord.Embed(description=d, colour=OK_COLOUR) for d in descriptions]
        if number == 0:
            embeds[0].title = render(locale, title)
            await interaction.edit_original_response(embeds=embeds, allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(
                embeds=embeds, ephemeral=True, allowed_mentions=NO_PINGS
            )


async def announce_change(
    interaction: Interaction, change: Change | None, *, log_was: int | None = None
) -> None:
    """Post a moderator's change to the moderation log; a change that changed nothing isn't.

    ``log_was``: the log channel before the change, where turning the log off is told.
    """
    if change is None:
        return
    bot = interaction.client
    locale = await bot.server_locale(change.guild_id)
    text = shorten(audit_text.change_post(change, locale), DESCRIPTION_LIMIT)
    embed = discord.Embed(title=t(locale, CHANGE_TITLE), description=text, colour=OK_COLOUR)
    await bot.mod_log(change.guild_id, embed, channel_id=log_was)


class ModeratorCog(commands.Cog):
    """A cog whose every command is for moderators, checked on the bot's side."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await moderators_only(interaction)
