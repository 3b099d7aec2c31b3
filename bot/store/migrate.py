"""Numbered migrations per backend, applied once each, under a lock, at start-up."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from importlib import resources

from bot.store import queries as q
from bot.store.db import Database, Dialect

_NAME = re.compile(r"(\d{4})_(\w+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One ``NNNN_name.sql`` file of ``bot/store/migrations/<dialect>/``."""

    version: int
    name: str
    sql: str


def load_migrations(dialect: Dialect) -> list[Migration]:
    """Read the dialect's migration files in version order (sync: call through a thread)."""
    folder = resources.files("bot.store").joinpath("migrations", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two {dialect} migrations share a version: {versions}")
    return found


async def apply_migrations(db: Database, *, now: float) -> list[int]:
    """Apply every migration not yet recorded in ``schema_version``; return their versions.

    One transaction holds them all: SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's advisory lock
    make a second process wait, then see the versions the first one recorded.
    """
    migrations = await asyncio.to_thread(load_migrations, db.dialect)
    applied: list[int] = []
    async with db.transaction() as tx:
        if db.dialect == "postgres":
            await tx.execute(q.PG_MIGRATION_LOCK)
        await tx.execute(q.CREATE_SCHEMA_VERSION)
        done = {row["version"] for row in await tx.fetch(q.APPLIED_VERSIONS)}
        for migration in migrations:
            if migration.version in done:
                continue
            await tx.executescript(migration.sql)
            await tx.execute(q.RECORD_VERSION, migration.version, migration.name, now)
            applied.append(migration.version)
    return applied
