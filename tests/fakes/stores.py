"""Store fixtures on real databases: a temp SQLite file, and a fresh PostgreSQL schema per test.

Import the fixtures into a test module with
``from tests.fakes.stores import clock_fixture, store_fixture, store_target_fixture  # noqa: F401``;
they are registered under the names ``clock``, ``store`` and ``store_target``.
PostgreSQL runs only when ``TEST_DATABASE_URL`` names a server; otherwise those tests skip.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.quotas import QuotaEngine
from bot.store import NewJob, Reservation, Store, open_store

PG_SKIP_REASON = "set TEST_DATABASE_URL to run the PostgreSQL tests"
BACKENDS = ("sqlite", "postgres")


class ManualClock:
    """A clock the test moves by hand; starts on a Wednesday, mid-month, mid-day (UTC)."""

    def __init__(self, now: float = 1_700_049_600.0) -> None:  # 2023-11-15 12:00:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class StoreTarget:
    """One database a test may open several stores on (like several bot processes)."""

    backend: str
    url: str
    schema: str | None = None

    async def open(self, **kwargs: Any) -> Store:
        return await open_store(self.url, schema=self.schema, **kwargs)


def postgres_url() -> str:
    """The PostgreSQL URL of the test server, or skip the test."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip(PG_SKIP_REASON)
    return url


@pytest.fixture(name="store_target", params=BACKENDS)
async def store_target_fixture(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreTarget]:
    """A fresh empty database on each backend: a temp file, or a schema dropped afterwards."""
    if request.param == "sqlite":
        yield StoreTarget("sqlite", f"sqlite:///{tmp_path / 'bot.sqlite3'}")
        return
    url = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    yield StoreTarget("postgres", url, schema)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(name="clock")
def clock_fixture() -> ManualClock:
    """A hand-moved clock shared by the store and the quota engine."""
    return ManualClock()


@pytest.fixture(name="store")
async def store_fixture(store_target: StoreTarget, clock: ManualClock) -> AsyncIterator[Store]:
    """An open, migrated store on each backend, using the manual clock."""
    opened = await store_target.open(clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database on the test server, dropped afterwards."""
    server = postgres_url()
    name = f"imagebot_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def held_job(
    store: Store,
    guild: int,
    channel: int,
    user: int,
    *,
    clock: ManualClock | None = None,
    expires_at: float | None = None,
) -> Reservation:
    """What a JobRunner leaves mid-job: a running job with its credits held (4: one
    1024x1024 medium gpt-image-1 image)."""
    new = NewJob(guild, channel, user, "generate", "gpt-image-1", "a fox",
                 interaction_expires_at=expires_at)  # fmt: skip
    job = await store.create_job(new)
    await store.mark_running(guild, job.id)
    engine = QuotaEngine(store, clock=clock) if clock else QuotaEngine(store)
    return await engine.reserve(
        guild_id=guild,
        user_id=user,
        role_ids=(),
        is_moderator=False,
        model="gpt-image-1",
        size="1024x1024",
        quality="medium",
        n=1,
        job_id=job.id,
    )
