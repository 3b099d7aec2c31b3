"""Per-guild settings and quota policy: one typed row each, defaults in code, cached.

A guild that never saved anything reads as the dataclass defaults, so no row is written until
a moderator changes something. Reads are cached per process and the cache entry is dropped on
every write through this store; ``cache_ttl`` bounds how stale another process's view can be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

from bot.store import queries as q
from bot.store.db import Database, Row
from bot.store.models import CostKey, GuildSettings, QuotaPolicy, RoleRule, RuleKind, Window


class _TTLCache:
    """guild_id -> value, each entry valid for ``ttl`` seconds of monotonic time."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[int, tuple[float, Any]] = {}

    def get(self, guild_id: int) -> Any | None:
        entry = self._entries.get(guild_id)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def put(self, guild_id: int, value: object) -> None:
        self._entries[guild_id] = (time.monotonic(), value)

    def drop(self, guild_id: int) -> None:
        self._entries.pop(guild_id, None)


def _settings_from_row(guild_id: int, row: Row | None) -> GuildSettings:
    if row is None:
        return GuildSettings(guild_id=guild_id)
    models = row["allowed_models"]
    return GuildSettings(
        guild_id=guild_id,
        allowed_models=None if models is None else tuple(json.loads(models)),
        default_model=row["default_model"],
        allowed_channel_ids=tuple(json.loads(row["allowed_channel_ids"])),
        moderator_role_ids=tuple(json.loads(row["moderator_role_ids"])),
        mod_log_channel_id=row["mod_log_channel_id"],
    )


def _policy_from_rows(
    guild_id: int, row: Row | None, rules: list[Row], costs: list[Row]
) -> QuotaPolicy:
    roles = {r["role_id"]: RoleRule(cast(RuleKind, r["kind"]), r["credit_limit"]) for r in rules}
    prices: dict[CostKey, int] = {
        (c["model"], c["size"], c["quality"]): c["credits"] for c in costs
    }
    if row is None:
        return QuotaPolicy(guild_id=guild_id, roles=roles, costs=prices)
    return QuotaPolicy(
        guild_id=guild_id,
        window=cast(Window, row["window_kind"]),
        user_limit=row["user_limit"],
        server_budget=row["server_budget"],
        server_window=cast(Window, row["server_window"]),
        cooldown_seconds=row["cooldown_seconds"],
        max_in_flight=row["max_in_flight"],
        moderators_unlimited=bool(row["moderators_unlimited"]),
        roles=roles,
        costs=prices,
    )


class GuildsRepository:
    """Read and write guild settings and quota policies through a per-process cache."""

    _db: Database
    _clock: Callable[[], float]
    _settings_cache: _TTLCache
    _policy_cache: _TTLCache

    def _init_caches(self, ttl: float) -> None:
        self._settings_cache = _TTLCache(ttl)
        self._policy_cache = _TTLCache(ttl)

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """The guild's settings (defaults if it never saved any); cached."""
        cached = self._settings_cache.get(guild_id)
        if cached is not None:
            return cast(GuildSettings, cached)
        row = await self._db.fetchrow(q.GET_GUILD_SETTINGS, guild_id)
        settings = _settings_from_row(guild_id, row)
        self._settings_cache.put(guild_id, settings)
        return settings

    async def save_guild_settings(self, settings: GuildSettings) -> None:
        """Write the guild's settings row and drop the cached copy."""
        models = settings.allowed_models
        await self._db.execute(
            q.UPSERT_GUILD_SETTINGS,
            settings.guild_id,
            None if models is None else json.dumps(list(models)),
            settings.default_model,
            json.dumps([int(c) for c in settings.allowed_channel_ids]),
            json.dumps([int(r) for r in settings.moderator_role_ids]),
            settings.mod_log_channel_id,
            float(self._clock()),
        )
        self._settings_cache.drop(settings.guild_id)

    async def get_quota_policy(self, guild_id: int) -> QuotaPolicy:
        """The guild's quota policy with its role rules and price overrides; cached."""
        cached = self._policy_cache.get(guild_id)
        if cached is not None:
            return cast(QuotaPolicy, cached)
        row = await self._db.fetchrow(q.GET_QUOTA_POLICY, guild_id)
        rules = await self._db.fetch(q.GET_ROLE_RULES, guild_id)
        costs = await self._db.fetch(q.GET_COST_OVERRIDES, guild_id)
        policy = _policy_from_rows(guild_id, row, rules, costs)
        self._policy_cache.put(guild_id, policy)
        return policy

    async def save_quota_policy(self, policy: QuotaPolicy) -> None:
        """Replace the guild's whole policy (row, role rules, prices) in one transaction."""
        g = policy.guild_id
        async with self._db.transaction() as tx:
            await tx.execute(
                q.UPSERT_QUOTA_POLICY,
                g,
                policy.window,
                policy.user_limit,
                policy.server_budget,
                policy.server_window,
                policy.cooldown_seconds,
                policy.max_in_flight,
                policy.moderators_unlimited,
                float(self._clock()),
            )
            await tx.execute(q.DELETE_ROLE_RULES, g)
            for role_id, rule in policy.roles.items():
                await tx.execute(q.UPSERT_ROLE_RULE, g, role_id, rule.kind, rule.limit)
            await tx.execute(q.DELETE_COST_OVERRIDES, g)
            for (model, size, quality), credits in policy.costs.items():
                await tx.execute(q.UPSERT_COST_OVERRIDE, g, model, size, quality, credits)
        self._policy_cache.drop(g)

    async def set_role_rule(self, guild_id: int, role_id: int, rule: RoleRule | None) -> None:
        """Set one role's override, or remove it with ``None``."""
        if rule is None:
            await self._db.execute(q.DELETE_ROLE_RULE, guild_id, role_id)
        else:
            await self._db.execute(q.UPSERT_ROLE_RULE, guild_id, role_id, rule.kind, rule.limit)
        self._policy_cache.drop(guild_id)

    async def set_cost_override(self, guild_id: int, key: CostKey, credits: int | None) -> None:
        """Set the credits per image of (model, size, quality) ("*" matches any), or remove."""
        model, size, quality = key
        if credits is None:
            await self._db.execute(q.DELETE_COST_OVERRIDE, guild_id, model, size, quality)
        else:
            if credits < 0:
                raise ValueError("a price can't be negative")
            await self._db.execute(q.UPSERT_COST_OVERRIDE, guild_id, model, size, quality, credits)
        self._policy_cache.drop(guild_id)
