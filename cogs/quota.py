"""/quota: credits per member, role and server, cooldowns, requests at a time, prices.

Every change is recorded with who made it and posted to the moderation log (``announce_change``);
changes to the policy go through ``_policy_changed``. A limit can be given in images of a model
instead of credits: it is converted with the server's prices (``limits.limit_in_credits``) and
stored in credits, like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from bot import audit_text, limits, usage_text
from bot.errors import NotAllowed, ValidationError
from bot.i18n import Command, Words, lazy, lazy_n, t
from bot.limits import MAX_IMAGES
from bot.models import ModelSpec
from bot.moderation import RuleChoice
from bot.quotas.pricing import main_operation, offered
from bot.render import OK_COLOUR
from bot.store import QuotaPolicy, Window
from bot.store.changes import cost_key_text
from cogs.common import member_is_moderator, reader_locale
from cogs.moderation import (
    MODERATOR_PERMISSIONS,
    NO_PINGS,
    Credits,
    Interaction,
    ModeratorCog,
    announce_change,
    confirmation,
    guild_id,
    reply,
)

if TYPE_CHECKING:
    from bot.app import ImageBot

Images = app_commands.Range[int, 0, MAX_IMAGES]
Choices = list[app_commands.Choice[str]]
F = TypeVar("F")


def in_images(command: F) -> F:
    """What the three limit commands say about a limit given in images (through ``describe``,
    so that the command translator gives Discord these in every language, as any description;
    a fresh one each time: discord.py keeps and empties the dict it is given)."""
    return app_commands.describe(
        images="Instead of credits: this many images of `model`",
        model="For images: the model they are of",
        size="For images: their size (default: the model's default size)",
        quality="For images: their quality (default: what members get when they pick none)",
    )(command)


class Quota(ModeratorCog):
    """The server's quota policy."""

    quota = app_commands.Group(
        name="quota",
        description="Moderators: credits per member, role, server; prices",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    async def _policy_changed(
        self, interaction: Interaction, change: Callable[[QuotaPolicy], QuotaPolicy], done: Words
    ) -> None:
        if not interaction.response.is_done():  # the limit commands defer before pricing
            await interaction.response.defer(ephemeral=True, thinking=True)
        # Applied to a fresh, locked read; only the fields ``change`` changes are written, and
        # recorded with who changed them.
        changed = await self.services.store.change_quota_policy(
            guild_id(interaction), change, actor=interaction.user.id
        )
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    async def _show_policy(
        self, interaction: Interaction, done: Words | None = None, *, changed: bool = True
    ) -> None:
        """The policy in the moderator's language, after what was done (if anything)."""
        gid, locale = guild_id(interaction), await reader_locale(interaction)
        text = await self.services.quotas.describe_policy(gid, await self._models(gid), locale)
        head = [confirmation(done, changed, locale), ""] if done else []
        lines = [*head, *text.split("\n")]
        # A long price list goes over several embeds and messages, split between lines.
        for number, descriptions in enumerate(usage_text.pages(lines)):
            embeds = [discord.Embed(description=d, colour=OK_COLOUR) for d in descriptions]
            if number == 0:
                await interaction.edit_original_response(embeds=embeds, allowed_mentions=NO_PINGS)
            else:
                await interaction.followup.send(
                    embeds=embeds, ephemeral=True, allowed_mentions=NO_PINGS
                )

    async def _models(self, gid: int) -> tuple[ModelSpec, ...]:
        """The models the server allows that its provider can use today (none without one)."""
        try:
            provider = await self.services.jobs.provider_for(gid)
        except NotAllowed:
            return ()
        allowed = (await self.services.store.get_guild_settings(gid)).allowed_models
        return offered(provider.usable(), allowed)

    async def _limit(
        self, interaction: Interaction, given: limits.GivenLimit
    ) -> tuple[limits.Limit, QuotaPolicy]:
        """The limit in credits, priced with this server's prices, and the policy it was priced
        under; the interaction is deferred first."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid = guild_id(interaction)
        provider = await self.services.jobs.provider_for(gid)
        allowed = (await self.services.store.get_guild_settings(gid)).allowed_models
        policy = await self.services.store.get_quota_policy(gid)
        return limits.limit_in_credits(given, provider, allowed, policy.costs), policy

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
    @in_images
    async def quota_user_limit(
        self,
        interaction: Interaction,
        credits: Credits | None = None,
        images: Images | None = None,
        model: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        window: Window | None = None,
        unlimited: bool = False,
    ) -> None:
        """Set how many credits, or images of a model, each member may use per window."""
        given = limits.given_limit(credits, images, model, size, quality)
        limit, policy = await self._limit(interaction, given)
        done = limit.changed(window or policy.window, server=False)
        await self._policy_changed(
            interaction,
            lambda p: limits.set_user_limit(p, limit.credits, window, unlimited),
            done,
        )

    @quota.command(name="role")
    @app_commands.describe(
        role="The role",
        rule="limit, unlimited, blocked, or clear",
        credits="For limit: credits per window",
    )
    @in_images
    async def quota_role(
        self,
        interaction: Interaction,
        role: discord.Role,
        rule: RuleChoice,
        credits: Credits | None = None,
        images: Images | None = None,
        model: str | None = None,
        size: str | None = None,
        quality: str | None = None,
    ) -> None:
        """Give a role its own limit, no limit, or block it (the most generous role wins)."""
        if role.is_default():
            raise ValidationError(
                [lazy("For everyone, use {command}.", command=Command("quota user-limit"))]
            )
        given = limits.given_limit(credits, images, model, size, quality)
        limit, policy = await self._limit(interaction, given)
        new_rule = limits.role_rule(rule, limit.credits)
        gid, actor = guild_id(interaction), interaction.user.id
        changed = await self.services.store.set_role_rule(gid, role.id, new_rule, actor=actor)
        rule_text = limits.describe_rule(new_rule, policy.window, limit.images)
        done = lazy("{role} {rule}.", role=role.mention, rule=rule_text)
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    @quota.command(name="server-budget")
    @app_commands.describe(
        credits="Credits the whole server may spend per window",
        window="hour, day, week or month (default: keep the current one)",
        clear="True: no server budget",
    )
    @in_images
    async def quota_server_budget(
        self,
        interaction: Interaction,
        credits: Credits | None = None,
        images: Images | None = None,
        model: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        window: Window | None = None,
        clear: bool = False,
    ) -> None:
        """Set (or clear) a budget in credits, or images of a model, for the whole server."""
        given = limits.given_limit(credits, images, model, size, quality)
        limit, policy = await self._limit(interaction, given)
        done = limit.changed(window or policy.server_window, server=True)
        await self._policy_changed(
            interaction,
            lambda p: limits.set_server_budget(p, limit.credits, window, clear),
            done,
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
            lazy("Cooldown changed."),
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
            lazy("Requests at a time changed."),
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
        key = limits.cost_key(self.services.catalog, model, size, quality)
        if clear == (credits is not None):
            raise ValidationError([lazy("Give either credits per image or `clear: True`.")])
        await interaction.response.defer(ephemeral=True, thinking=True)
        changed = await self.services.store.set_cost_override(
            guild_id(interaction), key, credits, actor=interaction.user.id
        )
        price = (
            lazy("the default price")
            if credits is None
            else lazy_n("{count} credit per image", "{count} credits per image", credits)
        )
        done = lazy("{key}: {price}.", key=cost_key_text(key), price=price)
        await self._show_policy(interaction, done, changed=changed is not None)
        await announce_change(interaction, changed)

    @quota.command(name="reset")
    @app_commands.describe(member="Whose usage in the current window to zero")
    async def quota_reset(self, interaction: Interaction, member: discord.Member) -> None:
        """Give a member their credits for this window back and lift their cooldown."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        gid, quotas = guild_id(interaction), self.services.quotas
        locale = await reader_locale(interaction)
        roles = [r.id for r in member.roles if not r.is_default()]
        is_moderator = await member_is_moderator(interaction, member)
        before = await quotas.member_usage(gid, member.id, roles, is_moderator=is_moderator)
        await quotas.reset_member(gid, member.id)
        usage = await quotas.member_usage(gid, member.id, roles, is_moderator=is_moderator)
        old, new = audit_text.usage_value(before), audit_text.usage_value(usage)
        changed = None
        if old != new:
            what = audit_text.USAGE_RESET.format(member=member.mention)  # stored in English
            changed = await self.services.store.record_change(
                gid, interaction.user.id, what, old, new
            )
        done = t(locale, "Usage of {member} reset.", member=member.mention)
        text = usage_text.member_usage_text(usage, locale=locale)
        await reply(interaction, f"{confirmation(done, changed is not None, locale)}\n\n{text}")
        await announce_change(interaction, changed)

    @quota.command(name="exempt-moderators")
    @app_commands.describe(enabled="True: moderators have no member limit or cooldown")
    async def quota_exempt(self, interaction: Interaction, enabled: bool) -> None:
        """Choose whether moderators skip the member limit and cooldown."""
        await self._policy_changed(
            interaction,
            lambda p: dataclasses.replace(p, moderators_unlimited=enabled),
            lazy("Moderator exemption changed."),
        )

    @quota_cost.autocomplete("model")
    async def _cost_model(self, i: Interaction, current: str) -> Choices:
        return _choices(list(self.services.catalog.names()), current)

    @quota_user_limit.autocomplete("model")
    @quota_role.autocomplete("model")
    @quota_server_budget.autocomplete("model")
    async def _limit_model(self, i: Interaction, current: str) -> Choices:
        models = await self._models(guild_id(i))
        return _choices([spec.name for spec in models], current)

    @quota_user_limit.autocomplete("size")
    @quota_role.autocomplete("size")
    @quota_server_budget.autocomplete("size")
    async def _limit_size(self, i: Interaction, current: str) -> Choices:
        spec = await self._chosen(i)
        op = main_operation(spec) if spec else None
        return _choices(list(spec.sizes(op)) if spec and op else [], current)

    @quota_user_limit.autocomplete("quality")
    @quota_role.autocomplete("quality")
    @quota_server_budget.autocomplete("quality")
    async def _limit_quality(self, i: Interaction, current: str) -> Choices:
        spec = await self._chosen(i)
        return _choices(list(spec.values("quality")) if spec else [], current)

    async def _chosen(self, interaction: Interaction) -> ModelSpec | None:
        """The model typed so far in a limit command, if the provider knows it."""
        name = getattr(interaction.namespace, "model", None)
        provider = await self.services.jobs.provider_for(guild_id(interaction))
        return provider.spec(name) if isinstance(name, str) else None


def _choices(values: list[str], current: str) -> Choices:
    return [app_commands.Choice(name=v, value=v) for v in values if current in v][:25]


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Quota(bot))
