"""One provider's concurrency limit and rate-limit pause, shared by every process on PostgreSQL.

Several bot processes (each a range of shards) on one database send to the same providers, and a
provider's limit is the provider's, not each process's. PostgreSQL itself holds the shared state,
so there is nothing else to run or secure:

- A slot is a session-level advisory lock, ``pg_try_advisory_lock(provider key, slot number)``,
  held by this process's gates connection while the request runs. A process that dies loses its
  connection and PostgreSQL frees its locks at once (a SIGKILL closes the socket); a machine that
  vanishes leaves a half-open connection, which the keepalives asked for on this connection
  (``KEEPALIVE``) make PostgreSQL drop within about eight seconds.
- The pause after a 429 is a ``provider_pauses`` row, on the database's clock so machines' clocks
  don't matter, written by whoever got the 429 (the later end wins) and read before each slot is
  taken.
- Giving a slot back and pausing NOTIFY the provider's channel, which every process using the
  provider LISTENs to, so a waiter looks again at once; it also looks every ``POLL_SECONDS``,
  because a dead process can't say that it freed its slots.

The provider's own queue (``bot.scheduler``) still orders each process's jobs fairly; only the jobs
it let through wait here, one asking the database at a time per provider. One connection per
process serves every provider, one statement at a time (each well under a millisecond). It must
be a session of its own: through a transaction-pooling PgBouncer, session locks don't hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bot.gate import provider_key
from bot.scheduler import Scheduler
from bot.store import queries as q
from bot.store.db import check_identifier

log = logging.getLogger(__name__)

# PostgreSQL probes this connection after 4 idle seconds, then every 2, and drops it after 2
# unanswered probes (or 8 s of unacknowledged data): a vanished machine's slots go within ~8 s.
KEEPALIVE = {
    "tcp_keepalives_idle": "4",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "2",
    "tcp_user_timeout": "8000",
}
POLL_SECONDS = 0.5  # a waiter looks again this often even when nobody said a slot was freed
CLOSE_TIMEOUT = 5.0
RETAKE_TRIES, RETAKE_PAUSE = 10, 0.1  # a lost connection's slots: asked again for up to a second
# The connection is gone (or going): what it held went with it.
LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    # A connection the server ended while a statement was under way is left mid-operation:
    # asyncpg then refuses the next one this way, and only a new connection helps.
    asyncpg.InternalClientError,
)


@dataclass(eq=False)
class _Held:
    """A slot a request of this process holds (compared by identity: a number may be reused)."""

    number: int


@dataclass(eq=False)
class _Limit:
    """One provider's shared slots as this process sees them."""

    key: int
    channel: str
    held: dict[int, _Held] = field(default_factory=dict)  # slot number -> the request's hold
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # look again: something moved
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # one waiter asks at a time


