"""/settings: the models, channels, moderator roles, moderation log and safety of a server.

Every change goes through ``_settings_changed``, which records who made it and posts it to the
moderation log; ``/settings changes`` lists the latest, /quota's included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot import audit_text, blocklist, i18n, moderation, safety
from bot.errors import NotAllowed, ValidationError
from bot.i18n import N_, Text, Words, lazy, t
from bot.moderation import ListAction
from bot.store import GuildSettings
from cogs import provider
from cogs.common import reader_locale
from cogs.moderation import (
    MODERATOR_PERMISSIONS,
    Interaction,
    ModeratorCog,
    announce_change,
    confirmation,
    guild_id,
    reply,
    reply_pages,
)

if TYPE_CHECKING:
    from bot.app import ImageBot

FOLLOW_DISCORD = "discord"  # /settings language: the server's Discord language (the default)
# Each language by its own name, so a member finds theirs whatever the picker is shown in.
LANGUAGE_CHOICES = [
    app_commands.Choice(name="Follow the server's Discord language", value=FOLLOW_DISCORD),
    *(app_commands.Choice(name=i18n.AUTONYMS[code], value=code) for code in i18n.LOCALES),
]
TITLE = N_("Server settings")
Change = Callable[[GuildSettings], GuildSettings | tuple[GuildSettings, Sequence[Words]]]


class Settings(ModeratorCog):
    """The server's settings."""

    settings = app_commands.Group(
        name="settings",
        description="Moderators: models, channels, roles, log, safety, language, image service, changes",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    async def _settings_changed(
        self,
        interaction: Interaction,
        change: Change,
        done: Text,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        notes: list[Words] = []

        def apply(current: GuildSettings) -> GuildSettings:
            result = change(current)
            new, found = result if isinstance(result, tuple) else (result, [])
            notes[:] = found
            return new

        # Applied to a fresh, locked read; only the fields ``change`` changes are written, and
        # recorded with who changed them.
        gid, store = guild_id(interaction), self.services.store
        log_was = (await store.get_guild_settings(gid)).mod_log_channel_id
        changed = await store.change_guild_settings(gid, apply, actor=interaction.user.id)
        settings = await store.get_guild_settings(gid)
        locale = await reader_locale(interaction)  # the moderator's, read after the change
        text = await self._describe(settings, locale)
        said = [confirmation(done, changed is not None, locale), *notes]
        heading = "\n".join(i18n.render(locale, line) for line in said)
        await reply(interaction, f"{heading}\n\n{text}", title=t(locale, TITLE))
        # The log turned off is told where it was; any other change where it is now.
        gone = log_was if settings.mod_log_channel_id is None else None
        await announce_change(interaction, changed, log_was=gone)

    async def _describe(self, settings: GuildSettings, locale: str) -> str:
        """The settings as moderators read them, in the moderator's ``locale``, with the
        server's image service."""
        try:
            where = await self.services.jobs.provider_for(settings.guild_id)
        except NotAllowed:
            default = moderation.NO_MODEL
        else:
            default = self.services.jobs.service_default("generate", provider=where)
        if default == moderation.NO_MODEL:
            default = t(locale, moderation.NO_MODEL)
        line = await provider.provider_line(self.services, settings.guild_id)
        described = moderation.describe_settings(settings, default)
        return f"{line.render(locale)}\n{i18n.render(locale, described)}"

    @settings.command(name="show")
    async def settings_show(self, interaction: Interaction) -> None:
        """Show this server's image bot settings."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.services.store.get_guild_settings(guild_id(interaction))
        locale = await reader_locale(interaction)
        await reply(interaction, await self._describe(settings, locale), title=t(locale, TITLE))

    @settings.command(name="provider")
    async def settings_provider(self, interaction: Interaction) -> None:
        """Connect this server's own image service: its base URL and API key."""
        await provider.open_form(interaction)

    @settings.command(name="provider-remove")
    async def settings_provider_remove(self, interaction: Interaction) -> None:
        """Remove this server's own image service and its key."""
        await provider.remove(interaction)

    @settings.command(name="models")
    @app_commands.describe(models="Comma-separated model names, or all")
    async def settings_models(self, interaction: Interaction, models: str) -> None:
        """Choose the models members may use."""
        catalog = self.services.catalog
        names = moderation.parse_models(models, catalog)
        default = self.services.jobs.service_default("generate")
        await self._settings_changed(
            interaction,
            lambda s: moderation.allow_models(s, names, catalog, default),
            lazy("Allowed models changed."),
        )

    @settings.command(name="default-model")
    @app_commands.describe(model="Model used when a member picks none (none: the bot's default)")
    async def settings_default_model(self, interaction: Interaction, model: str) -> None:
        """Choose the model members get when they pick none."""
        catalog, default = self.services.catalog, self.services.jobs.service_default("generate")
        await self._settings_changed(
            interaction,
            lambda s: moderation.choose_default_model(s, model, catalog, default),
            lazy("Default model changed."),
        )

    @settings.command(name="channels")
    @app_commands.describe(action="add, remove or clear (clear: every channel)", channel="Channel")
    async def settings_channels(
        self,
        interaction: Interaction,
        action: ListAction,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Limit the channels where members can make images."""
        item, shown = (channel.id, channel.mention) if channel else (None, "")
        await self._settings_changed(
            interaction,
            lambda s: dataclasses.replace(
                s,
                allowed_channel_ids=moderation.change_ids(
                    s.allowed_channel_ids, action, item, shown
                ),
            ),
            lazy("Channels changed."),
        )

    @settings.command(name="moderator-role")
    @app_commands.describe(action="add, remove or clear", role="Role whose members moderate")
    async def settings_moderator_role(
        self, interaction: Interaction, action: ListAction, role: discord.Role | None = None
    ) -> None:
        """Count a role's members as moderators of the image bot."""
        if role is not None and role.is_default():
            raise ValidationError([lazy("@everyone can't be a moderator role.")])
        item, shown = (role.id, role.mention) if role else (None, "")
        await self._settings_changed(
            interaction,
            lambda s: dataclasses.replace(
                s,
                moderator_role_ids=moderation.change_ids(s.moderator_role_ids, action, item, shown),
            ),
            lazy("Moderator roles changed."),
        )

    @settings.command(name="log-channel")
    @app_commands.describe(channel="Where refused prompts and quota blocks go (empty: log off)")
    async def settings_log_channel(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Set or turn off the moderation log channel."""
        me = channel.guild.me if channel else None
        if channel and me and not channel.permissions_for(me).send_messages:
            raise NotAllowed(
                lazy("I can't send messages in {channel}; allow me first.", channel=channel.mention)
            )
        await self._settings_changed(
            interaction,
            lambda s: dataclasses.replace(s, mod_log_channel_id=channel.id if channel else None),
            lazy("Moderation log changed."),
        )

    @settings.command(name="changes")
    @app_commands.describe(limit="How many (up to 50)")
    async def settings_changes(
        self, interaction: Interaction, limit: app_commands.Range[int, 1, 50] = 10
    ) -> None:
        """List the latest changes to settings and quotas, who made them and when."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        changes = await self.services.store.recent_changes(guild_id(interaction), limit)
        locale = await reader_locale(interaction)
        if not changes:
            await reply(
                interaction, t(locale, "No changes yet."), title=t(locale, "Recent changes")
            )
            return
        lines = [audit_text.change_line(c, locale) for c in changes]
        title = t(locale, "Recent changes ({count})", count=len(changes))
        await reply_pages(interaction, title, lines)

    @settings_default_model.autocomplete("model")
    async def _default_model(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = [*self.services.catalog.names("generate"), "none"]
        return [app_commands.Choice(name=n, value=n) for n in names if current in n][:25]

    @settings.command(name="safety")
    @app_commands.describe(
        low_moderation="Allow less strict filtering (moderation low) in age-restricted channels",
        spoilers="Post results as spoilers outside age-restricted channels",
        prompt_check="Check prompts with the image service's moderation endpoint first",
    )
    async def settings_safety(
        self,
        interaction: Interaction,
        low_moderation: bool | None = None,
        spoilers: bool | None = None,
        prompt_check: bool | None = None,
    ) -> None:
        """Choose how strict image making is: filtering, spoilers and the prompt check."""
        await self._settings_changed(
            interaction,
            lambda s: safety.set_switches(s, low_moderation, spoilers, prompt_check),
            lazy("Safety settings changed."),
        )

    @settings.command(name="blocked-words")
    @app_commands.describe(
        action="add, remove or clear",
        word="A word or phrase; * stands for any letters (cat* blocks cats and catnip)",
    )
    async def settings_blocked_words(
        self,
        interaction: Interaction,
        action: ListAction,
        word: app_commands.Range[str, 1, blocklist.MAX_LENGTH] | None = None,
    ) -> None:
        """Refuse prompts with these words in them (up to 100 words or phrases)."""
        await self._settings_changed(
            interaction,
            lambda s: safety.change_blocked_words(s, action, word),
            lazy("Blocked words changed."),
        )

    @settings.command(name="language")
    @app_commands.describe(
        language="The language of the moderation log and notices; members see their own"
    )
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def settings_language(self, interaction: Interaction, language: str) -> None:
        """Choose the language of what the bot posts for everyone on this server."""
        chosen = None if language == FOLLOW_DISCORD else language
        await self._settings_changed(
            interaction,
            lambda s: dataclasses.replace(s, language=chosen),
            lazy("Language changed."),
        )


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Settings(bot))
