"""Servers' style presets and members' preferences (the words and checks: bot/presets.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from bot.store import queries as q
from bot.store.db import Database, Row
from bot.store.models import Preferences, Preset


class Saved(NamedTuple):
    """A preset saved: the one it replaced (None: it is new), and the one now stored (None: the
    server already has as many presets as it may, so nothing was stored)."""

    before: Preset | None
    after: Preset | None


def _preset(row: Row) -> Preset:
    created_by = row["created_by"]
    return Preset(
        guild_id=int(row["guild_id"]),
        name=str(row["name"]),
        template=str(row["template"]),
        model=row["model"],
        quality=row["quality"],
        created_by=int(created_by) if created_by is not None else None,
        created_at=float(row["created_at"]),
    )


class PresetsRepository:
    """Read, save and remove a server's presets; read and set a member's preferences."""

    _db: Database
    _clock: Callable[[], float]

    async def presets(self, guild_id: int) -> list[Preset]:
        """The server's presets, by name."""
        return [_preset(row) for row in await self._db.fetch(q.LIST_PRESETS, guild_id)]

    async def get_preset(self, guild_id: int, name: str) -> Preset | None:
        """The server's preset called ``name`` (whatever its case), or None."""
        row = await self._db.fetchrow(q.GET_PRESET, guild_id, name)
        return _preset(row) if row is not None else None

    async def save_preset(self, preset: Preset, *, limit: int) -> Saved:
        """Store ``preset``, replacing one of the same name (whose name stays as it was); a new one
        only while the server has fewer than ``limit``. ``created_at`` is now."""
        now = float(self._clock())
        values = (preset.name, preset.template, preset.model, preset.quality, preset.created_by)
        async with self._db.transaction() as tx:
            old = await tx.fetchrow(q.GET_PRESET, preset.guild_id, preset.name)
            if old is not None:
                row = await tx.fetchrow(q.UPDATE_PRESET, preset.guild_id, *values, now)
            else:
                row = await tx.fetchrow(
                    q.INSERT_PRESET_UNDER_LIMIT, preset.guild_id, *values, now, limit
                )
        return Saved(
            _preset(old) if old is not None else None, _preset(row) if row is not None else None
        )

    async def remove_preset(self, guild_id: int, name: str) -> Preset | None:
        """Remove the server's preset called ``name``; the one removed, or None if none was."""
        row = await self._db.fetchrow(q.DELETE_PRESET, guild_id, name)
        return _preset(row) if row is not None else None

    async def get_preferences(self, guild_id: int, user_id: int) -> Preferences:
        """The member's preferences on the server (none set: all None)."""
        row = await self._db.fetchrow(q.GET_PREFERENCES, guild_id, user_id)
        return _preferences(guild_id, user_id, row)

    async def set_preferences(
        self, guild_id: int, user_id: int, changes: Mapping[str, str | None]
    ) -> Preferences:
        """Set each preference in ``changes`` (None: cleared), leave the others; the result."""
        unknown = set(changes) - set(q.PREFERENCE_COLUMNS)
        if unknown:
            raise ValueError(f"no such preferences: {sorted(unknown)}")
        async with self._db.transaction() as tx:
            for column, value in changes.items():
                await tx.execute(q.SET_PREFERENCE[column], guild_id, user_id, value)
            row = await tx.fetchrow(q.GET_PREFERENCES, guild_id, user_id)
        return _preferences(guild_id, user_id, row)


def _preferences(guild_id: int, user_id: int, row: Row | None) -> Preferences:
    if row is None:
        return Preferences(guild_id, user_id)
    return Preferences(guild_id, user_id, **{c: row[c] for c in q.PREFERENCE_COLUMNS})
