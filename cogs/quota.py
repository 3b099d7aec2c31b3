"""/quota: credits per member, role and server, cooldowns, requests at a time, prices.

Every change is recorded with who made it and posted to the moderation log (``announce_change``);
changes to the policy go through ``_policy_changed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import audit_text, moderation, usage_text
from bot.errors import ValidationError
from bot.moderation import RuleChoice
from bot.store import QuotaPolicy, Window
from cogs.common import member_is_moderator
from cogs.moderation import (
    MODERATOR_PERMISSIONS,
    Credits,
    Interaction,
    announce_change,
    confirmation,
    guild_id,
    moderators_only,
    reply,
)

if TYPE_CHECKING:
    from bot.app import ImageBot


class Quota(commands.Cog):
    """The server's quota policy."""

    quota = app_commands.Group(
        name="quota",
        description="Moderators: credits per member, role, server; prices",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await moderators_only(interaction)

    async def _policy_changed(
        self, interaction: Interaction, change: Callable[[QuotaPolicy], QuotaPolicy], done: str
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        # Applied to a fresh, locked read; only the fields ``change`` changes are written, and
        # recorded with who changed them.
        changed = await self.services.store.change_quota_policy(
            guild_id(interaction), change, actor=interaction.user.id
        )
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    async def _show_policy(
        self, interaction: Interaction, done: str | None = None, *, changed: bool = True
    ) -> None:
        text = await self.services.quotas.describe_policy(guild_id(interaction))
        await reply(interaction, f"{confirmation(done, changed)}\n\n{text}" if done else text)

    @quota.command(name="show")
    async def quota_show(self, interaction: Interaction) -> None:
        """Show the quota policy in force."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._show_policy(interaction)

    @quota.command(name="user-limit")
    @app_commands.describe(
        credits="Credits per member per window (0 = no images)",
        window="hour, day, week or month (default: keep the current one)",
        unlimited="True: no per-member limit",
    )
    async def quota_user_limit(
        self,
        interaction: Interaction,
        credits: Credits | None = None,
        window: Window | None = None,
        unlimited: bool = False,
    ) -> None:
        """Set how many credits each member may spend per window."""
        await self._policy_changed(
            interaction,
            lambda p: moderation.set_user_limit(p, credits, window, unlimited),
            "Member limit changed.",
        )

    @quota.command(name="role")
    @app_commands.describe(
        role="The role", rule="limit, unlimited, blocked, or clear", credits="For limit"
    )
    async def quota_role(
        self,
        interaction: Interaction,
        role: discord.Role,
        rule: RuleChoice,
        credits: Credits | None = None,
    ) -> None:
        """Give a role its own limit, no limit, or block it (the most generous role wins)."""
        if role.is_default():
            raise ValidationError(["For everyone, use /quota user-limit."])
        new_rule = moderation.role_rule(rule, credits)
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, actor = guild_id(interaction), interaction.user.id
        changed = await self.services.store.set_role_rule(gid, role.id, new_rule, actor=actor)
        window = (await self.services.store.get_quota_policy(gid)).window
        done = f"{role.mention} {moderation.describe_rule(new_rule, window)}."
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    @quota.command(name="server-budget")
    @app_commands.describe(
        credits="Credits the whole server may spend per window",
        window="hour, day, week or month (default: keep the current one)",
        clear="True: no server budget",
    )
    async def quota_server_budget(
        self,
        interaction: Interaction,
        credits: Credits | None = None,
        window: Window | None = None,
        clear: bool = False,
    ) -> None:
        """Set (or clear) a budget for the whole server."""
        await self._policy_changed(
            interaction,
            lambda p: moderation.set_server_budget(p, credits, window, clear),
            "Server budget changed.",
        )

    @quota.command(name="cooldown")
    @app_commands.describe(seconds="Seconds a member waits between requests (0 = none)")
    async def quota_cooldown(
        self, interaction: Interaction, seconds: app_commands.Range[int, 0, 86400]
    ) -> None:
        """Set the wait between one member's requests."""
        await self._policy_changed(
            interaction,
            lambda p: dataclasses.replace(p, cooldown_seconds=seconds),
            "Cooldown changed.",
        )

    @quota.command(name="in-flight")
    @app_commands.describe(count="Requests one member may have running or queued at once")
    async def quota_in_flight(
        self, interaction: Interaction, count: app_commands.Range[int, 1, 20]
    ) -> None:
        """Set how many requests one member may have in progress."""
        await self._policy_changed(
            interaction,
            lambda p: dataclasses.replace(p, max_in_flight=count),
            "Requests at a time changed.",
        )

    @quota.command(name="cost")
    @app_commands.describe(
        model="Model",
        size="Size (empty: any size)",
        quality="Quality (empty: any quality)",
        credits="Credits per image",
        clear="True: back to the default price",
    )
    async def quota_cost(
        self,
        interaction: Interaction,
        model: str,
        size: str | None = None,
        quality: str | None = None,
        credits: Credits | None = None,
        clear: bool = False,
    ) -> None:
        """Set the credits one image costs for a model (optionally a size and quality)."""
        key = moderation.cost_key(self.services.catalog, model, size, quality)
        if clear == (credits is not None):
            raise ValidationError(["Give either credits per image or `clear: True`."])
        await interaction.response.defer(ephemeral=True, thinking=True)
        changed = await self.services.store.set_cost_override(
            guild_id(interaction), key, credits, actor=interaction.user.id
        )
        price = "the default price" if credits is None else f"{credits} credits per image"
        done = f"{moderation.describe_cost_key(key)}: {price}."
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    @quota.command(name="reset")
    @app_commands.describe(member="Whose usage in the current window to zero")
    async def quota_reset(self, interaction: Interaction, member: discord.Member) -> None:
        """Give a member their credits for this window back and lift their cooldown."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, quotas = guild_id(interaction), self.services.quotas
        roles = [r.id for r in member.roles if not r.is_default()]
        is_moderator = await member_is_moderator(interaction, member)
        before = await quotas.member_usage(gid, member.id, roles, is_moderator=is_moderator)
        await quotas.reset_member(gid, member.id)
        usage = await quotas.member_usage(gid, member.id, roles, is_moderator=is_moderator)
        old, new = audit_text.usage_value(before), audit_text.usage_value(usage)
        changed = None
        if old != new:
            what = f"usage reset for {member.mention}"
            changed = await self.services.store.record_change(
                gid, interaction.user.id, what, old, new
            )
        done = confirmation(f"Usage of {member.mention} reset.", changed is not None)
        await reply(interaction, f"{done}\n\n{usage_text.member_usage_text(usage)}")
        await announce_change(interaction, changed)

    @quota.command(name="exempt-moderators")
    @app_commands.describe(enabled="True: moderators have no member limit or cooldown")
    async def quota_exempt(self, interaction: Interaction, enabled: bool) -> None:
        """Choose whether moderators skip the member limit and cooldown."""
        await self._policy_changed(
            interaction,
            lambda p: dataclasses.replace(p, moderators_unlimited=enabled),
            "Moderator exemption changed.",
        )

    @quota_cost.autocomplete("model")
    async def _cost_model(self, i: Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = self.services.catalog.names()
        return [app_commands.Choice(name=n, value=n) for n in names if current in n][:25]


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Quota(bot))
