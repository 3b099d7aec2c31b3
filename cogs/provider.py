"""/settings provider: a server connects its own image service (base URL and API key).

The form asks for both; the bot tries them (the model list) before anything is saved and says
which models that provider offers. The key is sealed at once (bot/keys.py) and only ever shown
again as its last four characters. Removing it sends the server back to the operator's provider,
where the operator shares it. Everything is said to the moderator in their language; what the
audit trail records stays English, its label read in the server's.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import discord

from bot.i18n import N_, Command, Text, Words, lazy, lazy_n, t
from bot.render import error_embed
from cogs.common import reader_locale, report
from cogs.moderation import Interaction, announce_change, guild_id, moderators_only, reply

if TYPE_CHECKING:
    from bot.app import Services

MODELS_SHOWN = 20
WHAT = N_("image service")  # the audit trail's label, read in the language it is shown in
TITLE = N_("Image service")
# Stored in the audit trail as they are, in English (the trail keeps values as recorded).
OPERATORS_WORDS = "the bot's own"


class ProviderModal(discord.ui.Modal):
    """The base URL and API key of an OpenAI-compatible Images API."""

    def __init__(self, base_url: str, locale: str) -> None:
        # A custom id per opening: two moderators' forms never cross.
        super().__init__(
            title=t(locale, "Connect an image service"),
            custom_id=f"img:provider-modal:{secrets.token_hex(4)}",
            timeout=900,
        )
        self.base_url: discord.ui.TextInput[ProviderModal] = discord.ui.TextInput(
            label=t(locale, "Base URL"),
            custom_id="base_url",
            placeholder="https://api.openai.com/v1",
            default=base_url or None,
            min_length=8,
            max_length=300,
        )
        self.api_key: discord.ui.TextInput[ProviderModal] = discord.ui.TextInput(
            label=t(locale, "API key (stored encrypted, shown as …abcd)"),
            custom_id="api_key",
            min_length=8,
            max_length=400,
        )
        self.add_item(self.base_url)
        self.add_item(self.api_key)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await moderators_only(interaction)  # a form outlives its command: check again
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = await reader_locale(interaction)
        providers = interaction.client.services.providers
        gid = guild_id(interaction)
        base_url, key = self.base_url.value.strip(), self.api_key.value.strip()
        trial = await providers.try_out(gid, base_url, key)
        if not trial.saved:
            await interaction.edit_original_response(embed=error_embed(trial.text.render(locale)))
            return
        before = await provider_words(interaction.client.services, gid)
        hint = await providers.set(gid, base_url, key, interaction.user.id)
        text = t(
            locale,
            "✅ {result}\n\n**Base URL:** {url}\n**Key:** {key}\n**Models offered:** {models}\n\n"
            "Members' images here now go to this server's image service.",
            result=trial.text,
            url=base_url,
            key=hint,
            models=models_shown(trial.models),
        )
        await reply(interaction, text, title=t(locale, TITLE))
        await _record(interaction, gid, before)

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, "Provider form")


def models_shown(models: tuple[str, ...]) -> Words:
    """The models a provider offers, the first few by name (ids, never translated)."""
    if not models:
        return lazy("none yet")
    shown = ", ".join(models[:MODELS_SHOWN])
    more = len(models) - MODELS_SHOWN
    if more > 0:
        return lazy_n("{models} and {count} more", "{models} and {count} more", more, models=shown)
    return shown


async def open_form(interaction: Interaction) -> None:
    """Open the form, in the moderator's language, with the server's current base URL."""
    services = interaction.client.services
    stored = await services.store.get_guild_provider(guild_id(interaction))
    locale = await reader_locale(interaction)
    await interaction.response.send_modal(ProviderModal(stored.base_url if stored else "", locale))


async def remove(interaction: Interaction) -> None:
    """Forget the server's own provider (and its key)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    services = interaction.client.services
    gid = guild_id(interaction)
    locale = await reader_locale(interaction)
    before = await provider_words(services, gid)
    if not await services.providers.clear(gid):
        await reply(interaction, t(locale, "This server has no image service of its own."))
        return
    if services.settings.shares_provider_with(gid):
        text = lazy(
            "✅ This server's image service and its key were removed. Members' images go to "
            "the bot's own image service again."
        )
    else:
        text = lazy(
            "✅ This server's image service and its key were removed. Members can't make "
            "images until a moderator connects one with {command}.",
            command=Command("settings provider"),
        )
    await reply(interaction, text.render(locale))
    await _record(interaction, gid, before)


async def provider_words(services: Services, gid: int) -> str:
    """The server's image service in a few words, for the audit trail (the key as …abcd)."""
    stored = await services.store.get_guild_provider(gid)
    if stored is not None:
        return f"{stored.base_url} (key {stored.key_hint})"
    return OPERATORS_WORDS if services.settings.shares_provider_with(gid) else "none"


async def _record(interaction: Interaction, gid: int, before: str) -> None:
    """Record and announce a change of the server's image service."""
    services = interaction.client.services
    after = await provider_words(services, gid)
    if after == before and "key" not in after:
        return
    change = await services.store.record_change(gid, interaction.user.id, WHAT, before, after)
    await announce_change(interaction, change)


async def provider_line(services: Services, gid: int) -> Text:
    """The server's image service, as /settings show says it (never the key)."""
    stored = await services.store.get_guild_provider(gid)
    if stored is not None:
        when = f"<t:{int(stored.set_at)}:R>"
        if stored.set_by:
            who = f"<@{stored.set_by}>"
            return lazy(
                "**Image service:** this server's own, {url} (key {key}, set by {who} {when})",
                url=stored.base_url,
                key=stored.key_hint,
                who=who,
                when=when,
            )
        return lazy(
            "**Image service:** this server's own, {url} (key {key}, set {when})",
            url=stored.base_url,
            key=stored.key_hint,
            when=when,
        )
    if services.settings.shares_provider_with(gid):
        return lazy(
            "**Image service:** the bot's own (connect this server's with {command})",
            command=Command("settings provider"),
        )
    return lazy(
        "**Image service:** none: connect one with {command}", command=Command("settings provider")
    )
