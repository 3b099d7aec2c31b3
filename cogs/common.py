"""What every Discord entry point shares: one error-to-member message, and who is asking.

The tree's handler (``bot.app.ImageTree``), the buttons, the modals and reply-to-edit each catch
errors on their own (Discord routes them differently), but all of them word the member's message
here, so the same exception always reads the same. Cogs import this module, never ``bot.app``:
the composition root loads the cogs, not the other way round.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.utils import MISSING

from bot.errors import BotError
from bot.i18n import N_, SOURCE, first_locale, t
from bot.jobs import Requester
from bot.moderation import is_moderator
from bot.render import error_embed, only_requester
from bot.safety import spoilered
from bot.usage_text import jump_url

if TYPE_CHECKING:
    from bot.app import ImageBot
    from bot.store import GuildSettings

log = logging.getLogger(__name__)

UNEXPECTED = N_(
    "Something went wrong on my side. The server's moderators can find details in the log."
)
CHECK_FAILED = N_("You can't use this command here.")
BAD_VALUE = N_("I couldn't understand the value {value} for this option.")
INTERACTION_LIFETIME = datetime.timedelta(minutes=15)
TOKEN_MARGIN = datetime.timedelta(seconds=30)  # an interaction token this close to expiry is spent
NOTICE_SECONDS = 300  # how long a channel notice of a private word stays (no private way left)
NO_ONE = discord.AllowedMentions.none()
Files = Callable[[], list[discord.File]]


def member_message(error: BaseException, context: str, locale: str = SOURCE) -> str:
    """What the member is told about ``error``, in their ``locale``; anything unforeseen is
    logged with ``context``."""
    original = getattr(error, "original", error)  # the tree wraps command errors
    if isinstance(original, BotError):
        return original.render(locale)
    if isinstance(error, app_commands.CheckFailure):
        return t(locale, CHECK_FAILED)
    if isinstance(error, app_commands.TransformerError):
        return t(locale, BAD_VALUE, value=repr(error.value))
    log.error("%s failed", context, exc_info=original)
    return t(locale, UNEXPECTED)


async def report(
    interaction: discord.Interaction[ImageBot], error: BaseException, context: str
) -> None:
    """Tell the member what went wrong with this interaction (see ``member_message``), in
    their language."""
    context = f"{context} (user {interaction.user.id})"
    await send_error(interaction, member_message(error, context, await reader_locale(interaction)))


async def send_error(interaction: discord.Interaction[ImageBot], message: str) -> None:
    """Tell the member what went wrong, whether or not the interaction was answered yet."""
    await tell_privately(interaction, error_embed(message))


async def tell_privately(
    interaction: discord.Interaction[ImageBot],
    embed: discord.Embed,
    view: discord.ui.View | None = None,
    files: Files = list,
) -> None:
    """Say something only the member sees: an ephemeral answer or followup (which, after a
    deferral, replaces the "thinking…"). Once the token is gone or refused, the channel says it,
    mentioning only the member, for a few minutes."""
    if discord.utils.utcnow() < interaction.expires_at - TOKEN_MARGIN:
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    embed=embed, view=view or MISSING, files=files(), ephemeral=True,
                    allowed_mentions=NO_ONE,
                )  # fmt: skip
            else:
                await interaction.followup.send(
                    embed=embed, view=view or MISSING, files=files(), ephemeral=True,
                    allowed_mentions=NO_ONE,
                )  # fmt: skip
            return
        except discord.HTTPException as exc:
            log.info("Could not answer privately (%s, code %s)", exc.status, exc.code)
    await notify_in_channel(interaction.user, interaction.channel, embed, view, files)


async def notify_in_channel(
    member: discord.User | discord.Member,
    channel: object,
    embed: discord.Embed,
    view: discord.ui.View | None,
    files: Files,
) -> None:
    """The last resort for a private word: the channel, mentioning only the member, for a while."""
    if not isinstance(channel, discord.abc.Messageable):
        return
    try:
        await channel.send(
            content=member.mention,
            embed=embed,
            view=view or MISSING,
            files=files(),
            allowed_mentions=only_requester(member),
            delete_after=NOTICE_SECONDS,
        )
    except discord.HTTPException as exc:
        log.warning("Could not tell a member about their job at all (%s)", exc.status)


def role_ids(member: object) -> tuple[int, ...]:
    """The member's roles, without @everyone (a plain User has none)."""
    return tuple(r.id for r in getattr(member, "roles", ()) if not r.is_default())


