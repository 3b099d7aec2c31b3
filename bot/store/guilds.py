"""Per-guild settings and quota policy: one typed row each, defaults in code, cached.

A guild that never saved anything reads as the dataclass defaults, so no row is written until
a moderator changes something. A change locks the guild's row, reads it fresh (never from the
cache), applies a pure function and writes only the columns and rule rows that differ, so two
moderators, or two processes, can't undo each other. Reads are cached per process and the entry
is dropped on every write through this store; ``cache_ttl`` bounds how stale another process's
view can be. Every change that changes something is recorded in the audit trail in the same
transaction, in words (``bot.store.changes``), with the moderator who made it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from bot.store import queries as q
from bot.store.audit import insert_change
from bot.store.changes import Diff, describe_change
from bot.store.db import Database, Executor, Row
from bot.store.models import Change, CostKey, GuildSettings, QuotaPolicy, RoleRule, RuleKind, Window

K = TypeVar("K")
V = TypeVar("V")


class _TTLCache:
    """guild_id -> value, each entry valid for ``ttl`` seconds of monotonic time."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[int, tuple[float, Any]] = {}
        self._writes: dict[int, int] = {}

    def get(self, guild_id: int) -> Any | None:
        entry = self._entries.get(guild_id)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def writes(self, guild_id: int) -> int:
        """How many times the guild was written: a read started before a write can tell."""
        return self._writes.get(guild_id, 0)

    def put(self, guild_id: int, value: object, writes_before_read: int) -> None:
        # A read that raced a write may hold the old row: caching it would hide the write.
        if self.writes(guild_id) == writes_before_read:
            self._entries[guild_id] = (time.monotonic(), value)

    def drop(self, guild_id: int) -> None:
        self._entries.pop(guild_id, None)
        self._writes[guild_id] = self.writes(guild_id) + 1


def _settings_columns(settings: GuildSettings) -> dict[str, object]:
    models = settings.allowed_models
    return {
        "allowed_models": None if models is None else json.dumps(list(models)),
        "default_model": settings.default_model,
        "allowed_channel_ids": json.dumps([int(c) for c in settings.allowed_channel_ids]),
        "moderator_role_ids": json.dumps([int(r) for r in settings.moderator_role_ids]),
        "mod_log_channel_id": settings.mod_log_channel_id,
        "low_moderation": settings.low_moderation,
        "spoilers": settings.spoilers,
        "prompt_check": settings.prompt_check,
        "blocked_words": json.dumps(list(settings.blocked_words)),
        "language": settings.language,
    }


def _policy_columns(policy: QuotaPolicy) -> dict[str, object]:
    return {
        "window_kind": policy.window,
        "user_limit": policy.user_limit,
        "server_budget": policy.server_budget,
        "server_window": policy.server_window,
        "cooldown_seconds": policy.cooldown_seconds,
        "max_in_flight": policy.max_in_flight,
        "moderators_unlimited": policy.moderators_unlimited,
    }


async def _lock_row(
    tx: Executor,
    sql: str,
    guild_id: int,
    columns: tuple[str, ...],
    defaults: Mapping[str, object],
    now: float,
) -> Row:
    row = await tx.fetchrow(sql, guild_id, *(defaults[c] for c in columns), now)
    assert row is not None
    return row


async def _record(
    tx: Executor, guild_id: int, actor: int | None, now: float, diff: Diff | None
) -> Change | None:
    return None if diff is None else await insert_change(tx, guild_id, actor, now, diff)


