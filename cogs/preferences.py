"""/preferences: a member's own defaults on a server: model, shape, quality and preset.

Checked against what the server allows when set (bot/preferences.py); applied to each job where
the member chose nothing in the command (bot/presets.py, in JobRunner.admit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot import preferences, presets
from bot.errors import NotAllowed
from bot.i18n import t
from bot.store import Preferences
from cogs.common import reader_locale
from cogs.images import Choices, model_autocomplete, option_autocomplete, preset_autocomplete
from cogs.moderation import Interaction, confirmation, guild_id, reply

if TYPE_CHECKING:
    from bot.app import ImageBot

CLEAR = app_commands.Choice(name="clear — no preference", value=preferences.CLEAR)
SHAPES = [app_commands.Choice(name=a, value=a) for a in presets.ASPECTS] + [CLEAR]


def _with_clear(choices: Choices) -> Choices:
    return [*choices[:24], CLEAR]


class MemberPreferences(commands.Cog):
    """A member's defaults."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="preferences")
    @app_commands.guild_only()
    @app_commands.describe(
        model="Your model when you pick none (clear: the server's default)",
        aspect="Your shape for /imagine when you pick no size (clear: none)",
        quality="Your quality when you pick none (clear: the model's default)",
        preset="Your style preset for /imagine and /edit (clear: none)",
    )
    @app_commands.choices(aspect=SHAPES)
    async def preferences(
        self,
        interaction: Interaction,
        model: str | None = None,
        aspect: str | None = None,
        quality: str | None = None,
        preset: str | None = None,
    ) -> None:
        """Your defaults on this server: model, shape, quality and preset (none given: see them)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, uid, store = guild_id(interaction), interaction.user.id, self.services.store
        changes = preferences.asked(model=model, aspect=aspect, quality=quality, preset=preset)
        current = await store.get_preferences(gid, uid)
        locale = await reader_locale(interaction)
        heading = ""
        if changes:
            provider = await self.services.jobs.provider_for(gid)
            allowed = (await store.get_guild_settings(gid)).allowed_models
            wanted = changes.get("preset")
            found = await store.get_preset(gid, wanted) if wanted else None
            checked = preferences.check(changes, current, provider, allowed, found)
            updated = await store.set_preferences(gid, uid, checked)
            done = t(locale, "Your preferences changed.")
            heading = confirmation(done, updated != current, locale) + "\n\n"
            current = updated
        text = heading + await self._describe(current, locale)
        await reply(interaction, text, title=t(locale, "Your preferences"))

    async def _describe(self, prefs: Preferences, locale: str) -> str:
        """The preferences, with any that jobs leave out now and why."""
        store = self.services.store
        settings = await store.get_guild_settings(prefs.guild_id)
        try:
            provider = await self.services.jobs.provider_for(prefs.guild_id)
        except NotAllowed:
            provider = None
        found = bool(prefs.preset and await store.get_preset(prefs.guild_id, prefs.preset))
        skipped = preferences.problems(prefs, settings, provider, found)
        return preferences.describe(prefs, skipped, locale)

    @preferences.autocomplete("model")
    async def _model(self, i: Interaction, current: str) -> Choices:
        return _with_clear(await model_autocomplete(i, current, "generate"))

    @preferences.autocomplete("quality")
    async def _quality(self, i: Interaction, current: str) -> Choices:
        return _with_clear(await option_autocomplete(i, current, "generate", "quality"))

    @preferences.autocomplete("preset")
    async def _preset(self, i: Interaction, current: str) -> Choices:
        found = await preset_autocomplete(i, current)
        return _with_clear([c for c in found if c.value != presets.NO_PRESET])


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(MemberPreferences(bot))
