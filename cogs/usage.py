"""What moderators and members read: /usage, /history, and the moderation log channel."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import usage_text
from bot.errors import ContentRejected, NotAllowed, QuotaExceeded, SafetyRefused
from bot.i18n import lazy, t
from bot.jobs import Requester
from bot.quotas.budget import budget_alert
from bot.quotas.money import spent
from bot.render import DESCRIPTION_LIMIT, OK_COLOUR, shorten
from bot.reports import members_csv, usage_chart_png, usage_csv
from bot.store import Job, Reservation, Window
from cogs.common import member_is_moderator, reader_locale
from cogs.moderation import (
    Interaction,
    ModeratorsOnly,
    guild_id,
    moderators_only,
    reply,
    reply_pages,
)

if TYPE_CHECKING:
    from bot.app import ImageBot

log = logging.getLogger(__name__)

LOG_COLOUR = discord.Colour.from_rgb(237, 66, 69)
QUOTA_LOG_QUIET = 600.0  # one quota post per member per ten minutes: blocked members retry
BUDGET_COLOUR = discord.Colour.gold()


def _names(
    guild: discord.Guild | None, user_ids: set[int], asked: dict[int, str]
) -> dict[int, str]:
    """Each member's name: as their requests carried it, else from the member cache if there.

    The cache stays nearly empty without the privileged members intent, hence the requests first.
    """
    names = {uid: asked[uid] for uid in user_ids if asked.get(uid)}
    for uid in user_ids - names.keys():
        member = guild.get_member(uid) if guild else None
        if member is not None:
            names[uid] = member.display_name
    return names


class Reports(commands.Cog):
    """Usage, history and the moderation log."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.services = bot.services
        self._posts: set[asyncio.Task[bool]] = set()
        self._quota_log = usage_text.Throttle(QUOTA_LOG_QUIET)
        # Budget alerts this process has seen claimed: no claim per job once a threshold is past.
        self._budget_seen: set[str] = set()

    # /usage -----------------------------------------------------------------------------------

    @app_commands.command(name="usage")
    @app_commands.guild_only()
    @app_commands.describe(
        server="Moderators: the whole server's spend, with a chart and CSV files",
        member="Moderators: another member's credits",
        window="With server: which period (default: this month)",
    )
    async def usage(
        self,
        interaction: Interaction,
        server: bool = False,
        member: discord.Member | None = None,
        window: Window = "month",
    ) -> None:
        """See your image credits: used, left, and when they reset."""
        if (server or member is not None) and not await member_is_moderator(interaction):
            raise ModeratorsOnly(
                lazy("Only moderators can see the server's or another member's usage.")
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = await reader_locale(interaction)
        if server:
            await self._server_usage(interaction, window, locale)
            return
        target = member or interaction.user
        roles = [r.id for r in getattr(target, "roles", ()) if not r.is_default()]
        usage = await self.services.quotas.member_usage(
            guild_id(interaction),
            target.id,
            roles,
            is_moderator=await member_is_moderator(interaction, target),
        )
        if member is None:
            title = t(locale, "Your image credits")
        else:
            title = t(locale, "Credits of {name}", name=target.display_name)
        price = await self._default_price(guild_id(interaction))
        text = usage_text.member_usage_text(usage, price, locale)
        await reply(interaction, text, title=title)

    async def _default_price(self, gid: int) -> tuple[str, int]:
        # The model a member here really gets, priced as a job of it is charged (its lineage).
        jobs = self.services.jobs
        settings = await self.services.store.get_guild_settings(gid)
        provider = await jobs.provider_for(gid)
        model = jobs.server_default("generate", settings, provider) or jobs.service_default(
            "generate", provider=provider
        )
        spec = provider.spec(model)
        like = spec.lineage if spec else ()
        return model, await self.services.quotas.price(gid, model, None, None, like=like)

    async def _server_usage(self, interaction: Interaction, window: Window, locale: str) -> None:
        gid, quotas, offload = guild_id(interaction), self.services.quotas, self.services.offload
        summary = await quotas.usage_summary(gid, window)
        store = self.services.store
        charges = await store.charges(gid, summary.start, summary.end)
        asked = await store.requester_names(gid, summary.start, summary.end)
        names = _names(interaction.guild, {c.user_id for c in charges}, asked)
        chart = await offload.run(usage_chart_png, summary, locale)
        members = await offload.run(members_csv, charges, names)
        ledger = await offload.run(usage_csv, charges)
        server = (await quotas.member_usage(gid, interaction.user.id, ())).server
        budget = None if server.limit is None else usage_text.budget_line(server, locale)
        stamp = f"{window}-{summary.start}"
        files = [
            discord.File(io.BytesIO(chart), filename=f"usage-{stamp}.png"),
            discord.File(io.BytesIO(members), filename=f"usage-members-{stamp}.csv"),
            discord.File(io.BytesIO(ledger), filename=f"usage-ledger-{stamp}.csv"),
        ]
        own = await self._own_provider(gid)
        text = usage_text.server_usage_text(summary, budget, names, own_provider=own, locale=locale)
        await reply(interaction, text, title=t(locale, "Server usage"), files=files)

    async def _own_provider(self, gid: int) -> bool:
        """Whether the server's jobs go to (and are billed by) its own image service."""
        try:
            return (await self.services.jobs.provider_for(gid)).own
        except NotAllowed:
            return False

    # /history ---------------------------------------------------------------------------------

    @app_commands.command(name="history")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(moderators_only)
    @app_commands.describe(member="Only this member's requests", limit="How many (up to 50)")
    async def history(
        self,
        interaction: Interaction,
        member: discord.User | None = None,
        limit: app_commands.Range[int, 1, 50] = 15,
    ) -> None:
        """Moderators: the latest image requests, who made them and how they ended."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = await reader_locale(interaction)
        jobs = await self.services.store.recent_jobs(
            guild_id(interaction), limit, member.id if member else None
        )
        if not jobs:
            await reply(
                interaction, t(locale, "No requests yet."), title=t(locale, "Recent requests")
            )
            return
        cached = _names(interaction.guild, {j.user_id for j in jobs if not j.requester_name}, {})
        lines = [
            usage_text.history_line(j, fallback_name=cached.get(j.user_id, ""), locale=locale)
            for j in jobs
        ]
        title = t(locale, "Recent requests ({count})", count=len(jobs))
        await reply_pages(interaction, title, lines)

    # the moderation log -----------------------------------------------------------------------

    async def cog_load(self) -> None:
        self.services.jobs.failure_listeners.append(self.on_job_failed)
        self.services.jobs.settlement.listeners.append(self.on_job_settled)

    async def cog_unload(self) -> None:
        jobs = self.services.jobs
        if self.on_job_failed in jobs.failure_listeners:
            jobs.failure_listeners.remove(self.on_job_failed)
        if self.on_job_settled in jobs.settlement.listeners:
            jobs.settlement.listeners.remove(self.on_job_settled)
        for task in list(self._posts):
            task.cancel()

    def _post(self, posting: Coroutine[Any, Any, bool]) -> None:
        """Post in the background: a member's reply or delivery shouldn't wait for the log."""
        task = asyncio.create_task(posting)
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def on_job_settled(self, job: Job, settled: Reservation) -> None:
        """Check the server budget after each charge; alert the log at 80 % and 100 %."""
        self._post(self._budget_alert(job.guild_id, settled))

    async def _budget_alert(self, gid: int, settled: Reservation) -> bool:
        store = self.services.store
        policy = await store.get_quota_policy(gid)
        if policy.server_budget is None:
            return False
        if (await store.get_guild_settings(gid)).mod_log_channel_id is None:
            return False  # not marked seen: a log channel set later still hears this window
        window, start = settled.server_window, settled.server_window_start
        used = await store.bucket_used(gid, "server", 0, window, start)
        alert = budget_alert(policy, settled, used)
        if alert is None or alert.key in self._budget_seen:
            return False
        if len(self._budget_seen) > 10_000:
            self._budget_seen.clear()  # a memory only: the claim in the store is what counts
        self._budget_seen.add(alert.key)
        charges = await store.charges(gid, alert.window_start, alert.resets_at)
        own = await self._own_provider(gid)
        locale = await self.bot.server_locale(gid)
        entry = usage_text.budget_entry(alert, spent(charges), own_provider=own, locale=locale)
        embed = discord.Embed(title=entry.title, description=entry.description)
        embed.colour = BUDGET_COLOUR
        return await self.bot.mod_log(gid, embed, once=alert.key)

    async def on_job_failed(self, job: Job, who: Requester, exc: BaseException) -> None:
        """Post refused prompts and quota blocks to the guild's moderation log, if it has one,
        each with a link to where it was asked for, in the server's language."""
        self._post(self._job_report(job, who, exc))

    async def _job_report(self, job: Job, who: Requester, exc: BaseException) -> bool:
        locale = await self.bot.server_locale(job.guild_id)
        entry = usage_text.log_entry(job, exc, who.jump_url, locale, who.locale)
        if entry is None:
            return False
        if isinstance(exc, QuotaExceeded) and not self._quota_log.allow(
            (job.guild_id, job.user_id)
        ):
            return False
        embed = discord.Embed(
            title=entry.title, description=shorten(entry.description, DESCRIPTION_LIMIT)
        )
        refused = isinstance(exc, ContentRejected | SafetyRefused)
        embed.colour = LOG_COLOUR if refused else OK_COLOUR
        return await self.bot.mod_log(job.guild_id, embed)


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Reports(bot))
