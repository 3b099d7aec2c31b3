"""Once-only notices to a server's moderators, and the servers that have a moderation log."""

from __future__ import annotations

from collections.abc import Callable

from bot.store import queries as q
from bot.store.db import Database


class NoticesRepository:
    """Claim a notice before posting it, so each is posted once across restarts and processes."""

    _db: Database
    _clock: Callable[[], float]

    async def claim_notice(self, guild_id: int, key: str) -> bool:
        """True the first time ``key`` is claimed for the guild; False ever after."""
        row = await self._db.fetchrow(q.CLAIM_NOTICE, guild_id, key, float(self._clock()))
        return row is not None

    async def mod_log_channels(self) -> dict[int, int]:
        """Guild id -> moderation log channel id, for every guild that set one."""
        rows = await self._db.fetch(q.MOD_LOG_CHANNELS)
        return {int(r["guild_id"]): int(r["mod_log_channel_id"]) for r in rows}
