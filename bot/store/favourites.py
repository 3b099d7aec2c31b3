"""Favourites: the jobs each member saved with the ⭐ button, per server."""

from __future__ import annotations

from collections.abc import Callable

from bot.store import queries as q
from bot.store.db import Database, Steps
from bot.store.jobs import job_from_row
from bot.store.models import Favourite


def _toggle(guild_id: int, user_id: int, job_id: int, now: float) -> Steps[bool]:
    added = yield q.ADD_FAVOURITE, (guild_id, user_id, job_id, now)
    if added:
        return True
    yield q.REMOVE_FAVOURITE, (guild_id, user_id, job_id)
    return False


class FavouritesRepository:
    """Save, unsave and list a member's favourite jobs; every call is scoped by the guild."""

    _db: Database
    _clock: Callable[[], float]

    async def toggle_favourite(self, guild_id: int, user_id: int, job_id: int) -> bool:
        """Save the job for the member, or take it out when it was saved; True when now saved."""
        now = float(self._clock())
        return await self._db.run(_toggle(guild_id, user_id, job_id, now))

    async def is_favourite(self, guild_id: int, user_id: int, job_id: int) -> bool:
        """Whether the member saved this job."""
        return await self._db.fetchrow(q.IS_FAVOURITE, guild_id, user_id, job_id) is not None

    async def count_favourites(self, guild_id: int, user_id: int) -> int:
        """How many stored jobs the member saved."""
        row = await self._db.fetchrow(q.COUNT_FAVOURITES, guild_id, user_id)
        return int(row["saved"]) if row else 0

    async def favourites(
        self, guild_id: int, user_id: int, limit: int = 20, offset: int = 0
    ) -> list[Favourite]:
        """The member's saved jobs, the newest saved first (``offset`` of them skipped)."""
        rows = await self._db.fetch(q.FAVOURITE_JOBS, guild_id, user_id, limit, offset)
        return [Favourite(guild_id, user_id, job_from_row(r), r["saved_at"]) for r in rows]
