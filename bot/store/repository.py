"""The ``Store``: one repository object over SQLite or PostgreSQL, all SQL in ``queries``."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from bot.store.audit import AuditRepository
from bot.store.db import PING, Database, Dialect
from bot.store.favourites import FavouritesRepository
from bot.store.guilds import GuildsRepository
from bot.store.jobs import JobsRepository
from bot.store.ledger import LedgerRepository
from bot.store.migrate import apply_migrations
from bot.store.notices import NoticesRepository
from bot.store.presets import PresetsRepository
from bot.store.processes import ProcessesRepository
from bot.store.providers import ProvidersRepository


class Store(
    JobsRepository,
    GuildsRepository,
    LedgerRepository,
    NoticesRepository,
    ProcessesRepository,
    ProvidersRepository,
    AuditRepository,
    PresetsRepository,
    FavouritesRepository,
):
    """Jobs, guild settings, quota policy, the credit ledger and the audit trail, per guild.

    Every method that reads or writes guild data takes the guild id; the only ones that span
    guilds are recovery (``fail_stale_jobs``, ``orphan_reservations``) and the process leases.
    A store is one process (``process_id``): the jobs and reservations it writes are owned by it,
    and another process takes them over unless its lease is kept (``register_process``).
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
        self.process_id = secrets.token_hex(8)
        self._init_caches(cache_ttl)

    @property
    def dialect(self) -> Dialect:
        """Which backend this store runs on: "sqlite" or "postgres"."""
        return self._db.dialect

    async def migrate(self) -> list[int]:
        """Apply pending migrations (idempotent, safe with several processes)."""
        return await apply_migrations(self._db, now=float(self._clock()))

    async def ping(self) -> None:
        """Ask the database the cheapest question; raises when it doesn't answer (health checks)."""
        await self._db.fetchrow(PING)

    async def close(self) -> None:
        """Close the connection or pool."""
        await self._db.close()
