"""/blend: several images, attached or on linked messages, made into one picture."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.blend import MAX_LINKS
from bot.errors import ImageInputError, NotAllowed
from bot.fetch import ImageSource
from bot.i18n import N_, lazy
from bot.images.params import Params
from bot.links import MessageLink, message_links
from bot.models import ModelSpec
from bot.service import JobSpec
from bot.usage_text import jump_url
from cogs.common import requester
from cogs.delivery import InteractionSurface, attachment_source, check_permissions
from cogs.flow import JobFlow
from cogs.images import Choices, Prompt, model_autocomplete, size_autocomplete
from cogs.message_images import find_images

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
Attachment = discord.Attachment | None
# The channels whose messages can hold images.
MessageChannel = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel

NOT_HERE = N_("I can only use messages from this server.")
NO_CHANNEL = N_("I can't see the channel of {link}.")
MEMBER_CANT_READ = N_("You can't read the channel of {link}, so I won't use it.")
GONE = N_("I couldn't find {link}; it may have been deleted.")
BOT_CANT_READ = N_("I can't read {link}: I need View Channel and Read Message History there.")
NO_IMAGE = N_("{link} has no image I can use.")


class Blend(commands.Cog):
    """Blend images into one."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="blend")
    @app_commands.guild_only()
    @app_commands.describe(
        image1="An image to blend",
        image2="Another image",
        image3="Another image",
        image4="Another image",
        image5="Another image",
        image6="Another image",
        image7="Another image",
        image8="Another image",
        image9="Another image",
        image10="Another image",
        messages="Links to messages whose images to blend, separated by spaces or commas",
        prompt="How to blend them (default: into one natural-looking picture)",
        model="Image model (one that takes several images)",
        size="Output size",
    )
    async def blend(
        self,
        interaction: Interaction,
        image1: Attachment = None,
        image2: Attachment = None,
        image3: Attachment = None,
        image4: Attachment = None,
        image5: Attachment = None,
        image6: Attachment = None,
        image7: Attachment = None,
        image8: Attachment = None,
        image9: Attachment = None,
        image10: Attachment = None,
        messages: str | None = None,
        prompt: Prompt | None = None,
        model: str | None = None,
        size: str | None = None,
    ) -> None:
        """Blend several images into one: attach them, or link messages that have them."""
        check_permissions(interaction.app_permissions)
        services = self.bot.services
        given = (image1, image2, image3, image4, image5, image6, image7, image8, image9, image10)
        attached = tuple(attachment_source(a, services) for a in given if a is not None)
        surface = InteractionSurface(interaction)  # answers in time if reading links is slow
        linked = await surface.in_time(linked_images(interaction, messages)) if messages else ()
        spec = JobSpec(
            "edit",
            model or "",
            prompt or "",  # none: the blend instruction (bot/blend.py)
            Params(size=size),
            images=attached + linked,
            blend=True,  # which of them it sends is the admission's, once the model is known
        )
        await JobFlow(surface, services, await requester(interaction), spec).run()

    @blend.autocomplete("model")
    async def _blend_model(self, interaction: Interaction, current: str) -> Choices:
        try:
            provider = await self.bot.services.jobs.provider_for(interaction.guild_id or 0)
        except NotAllowed:
            return []
        choices = await model_autocomplete(interaction, current, "edit")
        return [c for c in choices if _takes_several(provider.spec(c.value))]

    @blend.autocomplete("size")
    async def _blend_size(self, interaction: Interaction, current: str) -> Choices:
        return await size_autocomplete(interaction, current, "edit")


def _takes_several(spec: ModelSpec | None) -> bool:
    return spec is not None and spec.input.max_images > 1


async def linked_images(interaction: Interaction, text: str) -> tuple[ImageSource, ...]:
    """The images of every message linked in ``text``, in the order of the links."""
    links = message_links(text, interaction.guild_id or 0, most=MAX_LINKS)
    found = await asyncio.gather(*(_images_of(interaction, link) for link in links))
    return tuple(source for images in found for source in images)


async def _images_of(interaction: Interaction, link: MessageLink) -> tuple[ImageSource, ...]:
    """One linked message's images, read only when the member may read its channel."""
    url = jump_url(interaction.guild_id or 0, link.channel_id, link.message_id)
    channel = await _channel(interaction, link.channel_id, url)
    try:
        message = await channel.fetch_message(link.message_id)
    except discord.NotFound as exc:
        raise ImageInputError(lazy(GONE, link=url)) from exc
    except discord.HTTPException as exc:
        raise ImageInputError(lazy(BOT_CANT_READ, link=url)) from exc
    images = find_images(message, interaction.client.services).every()
    if not images:
        raise ImageInputError(lazy(NO_IMAGE, link=url))
    return images


async def _channel(interaction: Interaction, channel_id: int, url: str) -> MessageChannel:
    """The linked channel of this server, when the member may read its history."""
    guild = interaction.guild
    found: object = guild.get_channel_or_thread(channel_id) if guild else None
    if found is None:
        try:
            found = await interaction.client.fetch_channel(channel_id)
        except discord.HTTPException as exc:
            raise ImageInputError(lazy(NO_CHANNEL, link=url)) from exc
    if getattr(getattr(found, "guild", None), "id", None) != interaction.guild_id:
        raise ImageInputError(lazy(NOT_HERE))
    member = interaction.user
    if not isinstance(found, MessageChannel) or not isinstance(member, discord.Member):
        raise ImageInputError(lazy(NO_IMAGE, link=url))  # a category or forum holds no images
    perms = found.permissions_for(member)
    if not (perms.view_channel and perms.read_message_history):
        raise ImageInputError(lazy(MEMBER_CANT_READ, link=url))
    return found


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Blend(bot))
