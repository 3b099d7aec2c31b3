"""Reply-to-edit: reply to a message with an image, mention the bot and say what to change.

Works without the Message Content intent: Discord sends the text of messages that mention the bot.
The progress line is a reply to the image's message, edited into the result (or the error).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord.ext import commands
from discord.utils import MISSING

from bot import render
from bot.errors import ImageInputError
from bot.jobs import Delivered, Requester
from bot.scheduler import JobCancelled
from bot.service import JobSpec, Outcome
from bot.store.models import Job
from cogs.common import member_message, message_requester
from cogs.delivery import (
    Images,
    check_permissions,
    result_info,
    result_view,
    upload_shrinking,
)
from cogs.message_images import FoundImages, find_images

if TYPE_CHECKING:
    from bot.app import ImageBot, Services

log = logging.getLogger(__name__)

HINT = (
    "Reply to a message that has an image (or attach one), mention me and say what to change, "
    "e.g. `@{name} add a red hat`. To make an image from words, use /imagine."
)
MENTION_RE = re.compile(r"<@[!&]?\d+>")
NO_ONE = discord.AllowedMentions.none()


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
        flow = MessageFlow(message, services)
        try:
            referenced = await referenced_message(message)
            flow.anchor = referenced or message
            found = find_images(message, services)
            if referenced is not None:
                found = find_images(referenced, services) + found
            if not prompt or not (found.images or found.mask):
                name = message.guild.me.display_name
                await message.reply(HINT.format(name=name), allowed_mentions=NO_ONE)
                return
            check_permissions(perms)
            who = await message_requester(message, services.store)
            flow.spec = await edit_spec(services, who, prompt, found.require())
            await services.jobs.run(who, flow.spec, progress=flow, deliver=flow.deliver)
        except JobCancelled:
            # Not an error: the Cancel button already said so on the progress line.
            log.info("A queued reply-to-edit job of %s was cancelled", message.author.id)
        except discord.Forbidden:
            raise
        except Exception as exc:
            context = f"Reply-to-edit in channel {message.channel.id} (user {message.author.id})"
            await flow.fail(member_message(exc, context))


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
        raise ImageInputError("The message you replied to was deleted.")
    if reference.message_id is None or reference.channel_id != message.channel.id:
        return None
    try:
        return await message.channel.fetch_message(reference.message_id)
    except discord.NotFound as exc:
        raise ImageInputError("The message you replied to was deleted.") from exc
    except discord.Forbidden as exc:
        raise ImageInputError(
            "I can't read the message you replied to; I need the Read Message History permission."
        ) from exc


async def edit_spec(services: Services, who: Requester, prompt: str, found: FoundImages) -> JobSpec:
    """An edit with the server's model, as many of the images as it takes, and the mask."""
    model = await services.jobs.resolve_model(who, None, "edit")
    limit = services.provider.require(model, "edit").input.max_images
    return JobSpec("edit", model, prompt, images=found.first(limit), mask=found.mask)


class MessageFlow:
    """Progress and delivery of one job as a reply that is edited as the job moves on."""

    def __init__(self, message: discord.Message, services: Services) -> None:
        self.message = message  # the member's request
        self.anchor = message  # what the progress line and the result reply to
        self.services = services
        self.spec: JobSpec | None = None
        self.reply: discord.Message | None = None
        self._lock = asyncio.Lock()  # queue positions arrive from the scheduler's own tasks
        self._running = False

    @property
    def _mentions(self) -> discord.AllowedMentions:
        mentions = render.only_requester(self.message.author)
        mentions.replied_user = False  # the anchor's author may be someone else
        return mentions

    async def queued(self, job: Job, position: int) -> None:
        async with self._lock:
            if not self._running:
                await self._progress(render.queued_text(position), render.cancel_view(job.id))

    async def running(self, job: Job) -> None:
        async with self._lock:
            self._running = True
            model = self.spec.model if self.spec else "the model"
            await self._progress(f"🎨 Working on it with {model}…", None)

    async def _progress(self, text: str, view: discord.ui.View | None) -> None:
        # Progress is a courtesy: a Discord hiccup here must not cost the member their job.
        try:
            await self._show(embed=render.progress_embed(text), view=view)
        except discord.HTTPException as exc:
            log.info("Could not show a job's progress (%s, code %s)", exc.status, exc.code)

    async def deliver(self, job: Job, outcome: Outcome, credits: int) -> Delivered:
        assert self.spec is not None and self.message.guild is not None
        name = self.message.author.display_name
        info = result_info(job, self.spec, outcome, credits, name)
        limit = self.message.guild.filesize_limit
        return await upload_shrinking(self.services, job, outcome, info, limit, self._send)

    async def _send(self, info: render.ResultInfo, images: Images, job: Job) -> Delivered:
        async with self._lock:
            message = await self._show(
                embed=render.result_embed(info, images),
                files=render.result_files(info, images),
                view=result_view(self.services, job, len(images)),
            )
        return Delivered(message.channel.id, message.id)

    async def fail(self, text: str) -> None:
        """Turn the progress line into the error, or answer the member's message with it."""
        embed = render.error_embed(text)
        try:
            if self.reply is not None:
                await self.reply.edit(embed=embed, attachments=[], view=None)
            else:
                await self.message.reply(embed=embed, allowed_mentions=NO_ONE)
        except discord.Forbidden:
            log.info("No permission to report an error in channel %s", self.message.channel.id)
        except discord.HTTPException as exc:
            log.warning("Could not report an error to the member (%s)", exc.status)

    async def _show(
        self,
        *,
        embed: discord.Embed,
        view: discord.ui.View | None = None,
        files: list[discord.File] | None = None,
    ) -> discord.Message:
        """Post the reply the first time, edit it afterwards."""
        if self.reply is None:
            self.reply = await self.anchor.reply(
                content=self.message.author.mention,
                embed=embed,
                view=view or MISSING,
                files=files or MISSING,
                allowed_mentions=self._mentions,
            )
        else:
            self.reply = await self.reply.edit(
                embed=embed,
                view=view,
                attachments=MISSING if files is None else files,
                allowed_mentions=self._mentions,
            )
        return self.reply


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(ReplyEdit(bot))
