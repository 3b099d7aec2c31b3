"""Usage read-outs for members and moderators: where a member stands, what the guild spent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

from bot.quotas.money import Spent, spent
from bot.quotas.policy import MemberLimit, member_limit
from bot.quotas.windows import window_end, window_start
from bot.store import Spend, Store, Window

_DAY = 86400


@dataclass(frozen=True, slots=True)
class WindowUsage:
    """Credits used in the current window against a limit (None: unlimited)."""

    window: Window
    used: int
    limit: int | None
    resets_at: int

    @property
    def remaining(self) -> int | None:
        """Credits left this window; None when unlimited."""
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class MemberUsage:
    """Where one member stands now: their window, the server's, in flight and cooldown."""

    guild_id: int
    user_id: int
    limit: MemberLimit
    member: WindowUsage
    server: WindowUsage
    in_flight: int
    cooldown_until: float | None


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Committed spend of one guild in the current window."""

    guild_id: int
    window: Window
    start: int
    end: int
    total_credits: int
    total_images: int
    top_members: tuple[Spend, ...]
    by_model: tuple[Spend, ...]
    by_day: tuple[tuple[str, int], ...]  # ("YYYY-MM-DD", credits) for every UTC day so far
    spent: Spent = field(default_factory=Spent)  # the money, at list prices when jobs settled
    model_usd: Mapping[str, Decimal] = field(default_factory=dict)  # the money per model


async def member_usage(
    store: Store,
    guild_id: int,
    user_id: int,
    role_ids: Iterable[int],
    is_moderator: bool,
    now: float,
) -> MemberUsage:
    """Read a member's and the server's current buckets under the guild's policy."""
    policy = await store.get_quota_policy(guild_id)
    limit = member_limit(policy, role_ids, is_moderator=is_moderator)
    start = window_start(policy.window, now)
    server_start = window_start(policy.server_window, now)
    used = await store.bucket_used(guild_id, "user", user_id, policy.window, start)
    server_used = await store.bucket_used(guild_id, "server", 0, policy.server_window, server_start)
    state = await store.member_state(guild_id, user_id)
    cooldown_until = None
    exempt = is_moderator and policy.moderators_unlimited
    if state.last_reserved_at is not None and policy.cooldown_seconds and not exempt:
        until = state.last_reserved_at + policy.cooldown_seconds
        cooldown_until = until if until > now else None
    return MemberUsage(
        guild_id=guild_id,
        user_id=user_id,
        limit=limit,
        member=WindowUsage(policy.window, used, limit.credits, window_end(policy.window, now)),
        server=WindowUsage(
            policy.server_window,
            server_used,
            policy.server_budget,
            window_end(policy.server_window, now),
        ),
        in_flight=state.in_flight,
        cooldown_until=cooldown_until,
    )


async def usage_summary(
    store: Store, guild_id: int, window: Window, now: float, *, top: int = 10
) -> UsageSummary:
    """Top members, spend by model and spend per UTC day of the window containing ``now``."""
    start, end = window_start(window, now), window_end(window, now)
    members = await store.spend_by_member(guild_id, start, end, top)
    models = await store.spend_by_model(guild_id, start, end)
    per_day: dict[str, int] = {}
    day = start - start % _DAY
    while day < min(end, now + 1):
        per_day[_day_label(day)] = 0
        day += _DAY
    charges = await store.charges(guild_id, start, end)
    model_usd: dict[str, Decimal] = {}
    for charge in charges:
        label = _day_label(charge.created_at)
        per_day[label] = per_day.get(label, 0) + charge.charged
        if charge.cost_usd is not None:
            model_usd[charge.model] = model_usd.get(charge.model, Decimal(0)) + charge.cost_usd
    return UsageSummary(
        guild_id=guild_id,
        window=window,
        start=start,
        end=end,
        total_credits=sum(m.credits for m in models),
        total_images=sum(m.images for m in models),
        top_members=tuple(members),
        by_model=tuple(models),
        by_day=tuple(sorted(per_day.items())),
        spent=spent(charges),
        model_usd=MappingProxyType(model_usd),
    )


def _day_label(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d")
