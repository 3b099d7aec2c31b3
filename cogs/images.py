"""/imagine, /edit, /vary and /help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot import help_text, presets, safety
from bot.errors import NotAllowed
from bot.i18n import N_, first_locale, render, t
from bot.images.params import CHOICE_BY_NAME, Params
from bot.images.types import Operation
from bot.models import ModelSpec
from bot.models.aspect import RATIOS, TIERS
from bot.models.shaping import tier_sizes
from bot.provider import Provider
from bot.render import shorten
from bot.service import JobSpec
from cogs.common import age_restricted, interaction_locale, moderates, reader_locale, role_ids
from cogs.delivery import attachment_source, run_interaction_job

if TYPE_CHECKING:
    from bot.app import ImageBot

Interaction = discord.Interaction["ImageBot"]
Prompt = app_commands.Range[str, 1, 6000]  # Discord's own cap; each model's is checked after
Count = app_commands.Range[int, 1, 10]
Fit = Literal["crop", "pad"]
Strength = Literal["subtle", "strong"]
Choices = list[app_commands.Choice[str]]
Compression = app_commands.Range[int, 0, 100]
F = TypeVar("F")
ASPECTS = [app_commands.Choice(name=f"{r} — {words}", value=r) for r, words in RATIOS.items()]
NOT_EVEN_PREFERRED = N_("none — not even your preferred {preset}")


def _choices(values: list[tuple[str, str]], current: str) -> Choices:
    typed = current.lower()
    return [
        app_commands.Choice(name=shorten(label, 100), value=value)
        for label, value in values
        if typed in label.lower() or typed in value.lower()
    ][:25]


async def model_autocomplete(interaction: Interaction, current: str, op: Operation) -> Choices:
    """The models this server allows that the provider offers today and can do ``op``."""
    services = interaction.client.services
    provider = await _provider(interaction)
    if provider is None:
        return []
    settings = await services.store.get_guild_settings(interaction.guild_id or 0)
    locale = interaction_locale(interaction, settings)
    allowed = settings.allowed_models
    specs = [s for s in provider.usable(op) if allowed is None or s.name in allowed]
    preferred = services.catalog.preferences.get(op, ())
    # The catalog's preferred models first (newest first), the rest in catalog order.
    specs.sort(key=lambda s: preferred.index(s.name) if s.name in preferred else len(preferred))
    titles = [(help_text.title_of(spec, provider, locale), spec.name) for spec in specs]
    return _choices(titles, current)


async def preset_autocomplete(interaction: Interaction, current: str) -> Choices:
    """The server's presets, each with the start of its template; and "none" for a member who
    has a preferred one."""
    store, gid = interaction.client.services.store, interaction.guild_id or 0
    found = [(presets.choice_label(p), p.name) for p in await store.presets(gid)]
    preferred = (await store.get_preferences(gid, interaction.user.id)).preset
    if preferred:
        label = t(await reader_locale(interaction), NOT_EVEN_PREFERRED, preset=preferred)
        found.append((label, presets.NO_PRESET))
    return _choices(found, current)


async def _provider(interaction: Interaction) -> Provider | None:
    """The provider of the interaction's server, or None when it has none it may use."""
    try:
        return await interaction.client.services.jobs.provider_for(interaction.guild_id or 0)
    except NotAllowed:
        return None


async def _chosen(interaction: Interaction, op: Operation) -> ModelSpec | None:
    """The model picked so far in the command, else the one the member would get."""
    services = interaction.client.services
    provider = await _provider(interaction)
    if provider is None:
        return None
    chosen = getattr(interaction.namespace, "model", None)
    if not chosen:
        settings = await services.store.get_guild_settings(interaction.guild_id or 0)
        chosen = services.jobs.server_default(op, settings, provider)
    return provider.spec(chosen) if chosen else None


async def size_autocomplete(interaction: Interaction, current: str, op: Operation) -> Choices:
    """The sizes of the model chosen so far (or of the default model)."""
    spec = await _chosen(interaction, op)
    return _choices([(s, s) for s in spec.sizes(op)], current) if spec else []


async def option_autocomplete(
    interaction: Interaction, current: str, op: Operation, param: str
) -> Choices:
    """The values of a choice parameter (quality, background...) for the chosen model, each with
    what it means; the value sent is the API's."""
    spec = await _chosen(interaction, op)
    choice = CHOICE_BY_NAME.get(param)
    if spec is None or choice is None or op not in choice.operations:
        return []
    values = spec.values(param)
    if param == "moderation":  # "low" only where it would be allowed
        settings = await interaction.client.services.store.get_guild_settings(
            interaction.guild_id or 0
        )
        if not safety.low_allowed(settings, age_restricted(interaction.channel)):
            values = tuple(v for v in values if v != safety.LOW)
    locale = await reader_locale(interaction)
    return _choices([(choice.describe(v, locale), v) for v in values], current)


