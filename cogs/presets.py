"""/preset: a server's style presets. Moderators add and remove them; everyone can list them.

Members pick one in /imagine and /edit (``preset``, cogs/images.py). Every change is recorded
with who made it (``store.record_change``) and posted to the moderation log (``announce_change``);
the checks and the words are in bot/presets.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot import presets
from bot.errors import ValidationError
from bot.i18n import N_, Command, Words, lazy, lazy_n, t
from bot.store import Preset
from cogs.common import reader_locale
from cogs.images import Choices, model_autocomplete, option_autocomplete, preset_autocomplete
from cogs.moderation import (
    Interaction,
    announce_change,
    confirmation,
    guild_id,
    moderators_only,
    reply,
    reply_pages,
)

if TYPE_CHECKING:
    from bot.app import ImageBot

Name = app_commands.Range[str, 1, presets.NAME_LIMIT]
Template = app_commands.Range[str, 1, presets.TEMPLATE_LIMIT]
TITLE = N_("Presets")


class Presets(commands.Cog):
    """The server's style presets."""

    preset = app_commands.Group(
        name="preset",
        description="Style presets for /imagine and /edit: list them; moderators add and remove",
        guild_only=True,
    )

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.services = bot.services

    @preset.command(name="add")
    @app_commands.check(moderators_only)
    @app_commands.describe(
        name="What members pick it by (up to 32 characters)",
        template="The text sent, with {prompt} where the member's prompt goes",
        model="Optional: the model it is made for (members who choose one keep theirs)",
        quality="Optional: the quality it is made for",
    )
    async def preset_add(
        self,
        interaction: Interaction,
        name: Name,
        template: Template,
        model: str | None = None,
        quality: str | None = None,
    ) -> None:
        """Moderators: add a style preset, or change the one of that name."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, store = guild_id(interaction), self.services.store
        name, template = presets.check_name(name), presets.check_template(template)
        if model or quality:
            provider = await self.services.jobs.provider_for(gid)
            allowed = (await store.get_guild_settings(gid)).allowed_models
            model = presets.check_model(provider, allowed, model)
            quality = presets.check_quality(quality, provider, allowed, model)
        wanted = Preset(gid, name, template, model or None, quality or None, interaction.user.id)
        saved = await store.save_preset(wanted, limit=presets.MAX_PRESETS)
        if saved.after is None:
            full = lazy_n(
                "This server already has {count} preset, as many as a command can offer; remove "
                "one with {command} first.",
                "This server already has {count} presets, as many as a command can offer; remove "
                "one with {command} first.",
                presets.MAX_PRESETS,
                command=Command("preset remove"),
            )
            raise ValidationError([full])
        name = saved.after.name
        done = N_("Preset {name} changed.") if saved.before else N_("Preset {name} added.")
        shown = presets.shown(name)
        await self._changed(interaction, name, saved.before, saved.after, lazy(done, name=shown))

    @preset.command(name="remove")
    @app_commands.check(moderators_only)
    @app_commands.describe(name="The preset to remove")
    async def preset_remove(self, interaction: Interaction, name: Name) -> None:
        """Moderators: remove a style preset."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.services.store.remove_preset(guild_id(interaction), name.strip())
        if removed is None:
            raise ValidationError([presets.no_such_preset(name)])
        done = lazy("Preset {name} removed.", name=presets.shown(removed.name))
        await self._changed(interaction, removed.name, removed, None, done)

    @preset.command(name="list")
    async def preset_list(self, interaction: Interaction) -> None:
        """The server's style presets: what each sends, for /imagine and /edit."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.services.store.presets(guild_id(interaction))
        if not found:
            await reply(interaction, lazy("This server has no presets yet."), title=lazy(TITLE))
            return
        locale = await reader_locale(interaction)
        lines = [presets.listing_line(p, locale) for p in found]
        await reply_pages(interaction, lazy("Presets ({count})", count=len(found)), lines)

    async def _changed(
        self,
        interaction: Interaction,
        name: str,
        before: Preset | None,
        after: Preset | None,
        done: Words,
    ) -> None:
        """Record the change with who made it, answer, and post it to the moderation log."""
        old, new = presets.describe(before), presets.describe(after)
        change = None
        if old != new:
            change = await self.services.store.record_change(
                guild_id(interaction), interaction.user.id, f"preset {name}", old, new
            )
        locale = await reader_locale(interaction)
        text = confirmation(done, change is not None, locale)
        if after is not None:
            text += f"\n\n{presets.listing_line(after, locale)}"
        await reply(interaction, text, title=t(locale, TITLE))
        await announce_change(interaction, change)

    @preset_add.autocomplete("model")
    async def _add_model(self, i: Interaction, current: str) -> Choices:
        return await model_autocomplete(i, current, "generate")

    @preset_add.autocomplete("quality")
    async def _add_quality(self, i: Interaction, current: str) -> Choices:
        return await option_autocomplete(i, current, "generate", "quality")

    @preset_remove.autocomplete("name")
    async def _remove_name(self, i: Interaction, current: str) -> Choices:
        return [c for c in await preset_autocomplete(i, current) if c.value != presets.NO_PRESET]


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Presets(bot))
