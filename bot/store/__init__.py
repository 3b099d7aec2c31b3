"""Persistent store: jobs, guild settings, quota policy, the credit ledger and the audit trail.

Open it with ``await open_store(database_url)``: ``sqlite:///path/to/file.sqlite3`` (four slashes
for an absolute path) or ``postgresql://user@host:port/db``. Migrations run on open.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.errors import ConfigError
from bot.store.db import Database, PostgresDatabase, SqliteDatabase
from bot.store.models import (
    WINDOWS,
    Change,
    CostKey,
    GuildSettings,
    Job,
    JobOperation,
    JobStatus,
    MemberState,
    NewJob,
    Preferences,
    Preset,
    QuotaPolicy,
    Reservation,
    ReservationRequest,
    ReservationStatus,
    ReserveFailure,
    RoleRule,
    RuleKind,
    Spend,
    TokenUsage,
    UsageLike,
    Window,
)
from bot.store.repository import Store

__all__ = [
    "WINDOWS",
    "Change",
    "CostKey",
    "GuildSettings",
    "Job",
    "JobOperation",
    "JobStatus",
    "MemberState",
    "NewJob",
    "Preferences",
    "Preset",
    "QuotaPolicy",
    "Reservation",
    "ReservationRequest",
    "ReservationStatus",
    "ReserveFailure",
    "RoleRule",
    "RuleKind",
    "Spend",
    "Store",
    "TokenUsage",
    "UsageLike",
    "Window",
    "open_store",
    "sqlite_path",
]

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def sqlite_path(database_url: str) -> str:
    """The file path of a ``sqlite:///`` URL (``sqlite:////abs`` is absolute)."""
    path = database_url[len(_SQLITE_PREFIX) :]
    if not path:
        raise ConfigError([f"DATABASE_URL {database_url!r} names no file"])
    return path


async def open_store(
    database_url: str,
    *,
    schema: str | None = None,
    migrate: bool = True,
    clock: Callable[[], float] = time.time,
    cache_ttl: float = 300.0,
) -> Store:
    """Open the database named by the URL, apply migrations and return the ``Store``.

    ``schema`` (PostgreSQL only) pins the pool's ``search_path`` to that schema, creating it.
    """
    db: Database
    if database_url.startswith(_SQLITE_PREFIX):
        if schema is not None:
            raise ConfigError(["a schema can only be chosen on PostgreSQL"])
        db = await SqliteDatabase.open(sqlite_path(database_url))
    elif database_url.startswith(_POSTGRES_PREFIXES):
        db = await PostgresDatabase.open(database_url, schema=schema)
    else:
        raise ConfigError(["DATABASE_URL must start with sqlite:///, postgresql:// or postgres://"])
    store = Store(db, clock=clock, cache_ttl=cache_ttl)
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store