async def detail_autocomplete(interaction: Interaction, current: str, op: Operation) -> Choices:
    """The detail tiers the chosen model makes in the chosen shape, each with its size."""
    spec = await _chosen(interaction, op)
    if spec is None:
        return []
    aspect = getattr(interaction.namespace, "aspect", None)
    # What a tier means is the models' words (bot/models/aspect.py), put in the member's.
    meanings = {tier.name: tier.meaning for tier in TIERS}
    locale = await reader_locale(interaction)
    found = [
        (f"{tier} — {render(locale, size)}, {meanings[tier].render(locale)}", tier)
        for tier, size in tier_sizes(spec, op, aspect)
    ]
    return _choices(found, current)


def _image_options(command: F) -> F:
    """The options /imagine and /edit share, described once (a fresh dict for each command:
    discord.py keeps and empties the one it is given)."""
    return app_commands.describe(
        preset="A style preset of this server (/preset list); none: not even your preferred one",
        detail="standard, 2K or 4K where the model makes them (costs more)",
        quality="Quality (the choices depend on the model)",
        complexity="How much planning goes into the image (newer GPT image models)",
        background="Transparent, opaque or auto (GPT image models)",
        output_format="png, jpeg or webp (GPT image models)",
        output_compression="0-100, with jpeg or webp output: lower is smaller and rougher",
    )(command)


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
        aspect="Shape, e.g. 16:9; I pick the model's size for it (instead of size)",
        style="dall-e-3 only: vivid or natural",
        n="How many images",
        moderation="Filtering: auto, or low where the server allows it (GPT image models)",
    )
    @_image_options
    @app_commands.choices(aspect=ASPECTS)
    async def imagine(
        self,
        interaction: Interaction,
        prompt: Prompt,
        model: str | None = None,
        preset: str | None = None,
        size: str | None = None,
        aspect: str | None = None,
        detail: str | None = None,
        quality: str | None = None,
        style: str | None = None,
        n: Count = 1,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: Compression | None = None,
        complexity: str | None = None,
        moderation: str | None = None,
    ) -> None:
        """Create images from a description."""
        params = Params(
            n=n,
            size=size,
            aspect=aspect,
            detail=detail,
            quality=quality,
            style=style,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            complexity=complexity,
            moderation=moderation,
        )
        spec = JobSpec("generate", model or "", prompt, params, preset=preset)
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
        aspect=(
            "Shape, e.g. 16:9; I pick the model's size for it (instead of size) (default: your "
            "image's)"
        ),
        n="How many results",
        fit="When a square is needed: crop the middle or pad the sides",
        input_fidelity="How closely faces and details of your image are kept (some models)",
    )
    @_image_options
    @app_commands.choices(aspect=ASPECTS)
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
        preset: str | None = None,
        size: str | None = None,
        aspect: str | None = None,
        detail: str | None = None,
        n: Count = 1,
        fit: Fit = "crop",
        quality: str | None = None,
        complexity: str | None = None,
        background: str | None = None,
        input_fidelity: str | None = None,
        output_format: str | None = None,
        output_compression: Compression | None = None,
    ) -> None:
        """Edit an image (or several) with a description."""
        services = self.bot.services
        attachments = [a for a in (image, image2, image3, image4) if a is not None]
        params = Params(
            n=n,
            size=size,
            aspect=aspect,
            detail=detail,
            quality=quality,
            complexity=complexity,
            background=background,
            input_fidelity=input_fidelity,
            output_format=output_format,
            output_compression=output_compression,
        )
        spec = JobSpec(
            "edit",
            model or "",
            prompt,
            params,
            fit=fit,
            images=tuple(attachment_source(a, services) for a in attachments),
            mask=attachment_source(mask, services) if mask else None,
            preset=preset,
        )
        await run_interaction_job(interaction, spec)

    @app_commands.command(name="vary")
    @app_commands.guild_only()
    @app_commands.describe(
        image="The image to make variations of",
        n="How many variations",
        strength="Subtle: another take of the same picture; strong: a new picture inspired by it",
        size="Output size",
        model="Image model (default: the server's)",
        fit="When a square is needed: crop the middle or pad the sides",
    )
    async def vary(
        self,
        interaction: Interaction,
        image: discord.Attachment,
        n: Count = 1,
        strength: Strength = "subtle",
        size: str | None = None,
        model: str | None = None,
        fit: Fit = "crop",
    ) -> None:
        """Make variations of any image."""
        source = attachment_source(image, self.bot.services)
        spec = JobSpec(
            "variation",
            model or "",
            params=Params(n=n, size=size),
            fit=fit,
            strength=strength,
            images=(source,),
        )
        await run_interaction_job(interaction, spec)

    @app_commands.command(name="help")
    async def help(self, interaction: Interaction) -> None:
        """How to make images here: commands, buttons, models and what they cost you."""
        services = self.bot.services
        if interaction.guild_id is None:
            locale = first_locale(interaction.locale.value, services.settings.locale)
            embed = help_text.dm_embed(locale)
            await interaction.response.send_message(embed=embed, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, member = interaction.guild_id, interaction.user
        settings = await services.store.get_guild_settings(gid)
        locale = interaction_locale(interaction, settings)
        policy = await services.store.get_quota_policy(gid)
        moderator = moderates(member, settings.moderator_role_ids)
        usage = await services.quotas.member_usage(
            gid, member.id, role_ids(member), is_moderator=moderator
        )
        provider = await services.jobs.provider_for(gid)
        defaults = {
            op: services.jobs.server_default(op, settings, provider) for op in help_text.OPERATIONS
        }
        entries = help_text.server_models(provider, settings.allowed_models, defaults, locale)
        prices = {e.spec.name: await _price(self.bot, gid, e) for e in entries}
        first = entries[0].spec.name if entries else None
        wallet = help_text.Wallet(
            usage,
            moderator_exempt=moderator and policy.moderators_unlimited,
            default_price=(first, prices[first]) if first else None,
        )
        embed = help_text.help_embed(entries, wallet, prices, locale)
        await interaction.edit_original_response(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )

    @imagine.autocomplete("model")
    async def _imagine_model(self, i: Interaction, current: str) -> Choices:
        return await model_autocomplete(i, current, "generate")

    @edit.autocomplete("model")
    async def _edit_model(self, i: Interaction, current: str) -> Choices:
        return await model_autocomplete(i, current, "edit")

    @vary.autocomplete("model")
    async def _vary_model(self, i: Interaction, current: str) -> Choices:
        return await model_autocomplete(i, current, "variation")

    @imagine.autocomplete("preset")
    async def _imagine_preset(self, i: Interaction, current: str) -> Choices:
        return await preset_autocomplete(i, current)

    @edit.autocomplete("preset")
    async def _edit_preset(self, i: Interaction, current: str) -> Choices:
        return await preset_autocomplete(i, current)

    @imagine.autocomplete("size")
    async def _imagine_size(self, i: Interaction, current: str) -> Choices:
        return await size_autocomplete(i, current, "generate")

    @edit.autocomplete("size")
    async def _edit_size(self, i: Interaction, current: str) -> Choices:
        return await size_autocomplete(i, current, "edit")

    @vary.autocomplete("size")
    async def _vary_size(self, i: Interaction, current: str) -> Choices:
        return await size_autocomplete(i, current, "variation")

    @imagine.autocomplete("quality")
    @imagine.autocomplete("style")
    @imagine.autocomplete("background")
    @imagine.autocomplete("output_format")
    @imagine.autocomplete("complexity")
    @imagine.autocomplete("moderation")
    async def _imagine_option(self, i: Interaction, current: str) -> Choices:
        return await option_autocomplete(i, current, "generate", _focused(i))

    @edit.autocomplete("quality")
    @edit.autocomplete("complexity")
    @edit.autocomplete("background")
    @edit.autocomplete("input_fidelity")
    @edit.autocomplete("output_format")
    async def _edit_option(self, i: Interaction, current: str) -> Choices:
        return await option_autocomplete(i, current, "edit", _focused(i))

    @imagine.autocomplete("detail")
    async def _imagine_detail(self, i: Interaction, current: str) -> Choices:
        return await detail_autocomplete(i, current, "generate")

    @edit.autocomplete("detail")
    async def _edit_detail(self, i: Interaction, current: str) -> Choices:
        return await detail_autocomplete(i, current, "edit")


async def _price(bot: ImageBot, guild_id: int, entry: help_text.ModelEntry) -> int:
    """Credits for one image of a model at its defaults, priced as a job of it would be."""
    spec = entry.spec
    return await bot.services.quotas.price(
        guild_id, spec.name, entry.priced_size, spec.default_quality, like=spec.lineage
    )


def _focused(interaction: Interaction) -> str:
    """The name of the option being typed in (the parameter an autocomplete is for)."""
    data: dict[str, Any] = dict(interaction.data or {})
    for option in data.get("options", []):
        if option.get("focused"):
            return str(option["name"])
    return ""


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Images(bot))
