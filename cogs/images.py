"""/imagine, /edit, /vary and /help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import help_text
from bot.images.types import Operation
from bot.service import JobSpec
from cogs.delivery import attachment_source, run_interaction_job

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
Prompt = app_commands.Range[str, 1, 6000]  # Discord's own cap; each model's is checked after
Count = app_commands.Range[int, 1, 10]
Quality = Literal["auto", "low", "medium", "high", "standard", "hd"]
Style = Literal["vivid", "natural"]
Background = Literal["auto", "transparent", "opaque"]
Fit = Literal["crop", "pad"]


def _choices(values: list[str], current: str) -> list[app_commands.Choice[str]]:
    typed = current.lower()
    return [app_commands.Choice(name=v, value=v) for v in values if typed in v.lower()][:25]


async def model_autocomplete(
    interaction: Interaction, current: str, op: Operation
) -> list[app_commands.Choice[str]]:
    """The models this server allows that can do ``op``."""
    services = interaction.client.services
    settings = await services.store.get_guild_settings(interaction.guild_id or 0)
    names = [
        name
        for name in services.catalog.names(op)
        if settings.allowed_models is None or name in settings.allowed_models
    ]
    return _choices(names, current)


def size_autocomplete(
    interaction: Interaction, current: str, op: Operation
) -> list[app_commands.Choice[str]]:
    """The sizes of the model chosen so far (or of the default model)."""
    services = interaction.client.services
    chosen = getattr(interaction.namespace, "model", None) or services.jobs.service_default(op)
    if chosen not in services.catalog:
        return []
    return _choices(list(services.catalog.get(chosen).sizes(op)), current)


class Images(commands.Cog):
    """Create, edit and vary images."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to draw",
        model="Image model (default: the server's)",
        size="Image size, e.g. 1024x1024",
        quality="Quality (depends on the model)",
        style="dall-e-3 only: vivid or natural",
        n="How many images",
        background="GPT image models: transparent, opaque or auto",
    )
    async def imagine(
        self,
        interaction: Interaction,
        prompt: Prompt,
        model: str | None = None,
        size: str | None = None,
        quality: Quality | None = None,
        style: Style | None = None,
        n: Count = 1,
        background: Background | None = None,
    ) -> None:
        """Create images from a description."""
        spec = JobSpec(
            "generate",
            model or "",
            prompt,
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=background,
        )
        await run_interaction_job(interaction, spec)

    @app_commands.command(name="edit")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to change",
        image="The image to edit",
        mask="Optional: PNG whose transparent area (or white area) marks what to edit",
        image2="Another image (models that take several)",
        image3="Another image",
        image4="Another image",
        model="Image model",
        size="Output size",
        n="How many results",
        fit="When a square is needed: crop the middle or pad the sides",
    )
    async def edit(
        self,
        interaction: Interaction,
        prompt: Prompt,
        image: discord.Attachment,
        mask: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        model: str | None = None,
        size: str | None = None,
        n: Count = 1,
        fit: Fit = "crop",
    ) -> None:
        """Edit an image (or several) with a description."""
        services = self.bot.services
        attachments = [a for a in (image, image2, image3, image4) if a is not None]
        spec = JobSpec(
            "edit",
            model or "",
            prompt,
            n=n,
            size=size,
            fit=fit,
            images=tuple(attachment_source(a, services) for a in attachments),
            mask=attachment_source(mask, services) if mask else None,
        )
        await run_interaction_job(interaction, spec)

    @app_commands.command(name="vary")
    @app_commands.guild_only()
    @app_commands.describe(
        image="The image to make variations of",
        n="How many variations",
        size="Output size",
        model="Image model (one that makes variations)",
        fit="When a square is needed: crop the middle or pad the sides",
    )
    async def vary(
        self,
        interaction: Interaction,
        image: discord.Attachment,
        n: Count = 1,
        size: str | None = None,
        model: str | None = None,
        fit: Fit = "crop",
    ) -> None:
        """Make variations of any image."""
        source = attachment_source(image, self.bot.services)
        spec = JobSpec("variation", model or "", n=n, size=size, fit=fit, images=(source,))
        await run_interaction_job(interaction, spec)

    @app_commands.command(name="help")
    async def help(self, interaction: Interaction) -> None:
        """What each command does, and the models this server may use."""
        services = self.bot.services
        settings = await services.store.get_guild_settings(interaction.guild_id or 0)
        embed = help_text.help_embed(services.catalog, settings.allowed_models)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @imagine.autocomplete("model")
    async def _imagine_model(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_autocomplete(i, current, "generate")

    @edit.autocomplete("model")
    async def _edit_model(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_autocomplete(i, current, "edit")

    @vary.autocomplete("model")
    async def _vary_model(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_autocomplete(i, current, "variation")

    @imagine.autocomplete("size")
    async def _imagine_size(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return size_autocomplete(i, current, "generate")

    @edit.autocomplete("size")
    async def _edit_size(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return size_autocomplete(i, current, "edit")

    @vary.autocomplete("size")
    async def _vary_size(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return size_autocomplete(i, current, "variation")


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Images(bot))
