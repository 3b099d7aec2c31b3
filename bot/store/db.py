"""Two thin database adapters with one interface, so the repository's SQL is written once.

SQL is written with PostgreSQL's ``$1`` placeholders; the SQLite adapter rewrites them to ``?1``.
Every write that must be atomic runs in ``transaction()``: ``BEGIN IMMEDIATE`` on SQLite (the
write lock is taken up front, so two processes on one file serialise instead of deadlocking) and
a READ COMMITTED transaction on PostgreSQL, where each conditional upsert locks its row.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

import aiosqlite
import asyncpg

from bot.store.queries import PG_MIGRATION_LOCK

Row = dict[str, Any]
Dialect = Literal["sqlite", "postgres"]
T = TypeVar("T")
Query = tuple[str, tuple[Any, ...]]
# A transaction written as steps: it yields each query and is sent back that query's rows. Written
# once, it runs on either database; on SQLite in a single trip to the connection's thread.
Steps = Generator[Query, list[Row], T]
GROUP = 32  # transactions per trip to SQLite's thread at most

_PLACEHOLDER = re.compile(r"\$(\d+)")
PING = "SELECT 1 AS ok"  # the cheapest question that proves the database answers


@functools.lru_cache(maxsize=256)
def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


class Executor(Protocol):
    """What the repository runs SQL through, inside or outside a transaction."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def executescript(self, script: str) -> None: ...


class Database(Executor, Protocol):
    """A connection (SQLite) or a pool (PostgreSQL) with transactions."""

    dialect: Dialect

    def transaction(self) -> AbstractAsyncContextManager[Executor]: ...

    async def run(self, steps: Steps[T]) -> T:
        """Run ``steps`` as one transaction; an exception from them rolls it back."""
        ...

    async def close(self) -> None: ...


class _SqliteExecutor:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        # One trip to the connection's thread (execute, fetch and close there), not three: a
        # transaction holds the lock for each trip, and a thousand jobs queue behind it.
        rows = await self._conn.execute_fetchall(_to_sqlite(sql), args)
        return [dict(row) for row in rows]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(_to_sqlite(sql), args)

    async def executescript(self, script: str) -> None:
        # executescript() would COMMIT the open transaction first, so run statement by statement.
        for statement in split_sql(script):
            await self._conn.execute(statement)


class SqliteDatabase:
    """One aiosqlite connection (its own thread); an asyncio lock keeps transactions whole."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._executor = _SqliteExecutor(conn)
        self._waiting: list[tuple[Steps[Any], asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str, *, busy_timeout_ms: int = 5000) -> SqliteDatabase:
        """Open (creating if needed) a database file in WAL mode with foreign keys on."""
        if path != ":memory:":
            await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await _enable_wal(conn, busy_timeout_ms / 1000)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await self._executor.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._lock:
            return await self._executor.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._lock:
            await self._executor.execute(sql, *args)

    async def executescript(self, script: str) -> None:
        async with self._lock:
            await self._executor.executescript(script)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        """Run a block in ``BEGIN IMMEDIATE``; commit on success, roll back on any exception."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._executor
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def run(self, steps: Steps[T]) -> T:
        # Group commit: every transaction waiting when the thread is free goes in one trip, each
        # still its own transaction. Under a burst of a thousand members, trips back to a busy
        # event loop, one per statement, were what their answers queued behind.
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((steps, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_waiting(), name="sqlite-transactions")
        return cast(T, await future)

    async def _run_waiting(self) -> None:
        while self._waiting:
            # A trip takes at most GROUP transactions: each one's caller wakes when it ends, and
            # a thousand waking in one turn of the loop would stall it.
            batch, self._waiting = self._waiting[:GROUP], self._waiting[GROUP:]
            try:
                async with self._lock:
                    outcomes = await self._conn._execute(  # type: ignore[no-untyped-call]
                        _run_all, self._conn._conn, [steps for steps, _ in batch]
                    )
            except BaseException as exc:  # the connection itself failed: every caller hears it
                outcomes = [(False, exc)] * len(batch)
                if not isinstance(exc, Exception):
                    for _, future in batch:
                        future.cancel()
                    raise
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()


def _run_all(connection: sqlite3.Connection, batch: list[Steps[Any]]) -> list[tuple[bool, Any]]:
    """Each transaction of ``batch`` in turn: (True, its value) or (False, what it raised)."""
    outcomes: list[tuple[bool, Any]] = []
    for steps in batch:
        try:
            outcomes.append((True, _run_steps(connection, steps)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _run_steps(connection: sqlite3.Connection, steps: Steps[T]) -> T:
    """Drive ``steps`` inside ``BEGIN IMMEDIATE`` on SQLite's own thread."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        query = next(steps)
        while True:
            sql, args = query
            rows = [dict(row) for row in connection.execute(_to_sqlite(sql), args).fetchall()]
            query = steps.send(rows)
    except StopIteration as done:
        connection.execute("COMMIT")
        return done.value  # type: ignore[no-any-return]
    except BaseException:
        connection.execute("ROLLBACK")
        raise


async def _enable_wal(conn: aiosqlite.Connection, patience: float) -> None:
    # Switching a new file to WAL needs a moment alone with it, and SQLite answers "locked"
    # at once instead of waiting, so processes starting together retry for a while.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.02)


class _PostgresExecutor:
    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(record) for record in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        record = await self._conn.fetchrow(sql, *args)
        return None if record is None else dict(record)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(sql, *args)

    async def executescript(self, script: str) -> None:
        await self._conn.execute(script)


class PostgresDatabase(_PostgresExecutor):
    """An asyncpg pool; ``search_path`` pins every connection to one schema when given."""

    dialect: Dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10
    ) -> PostgresDatabase:
        """Create the pool, creating ``schema`` first when one is named."""
        settings: dict[str, str] = {}
        if schema is not None:
            conn = await asyncpg.connect(dsn)
            try:
                # IF NOT EXISTS still races between processes; the migration lock serialises it.
                async with conn.transaction():
                    await conn.execute(PG_MIGRATION_LOCK)
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{check_identifier(schema)}"')
            finally:
                await conn.close()
            settings["search_path"] = schema
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        """Run a block in one transaction on one pooled connection."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresExecutor(conn)

    async def run(self, steps: Steps[T]) -> T:
        async with self.transaction() as tx:
            try:
                query = next(steps)
                while True:
                    rows = await tx.fetch(query[0], *query[1])
                    query = steps.send(rows)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._pool.close()


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier (it gets interpolated), else raise."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def split_sql(script: str) -> list[str]:
    """Split a script into complete statements (triggers with ``BEGIN ... END;`` stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    leftover = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        statements.append(buffer.strip())
    return statements
