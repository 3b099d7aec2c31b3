"""Reply-to-edit: reply to a message with an image, mention the bot and say what to change.

Works without the Message Content intent: Discord sends the text of messages that mention the bot.
The progress and the result are replies to the image's message (see cogs/flow.py for the order).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, TypeVar

import discord
from discord.ext import commands
from discord.utils import MISSING

from bot import render
from bot.errors import ImageInputError
from bot.i18n import N_, SOURCE, Command, lazy, t
from bot.service import JobSpec
from cogs.common import NO_ONE, NOTICE_SECONDS, Files, member_message, message_requester
from cogs.delivery import check_permissions
from cogs.flow import JobFlow
from cogs.message_images import find_images

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.app import ImageBot

T = TypeVar("T")

log = logging.getLogger(__name__)

RETRY_BY_REPLY = N_("To try again, reply to the image and mention me again.")
HINT = N_(
    "Reply to a message that has an image (or attach one), mention me and say what to change, "
    "e.g. `@{name} add a red hat`. To make an image from words, use {imagine}."
)
REPLIED_TO_DELETED = N_("The message you replied to was deleted.")
CANT_READ_REPLIED_TO = N_(
    "I can't read the message you replied to; I need the Read Message History permission."
)
MENTION_RE = re.compile(r"<@[!&]?\d+>")


class ReplyEdit(commands.Cog):
    """Edits images when a member mentions the bot in a reply."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.guild is None or me is None:
            return
        prompt = prompt_of(message, me.id, message.guild.self_role)
        if prompt is None:
            return
        try:
            await self._edit(message, prompt)
        except discord.Forbidden as exc:
            log.info("No permission to answer in channel %s (%s)", message.channel.id, exc.code)

    async def _edit(self, message: discord.Message, prompt: str) -> None:
        assert message.guild is not None
        services = self.bot.services
        perms = message.channel.permissions_for(message.guild.me)
        if not can_send(message.channel, perms):
            log.info("Mentioned in channel %s where I can't send messages", message.channel.id)
            return
        # No interaction, so no member language: the server's, known before anything can fail.
        who = await message_requester(message, self.bot)
        surface = MessageSurface(message, who.locale)
        try:
            referenced = await referenced_message(message)
            surface.anchor = referenced or message
            found = find_images(message, services)
            if referenced is not None:
                found = find_images(referenced, services) + found
            if not prompt or not (found.images or found.mask):
                name = message.guild.me.display_name
                hint = t(who.locale, HINT, name=name, imagine=Command("imagine"))
                await surface.tell(render.status_embed(hint), None, list)
                return
            check_permissions(perms)
            found = found.require()
        except Exception as exc:
            context = f"Reply-to-edit in channel {message.channel.id} (user {message.author.id})"
            text = member_message(exc, context, who.locale)
            failure = render.failure_embed(text, prompt, locale=who.locale)
            await surface.tell(failure, None, lambda: render.prompt_file(prompt))
            return
        spec = JobSpec("edit", "", prompt, images=found.images, mask=found.mask, images_found=True)
        await JobFlow(surface, services, who, spec).run()


def prompt_of(message: discord.Message, bot_id: int, bot_role: discord.Role | None) -> str | None:
    """The text of a message addressed to the bot, its mentions removed; None if not addressed."""
    own = {f"<@{bot_id}>", f"<@!{bot_id}>", *([f"<@&{bot_role.id}>"] if bot_role else [])}
    if not any(token in message.content for token in own):
        return None  # a reply ping alone is not a request
    names = {f"<@&{r.id}>": f"@{r.name}" for r in message.role_mentions}
    for user in message.mentions:
        names[f"<@{user.id}>"] = names[f"<@!{user.id}>"] = f"@{user.display_name}"
    text = MENTION_RE.sub(lambda m: "" if m[0] in own else names.get(m[0], m[0]), message.content)
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def can_send(channel: discord.abc.MessageableChannel, perms: discord.Permissions) -> bool:
    """Whether the bot may post in this channel (threads have their own send permission)."""
    return (
        perms.send_messages_in_threads
        if isinstance(channel, discord.Thread)
        else perms.send_messages
    )


async def referenced_message(message: discord.Message) -> discord.Message | None:
    """The message this one replies to (fetched when Discord didn't include it); None if none."""
    reference = message.reference
    if reference is None or reference.type == discord.MessageReferenceType.forward:
        return None
    if isinstance(reference.resolved, discord.Message):
        return reference.resolved
    if isinstance(reference.resolved, discord.DeletedReferencedMessage):
        raise ImageInputError(lazy(REPLIED_TO_DELETED))
    if reference.message_id is None or reference.channel_id != message.channel.id:
        return None
    try:
        return await message.channel.fetch_message(reference.message_id)
    except discord.NotFound as exc:
        raise ImageInputError(lazy(REPLIED_TO_DELETED)) from exc
    except discord.Forbidden as exc:
        raise ImageInputError(lazy(CANT_READ_REPLIED_TO)) from exc


class MessageSurface:
    """A reply-to-edit job's messages: replies to the image's message, failures by DM.

    Without an interaction nothing can be ephemeral: a private word goes by direct message, or,
    when the member doesn't take DMs, as a reply that mentions only them and removes itself.
    ``locale`` is what the member reads (the server's language).
    """

    def __init__(self, message: discord.Message, locale: str = SOURCE) -> None:
        assert message.guild is not None
        self.message = message  # the member's request
        self.locale = locale
        self.anchor = message  # what the progress and the result reply to
        self.member: discord.User | discord.Member = message.author
        self.filesize_limit = message.guild.filesize_limit
        self._progress: discord.Message | None = None

    async def in_time(self, work: Awaitable[T]) -> T:
        return await work  # a message has no deadline to answer

    async def show(
        self, embed: discord.Embed, view: discord.ui.View | None, files: list[discord.File]
    ) -> None:
        if self._progress is None:
            self._progress = await self.anchor.reply(
                embed=embed, view=view or MISSING, files=files or MISSING, allowed_mentions=NO_ONE
            )
        else:
            self._progress = await self._progress.edit(
                embed=embed, view=view, attachments=files if files else MISSING
            )

    async def remove(self) -> None:
        if self._progress is None:
            return
        try:
            await self._progress.delete()
        except discord.HTTPException as exc:
            log.info("Could not remove a progress reply (%s, code %s)", exc.status, exc.code)
        self._progress = None

    async def post_result(
        self, content: str, embed: discord.Embed, files: Files, view: discord.ui.View
    ) -> discord.Message:
        mentions = render.only_requester(self.member)
        mentions.replied_user = False  # the anchor's author may be someone else
        return await self.anchor.reply(
            content=content, embed=embed, files=files(), view=view, allowed_mentions=mentions
        )

    async def tell(self, embed: discord.Embed, view: discord.ui.View | None, files: Files) -> None:
        # Buttons in a DM have no server to run in: say how to try again instead.
        embed.set_footer(text=t(self.locale, RETRY_BY_REPLY))
        try:
            await self.member.send(embed=embed, files=files(), allowed_mentions=NO_ONE)
            return
        except discord.HTTPException as exc:
            log.info("Could not DM member %s (%s, code %s)", self.member.id, exc.status, exc.code)
        try:
            await self.message.reply(
                content=self.member.mention, embed=embed, files=files(),
                allowed_mentions=render.only_requester(self.member), delete_after=NOTICE_SECONDS,
            )  # fmt: skip
        except discord.HTTPException as exc:
            log.warning("Could not tell a member about their job at all (%s)", exc.status)


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(ReplyEdit(bot))
