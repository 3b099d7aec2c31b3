"""The ``Store``: one repository object over SQLite or PostgreSQL, all SQL in ``queries``."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.store.db import Database, Dialect
from bot.store.guilds import GuildsRepository
from bot.store.jobs import JobsRepository
from bot.store.ledger import LedgerRepository
from bot.store.migrate import apply_migrations
from bot.store.notices import NoticesRepository


class Store(JobsRepository, GuildsRepository, LedgerRepository, NoticesRepository):
    """Jobs, guild settings, quota policy and the credit ledger, per guild.

    Every method that reads or writes guild data takes the guild id; the only ones that span
    guilds are start-up maintenance (``fail_stale_jobs``, ``pending_reservations``).
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        cache_ttl: float = 300.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._init_caches(cache_ttl)

    @property
    def dialect(self) -> Dialect:
        """Which backend this store runs on: "sqlite" or "postgres"."""
        return self._db.dialect

    async def migrate(self) -> list[int]:
        """Apply pending migrations (idempotent, safe with several processes)."""
        return await apply_migrations(self._db, now=float(self._clock()))

    async def close(self) -> None:
        """Close the connection or pool."""
        await self._db.close()
