"""Servers' own providers: a base URL and a sealed API key per guild (see bot/keys.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.store import queries as q
from bot.store.db import Database, Row


@dataclass(frozen=True, slots=True)
class GuildProvider:
    """A server's provider as stored: the key stays sealed; ``key_hint`` is all that is shown."""

    guild_id: int
    base_url: str
    sealed_key: str = field(repr=False)
    key_hint: str
    set_by: int | None = None
    set_at: float = 0.0


def _provider(row: Row) -> GuildProvider:
    set_by = row["set_by"]
    return GuildProvider(
        guild_id=int(row["guild_id"]),
        base_url=str(row["base_url"]),
        sealed_key=str(row["sealed_key"]),
        key_hint=str(row["key_hint"]),
        set_by=int(set_by) if set_by is not None else None,
        set_at=float(row["set_at"]),
    )


class ProvidersRepository:
    """Read, set and clear a server's provider; re-seal every key when the operator rotates."""

    _db: Database
    _clock: Callable[[], float]

    async def get_guild_provider(self, guild_id: int) -> GuildProvider | None:
        """The server's own provider, or None when it uses the operator's."""
        row = await self._db.fetchrow(q.GET_GUILD_PROVIDER, guild_id)
        return _provider(row) if row is not None else None

    async def set_guild_provider(
        self, guild_id: int, base_url: str, sealed_key: str, key_hint: str, set_by: int | None
    ) -> GuildProvider:
        """Store (or replace) the server's provider."""
        now = float(self._clock())
        await self._db.execute(
            q.UPSERT_GUILD_PROVIDER, guild_id, base_url, sealed_key, key_hint, set_by, now
        )
        return GuildProvider(guild_id, base_url, sealed_key, key_hint, set_by, now)

    async def clear_guild_provider(self, guild_id: int) -> None:
        """Forget the server's provider (and its key)."""
        await self._db.execute(q.DELETE_GUILD_PROVIDER, guild_id)

    async def guild_providers(self) -> list[GuildProvider]:
        """Every server's own provider (spans guilds: for re-sealing keys)."""
        return [_provider(row) for row in await self._db.fetch(q.ALL_GUILD_PROVIDERS)]

    async def reseal_guild_provider(self, guild_id: int, old: str, new: str) -> None:
        """Replace a sealed key by its re-encryption, unless it changed meanwhile."""
        await self._db.execute(q.RESEAL_GUILD_PROVIDER, guild_id, new, old)
