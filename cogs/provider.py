"""/settings provider: a server connects its own image service (base URL and API key).

The form asks for both; the bot tries them (the model list) before anything is saved and says
which models that provider offers. The key is sealed at once (bot/keys.py) and only ever shown
again as its last four characters. Removing it sends the server back to the operator's provider,
where the operator shares it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import discord

from bot.providers import OWN
from bot.render import error_embed
from cogs.common import report
from cogs.moderation import Interaction, announce_change, guild_id, moderators_only, reply

if TYPE_CHECKING:
    from bot.app import Services

MODELS_SHOWN = 20


class ProviderModal(discord.ui.Modal, title="Connect an image service"):
    """The base URL and API key of an OpenAI-compatible Images API."""

    def __init__(self, base_url: str) -> None:
        # A custom id per opening: two moderators' forms never cross.
        super().__init__(custom_id=f"img:provider-modal:{secrets.token_hex(4)}", timeout=900)
        self.base_url: discord.ui.TextInput[ProviderModal] = discord.ui.TextInput(
            label="Base URL",
            custom_id="base_url",
            placeholder="https://api.openai.com/v1",
            default=base_url or None,
            min_length=8,
            max_length=300,
        )
        self.api_key: discord.ui.TextInput[ProviderModal] = discord.ui.TextInput(
            label="API key (stored encrypted, shown as …abcd)",
            custom_id="api_key",
            min_length=8,
            max_length=400,
        )
        self.add_item(self.base_url)
        self.add_item(self.api_key)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await moderators_only(interaction)  # a form outlives its command: check again
        await interaction.response.defer(ephemeral=True, thinking=True)
        providers = interaction.client.services.providers
        gid = guild_id(interaction)
        base_url, key = self.base_url.value.strip(), self.api_key.value.strip()
        trial = await providers.try_out(gid, base_url, key)
        if not trial.saved:
            await interaction.edit_original_response(embed=error_embed(trial.text))
            return
        before = await provider_words(interaction.client.services, gid)
        hint = await providers.set(gid, base_url, key, interaction.user.id)
        shown = ", ".join(trial.models[:MODELS_SHOWN]) or "none yet"
        more = len(trial.models) - MODELS_SHOWN
        if more > 0:
            shown += f" and {more} more"
        text = (
            f"✅ {trial.text}\n\n**Base URL:** {base_url}\n**Key:** {hint}\n"
            f"**Models offered:** {shown}\n\nMembers' images here now go to {OWN}."
        )
        await reply(interaction, text, title="Image service")
        await _record(interaction, gid, before)

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, "Provider form")


async def open_form(interaction: Interaction) -> None:
    """Open the form, with the server's current base URL filled in."""
    services = interaction.client.services
    stored = await services.store.get_guild_provider(guild_id(interaction))
    await interaction.response.send_modal(ProviderModal(stored.base_url if stored else ""))


async def remove(interaction: Interaction) -> None:
    """Forget the server's own provider (and its key)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    services = interaction.client.services
    gid = guild_id(interaction)
    before = await provider_words(services, gid)
    if not await services.providers.clear(gid):
        await reply(interaction, "This server has no image service of its own.")
        return
    after = (
        "Members' images go to the bot's own image service again."
        if services.settings.shares_provider_with(gid)
        else "Members can't make images until a moderator connects one with /settings provider."
    )
    await reply(interaction, f"✅ This server's image service and its key were removed. {after}")
    await _record(interaction, gid, before)


async def provider_words(services: Services, gid: int) -> str:
    """The server's image service in a few words, for the audit trail (the key as …abcd)."""
    stored = await services.store.get_guild_provider(gid)
    if stored is not None:
        return f"{stored.base_url} (key {stored.key_hint})"
    return "the bot's own" if services.settings.shares_provider_with(gid) else "none"


async def _record(interaction: Interaction, gid: int, before: str) -> None:
    """Record and announce a change of the server's image service."""
    services = interaction.client.services
    after = await provider_words(services, gid)
    if after == before and "key" not in after:
        return
    change = await services.store.record_change(
        gid, interaction.user.id, "image service", before, after
    )
    await announce_change(interaction, change)


async def provider_line(services: Services, gid: int) -> str:
    """The server's image service, as /settings show says it (never the key)."""
    stored = await services.store.get_guild_provider(gid)
    if stored is not None:
        by = f", set by <@{stored.set_by}>" if stored.set_by else ""
        return (
            f"**Image service:** this server's own, {stored.base_url} (key {stored.key_hint}"
            f"{by} <t:{int(stored.set_at)}:R>)"
        )
    if services.settings.shares_provider_with(gid):
        return "**Image service:** the bot's own (connect this server's with /settings provider)"
    return "**Image service:** none: connect one with /settings provider"