class SharedGates:
    """This process's side of every provider's shared limits, on one PostgreSQL connection."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # the connection runs one statement at a time
        self._limits: dict[int, _Limit] = {}
        self._by_channel: dict[str, _Limit] = {}
        self._listening: set[str] = set()  # channels LISTENed to on the current connection
        self._late: set[asyncio.Task[None]] = set()  # slots given back after their caller left

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None) -> SharedGates:
        """Connect (now, so a database that can't be reached stops the start-up, not a job)."""
        settings = dict(KEEPALIVE)
        if schema is not None:
            settings["search_path"] = check_identifier(schema)

        async def connect() -> asyncpg.Connection:
            return await asyncpg.connect(dsn, server_settings=settings)

        gates = cls(connect)
        async with gates._lock:
            await gates._connection()
        return gates

    def gate(self, base_url: str, api_key: str, queue: Scheduler) -> SharedGate:
        """The gate of the provider at ``base_url`` with ``api_key`` (a ``GateFactory``)."""
        key = provider_key(base_url, api_key)
        limit = self._limits.get(key)
        if limit is None:
            limit = _Limit(key, f"imagebot_slots_{key & 0xFFFFFFFF:08x}")
            self._limits[key] = limit
            self._by_channel[limit.channel] = limit
        return SharedGate(self, limit, queue)

    async def close(self) -> None:
        """Close the connection (any slot still held is freed with it)."""
        for task in list(self._late):
            with contextlib.suppress(Exception):
                await task
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.close(timeout=CLOSE_TIMEOUT)
                except Exception:
                    conn.terminate()

    # --- slots ---------------------------------------------------------------------------------

    async def take(self, limit: _Limit, count: int) -> _Held:
        """One of the provider's ``count`` slots, once one is free and the provider isn't paused."""
        async with limit.turn:  # this process's waiters ask one at a time, in arrival order
            while True:
                limit.changed.clear()  # before looking: news while we look is not lost
                held, wait = await self._attempt(limit, count)
                if held is not None:
                    return held
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(limit.changed.wait(), wait)

    async def give_back(self, limit: _Limit, held: _Held) -> None:
        """Free a slot and tell the waiting processes."""
        async with self._lock:
            if limit.held.get(held.number) is not held or self._conn is None:
                return  # it went with a lost connection
            del limit.held[held.number]
            with contextlib.suppress(*LOST):  # else the connection went, and the lock with it
                await self._conn.execute(
                    q.GIVE_BACK_SHARED_SLOT, limit.key, held.number, limit.channel
                )
        limit.changed.set()  # this process's next waiter needn't wait for the notification

    async def pause(self, limit: _Limit, seconds: float) -> None:
        """Pause the provider for every process for ``seconds`` (unless already for longer)."""
        async with self._lock:
            conn = await self._connection()
            await conn.execute(q.PAUSE_PROVIDER, limit.key, seconds, limit.channel)

    async def _attempt(self, limit: _Limit, count: int) -> tuple[_Held | None, float]:
        """One look: a slot, or none and how long to wait before looking again."""
        look = asyncio.ensure_future(self._try(limit, count))
        try:
            return await asyncio.shield(look)
        except asyncio.CancelledError:
            look.add_done_callback(lambda done: self._abandoned(limit, done))
            raise

    def _abandoned(self, limit: _Limit, look: asyncio.Future[tuple[_Held | None, float]]) -> None:
        """A slot taken just as its caller gave up goes straight back."""
        if look.cancelled() or look.exception() is not None:
            return
        held = look.result()[0]
        if held is not None:
            task = asyncio.ensure_future(self.give_back(limit, held))
            self._late.add(task)
            task.add_done_callback(self._late.discard)

    async def _try(self, limit: _Limit, count: int) -> tuple[_Held | None, float]:
        async with self._lock:
            try:
                return await self._look(await self._connection(), limit, count)
            except LOST:  # it went just now: once more, on a new one
                return await self._look(await self._reconnect(), limit, count)

    async def _look(
        self, conn: asyncpg.Connection, limit: _Limit, count: int
    ) -> tuple[_Held | None, float]:
        if limit.channel not in self._listening:
            await conn.add_listener(limit.channel, self._notified)
            self._listening.add(limit.channel)
        left = await conn.fetchval(q.PROVIDER_PAUSE_LEFT, limit.key)
        if left is not None and left > 0:
            return None, float(left)
        for number in range(count):
            # The session already holding a number would take it again (locks nest): skip ours.
            if number not in limit.held and await conn.fetchval(
                q.TAKE_SHARED_SLOT, limit.key, number
            ):
                held = limit.held[number] = _Held(number)
                return held, 0.0
        return None, POLL_SECONDS

    # --- the connection ------------------------------------------------------------------------

    async def _connection(self) -> asyncpg.Connection:
        """The open connection (call with ``_lock`` held)."""
        if self._conn is None or self._conn.is_closed():
            return await self._reconnect()
        return self._conn

    async def _reconnect(self) -> asyncpg.Connection:
        """A new connection, taking again the slots of requests still running if it can."""
        lost, self._conn = self._conn, None
        if lost is not None:
            lost.terminate()
        self._listening.clear()
        conn = await self._connect()
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        if lost is not None:
            log.warning("The connection holding the providers' shared slots was lost; reconnected")
            await self._retake(conn)
        return conn

    async def _retake(self, conn: asyncpg.Connection) -> None:
        """The locks went with the old connection; the requests holding them haven't ended.

        The old backend may still be on its way out (a terminated backend frees its locks as it
        exits, a moment after it was told to), so a slot not free yet is asked again, briefly.
        """
        for limit in self._limits.values():
            for number in list(limit.held):
                if not await self._take_again(conn, limit.key, number):
                    del limit.held[number]
                    log.warning("A request to a provider runs beyond its shared limit: its slot "
                                "was lost with the connection and taken by another process")  # fmt: skip

    async def _take_again(self, conn: asyncpg.Connection, key: int, number: int) -> bool:
        for _ in range(RETAKE_TRIES):
            if await conn.fetchval(q.TAKE_SHARED_SLOT, key, number):
                return True
            await asyncio.sleep(RETAKE_PAUSE)
        return False

    def _notified(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        limit = self._by_channel.get(channel)
        if limit is not None and pid != conn.get_server_pid():  # our own news is known already
            limit.changed.set()

    def _terminated(self, conn: Any) -> None:
        for limit in self._limits.values():
            limit.changed.set()  # waiters look again, on a new connection


class SharedGate:
    """A provider's gate in this process: slots and pause shared through PostgreSQL."""

    def __init__(self, gates: SharedGates, limit: _Limit, queue: Scheduler) -> None:
        self._gates = gates
        self._limit = limit
        self.queue = queue

    @property
    def key(self) -> int:
        """The provider's key, the same in every process (``bot.gate.provider_key``)."""
        return self._limit.key

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        held = await self._gates.take(self._limit, self.queue.max_concurrent)
        try:
            yield
        finally:
            await asyncio.shield(self._gates.give_back(self._limit, held))

    async def pause(self, seconds: float) -> None:
        self.queue.backoff(seconds)  # this process at once, whatever the database says
        try:
            await self._gates.pause(self._limit, seconds)
        except Exception:
            log.warning("Could not pause the provider for the other processes", exc_info=True)
