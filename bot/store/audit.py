"""The audit trail of moderator changes: who changed what, when, before and after.

The settings and policy changes of ``GuildsRepository`` record themselves in their own
transaction (``insert_change``); anything else a moderator changes is recorded with
``record_change``, its before and after already in words.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.store import queries as q
from bot.store.changes import Diff
from bot.store.db import Database, Executor, Row
from bot.store.models import Change


def _change(row: Row) -> Change:
    return Change(
        id=row["id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        at=row["at"],
        what=row["what"],
        before=row["before"],
        after=row["after"],
    )


async def insert_change(
    db: Executor, guild_id: int, actor_id: int | None, at: float, diff: Diff
) -> Change:
    """Write one audit row (inside the caller's transaction when ``db`` is one)."""
    row = await db.fetchrow(q.INSERT_CHANGE, guild_id, actor_id, at, *diff)
    assert row is not None
    return _change(row)


class AuditRepository:
    """Record and list a guild's moderator changes."""

    _db: Database
    _clock: Callable[[], float]

    async def record_change(
        self, guild_id: int, actor_id: int | None, what: str, before: str, after: str
    ) -> Change:
        """Record a change made outside the settings and policy methods (already in words)."""
        diff = Diff(what, before, after)
        return await insert_change(self._db, guild_id, actor_id, float(self._clock()), diff)

    async def recent_changes(self, guild_id: int, limit: int = 20) -> list[Change]:
        """The guild's latest changes, newest first."""
        return [_change(r) for r in await self._db.fetch(q.RECENT_CHANGES, guild_id, limit)]