async def _write_changed(
    tx: Executor,
    statements: Mapping[str, str],
    guild_id: int,
    old: Mapping[str, object],
    new: Mapping[str, object],
) -> None:
    for column, value in new.items():
        if old[column] != value:
            await tx.execute(statements[column], guild_id, value)


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
        low_moderation=bool(row["low_moderation"]),
        spoilers=bool(row["spoilers"]),
        prompt_check=bool(row["prompt_check"]),
        blocked_words=tuple(json.loads(row["blocked_words"])),
        language=row["language"],
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
        writes = self._settings_cache.writes(guild_id)
        row = await self._db.fetchrow(q.GET_GUILD_SETTINGS, guild_id)
        settings = _settings_from_row(guild_id, row)
        self._settings_cache.put(guild_id, settings, writes)
        return settings

    async def change_guild_settings(
        self,
        guild_id: int,
        change: Callable[[GuildSettings], GuildSettings],
        *,
        actor: int | None = None,
    ) -> Change | None:
        """Apply ``change`` to the guild's fresh settings and store only what it changed.

        ``change`` runs inside the transaction with the row locked: keep it pure and quick. An
        exception from it (a refused change) rolls everything back. Returns the audit record of
        the change ``actor`` made (None when nothing changed, and then nothing is recorded).
        """
        columns, now = q.SETTINGS_COLUMNS, float(self._clock())
        async with self._db.transaction() as tx:
            defaults = _settings_columns(GuildSettings(guild_id))
            row = await _lock_row(tx, q.LOCK_GUILD_SETTINGS, guild_id, columns, defaults, now)
            old = _settings_from_row(guild_id, row)
            new = change(old)
            if new.guild_id != guild_id:
                raise ValueError("a change can't move settings to another guild")
            await _write_changed(
                tx, q.SET_GUILD_SETTING, guild_id, _settings_columns(old), _settings_columns(new)
            )
            diff = describe_change("settings", old, new)
            recorded = await _record(tx, guild_id, actor, now, diff)
        self._settings_cache.drop(guild_id)
        return recorded

    async def save_guild_settings(self, settings: GuildSettings) -> None:
        """Make the guild's settings exactly ``settings`` (writes only the fields that differ)."""
        await self.change_guild_settings(settings.guild_id, lambda _: settings)

    async def get_quota_policy(self, guild_id: int) -> QuotaPolicy:
        """The guild's quota policy with its role rules and price overrides; cached."""
        cached = self._policy_cache.get(guild_id)
        if cached is not None:
            return cast(QuotaPolicy, cached)
        writes = self._policy_cache.writes(guild_id)
        row = await self._db.fetchrow(q.GET_QUOTA_POLICY, guild_id)
        rules = await self._db.fetch(q.GET_ROLE_RULES, guild_id)
        costs = await self._db.fetch(q.GET_COST_OVERRIDES, guild_id)
        policy = _policy_from_rows(guild_id, row, rules, costs)
        self._policy_cache.put(guild_id, policy, writes)
        return policy

    async def change_quota_policy(
        self,
        guild_id: int,
        change: Callable[[QuotaPolicy], QuotaPolicy],
        *,
        actor: int | None = None,
    ) -> Change | None:
        """Apply ``change`` to the guild's fresh policy; store only the columns and rules it changed.

        Same contract as ``change_guild_settings``. Role rules and prices are written per row,
        so a change of the member limit never touches a rule another moderator just set.
        """
        columns, now = q.POLICY_COLUMNS, float(self._clock())
        async with self._db.transaction() as tx:
            defaults = _policy_columns(QuotaPolicy(guild_id))
            row = await _lock_row(tx, q.LOCK_QUOTA_POLICY, guild_id, columns, defaults, now)
            rules = await tx.fetch(q.GET_ROLE_RULES, guild_id)
            costs = await tx.fetch(q.GET_COST_OVERRIDES, guild_id)
            old = _policy_from_rows(guild_id, row, rules, costs)
            new = change(old)
            if new.guild_id != guild_id:
                raise ValueError("a change can't move a policy to another guild")
            await _write_changed(
                tx, q.SET_POLICY_COLUMN, guild_id, _policy_columns(old), _policy_columns(new)
            )
            await _write_rules(tx, guild_id, old, new)
            # In a policy, None means no limit: a new limit field reads "unlimited" by itself.
            diff = describe_change("quota", old, new, none="unlimited")
            recorded = await _record(tx, guild_id, actor, now, diff)
        self._policy_cache.drop(guild_id)
        return recorded

    async def save_quota_policy(self, policy: QuotaPolicy) -> None:
        """Make the guild's policy exactly ``policy``: rules and prices not in it are removed."""
        await self.change_quota_policy(policy.guild_id, lambda _: policy)

    async def set_role_rule(
        self, guild_id: int, role_id: int, rule: RoleRule | None, *, actor: int | None = None
    ) -> Change | None:
        """Set one role's override, or remove it with ``None``; returns the audit record."""
        return await self.change_quota_policy(
            guild_id,
            lambda p: dataclasses.replace(p, roles=_with_entry(p.roles, role_id, rule)),
            actor=actor,
        )

    async def set_cost_override(
        self, guild_id: int, key: CostKey, credits: int | None, *, actor: int | None = None
    ) -> Change | None:
        """Set the credits per image of (model, size, quality) ("*" matches any), or remove."""
        if credits is not None and credits < 0:
            raise ValueError("a price can't be negative")
        return await self.change_quota_policy(
            guild_id,
            lambda p: dataclasses.replace(p, costs=_with_entry(p.costs, key, credits)),
            actor=actor,
        )


def _with_entry(entries: Mapping[K, V], key: K, value: V | None) -> dict[K, V]:
    """``entries`` with ``key`` set to ``value``, or removed with None; the rest untouched."""
    changed = {k: v for k, v in entries.items() if k != key}
    if value is not None:
        changed[key] = value
    return changed


async def _write_rules(tx: Executor, guild_id: int, old: QuotaPolicy, new: QuotaPolicy) -> None:
    for role_id in old.roles.keys() | new.roles.keys():
        if old.roles.get(role_id) != new.roles.get(role_id):
            await _set_role_rule(tx, guild_id, role_id, new.roles.get(role_id))
    for key in old.costs.keys() | new.costs.keys():
        if old.costs.get(key) != new.costs.get(key):
            await _set_cost_override(tx, guild_id, key, new.costs.get(key))


async def _set_role_rule(db: Executor, guild_id: int, role_id: int, rule: RoleRule | None) -> None:
    if rule is None:
        await db.execute(q.DELETE_ROLE_RULE, guild_id, role_id)
    else:
        await db.execute(q.UPSERT_ROLE_RULE, guild_id, role_id, rule.kind, rule.limit)


async def _set_cost_override(
    db: Executor, guild_id: int, key: CostKey, credits: int | None
) -> None:
    model, size, quality = key
    if credits is None:
        await db.execute(q.DELETE_COST_OVERRIDE, guild_id, model, size, quality)
    else:
        await db.execute(q.UPSERT_COST_OVERRIDE, guild_id, model, size, quality, credits)