def moderates(member: object, moderator_role_ids: Collection[int]) -> bool:
    """Manage Server, or one of the roles the server named moderator roles."""
    perms = getattr(member, "guild_permissions", None)
    return is_moderator(bool(perms and perms.manage_guild), role_ids(member), moderator_role_ids)


async def member_is_moderator(
    interaction: discord.Interaction[ImageBot], member: object | None = None
) -> bool:
    """Whether ``member`` (default: who clicked or typed) moderates the interaction's server."""
    if interaction.guild_id is None:
        return False
    store = interaction.client.services.store
    settings = await store.get_guild_settings(interaction.guild_id)
    return moderates(member or interaction.user, settings.moderator_role_ids)


def age_restricted(channel: object) -> bool:
    """Whether a channel is age-restricted (Discord's "nsfw"); a thread is if its parent is, and
    a thread whose parent isn't known, or a channel of unknown kind, is not."""
    is_nsfw = getattr(channel, "is_nsfw", None)  # Thread.is_nsfw asks its parent
    return bool(callable(is_nsfw) and is_nsfw())


def interaction_locale(interaction: discord.Interaction[ImageBot], settings: GuildSettings) -> str:
    """The member's Discord language when a catalog has it, else their server's (noting the
    server's Discord language, which every interaction in a server carries)."""
    bot = interaction.client
    bot.note_guild_locale(interaction)
    return first_locale(interaction.locale.value, bot.locale_of(settings))


async def reader_locale(interaction: discord.Interaction[ImageBot]) -> str:
    """The language to answer this interaction in (``interaction_locale``); should the server's
    settings be out of reach, the member's Discord language or the operator's default."""
    bot = interaction.client
    try:
        settings = await bot.services.store.get_guild_settings(interaction.guild_id or 0)
    except Exception:  # an error report must not fail for want of a setting
        log.warning("Could not read the server's language for an error message", exc_info=True)
        return first_locale(interaction.locale.value, bot.services.settings.locale)
    return interaction_locale(interaction, settings)


async def requester(interaction: discord.Interaction[ImageBot]) -> Requester:
    """Who is asking through this interaction, with whether they moderate this server."""
    member = interaction.user
    guild_id, channel_id = interaction.guild_id or 0, interaction.channel_id or 0
    settings = await interaction.client.services.store.get_guild_settings(guild_id)
    restricted = age_restricted(interaction.channel)
    return Requester(
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=member.id,
        role_ids=role_ids(member),
        is_moderator=moderates(member, settings.moderator_role_ids),
        interaction_expires_at=(interaction.created_at + INTERACTION_LIFETIME).timestamp(),
        display_name=member.display_name,
        age_restricted=restricted,
        spoiler=spoilered(settings, restricted),
        jump_url=jump_url(guild_id, channel_id),
        locale=interaction_locale(interaction, settings),
    )


async def message_requester(message: discord.Message, bot: ImageBot) -> Requester:
    """The author of a guild message as a requester (reply-to-edit has no interaction, so no
    member language either: theirs is the server's)."""
    assert message.guild is not None
    author = message.author
    settings = await bot.services.store.get_guild_settings(message.guild.id)
    restricted = age_restricted(message.channel)
    return Requester(
        guild_id=message.guild.id,
        channel_id=message.channel.id,
        user_id=author.id,
        role_ids=role_ids(author),
        is_moderator=moderates(author, settings.moderator_role_ids),
        display_name=author.display_name,
        age_restricted=restricted,
        spoiler=spoilered(settings, restricted),
        jump_url=jump_url(message.guild.id, message.channel.id, message.id),
        locale=bot.locale_of(settings),
    )
