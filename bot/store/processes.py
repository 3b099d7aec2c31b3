"""The processes part of the repository: which bot processes are alive, by lease.

Every ``Store`` is one process with a random id; the jobs and reservations it writes carry that
id as their owner. The process registers a row and renews its heartbeat every few seconds
(``bot.store.lease.ProcessLease``). A row whose heartbeat is older than ``LEASE_SECONDS`` or that
is missing belongs to a process that is gone, and recovery takes over what it owned: that is how
several processes share one database without touching each other's live jobs. Heartbeats are
stamped with each process's own clock, so the lease also has to cover clock drift between
machines (NTP keeps it far below a second).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.store import queries as q
from bot.store.db import Database

HEARTBEAT_SECONDS = 5.0
# Six missed heartbeats: a process slowed down by a busy loop or a slow database stays alive.
LEASE_SECONDS = 30.0
# Rows written before owners were recorded (migration 0004) are stale by age, as they used to be.
UNOWNED_STALE_AFTER = 30 * 60.0


class ProcessesRepository:
    """This process's row in ``processes`` and the rows of the others."""

    _db: Database
    _clock: Callable[[], float]
    process_id: str

    def lease_cutoff(self) -> float:
        """Heartbeats at or before this time belong to processes that are gone."""
        return float(self._clock()) - LEASE_SECONDS

    async def register_process(self, lock_token: str | None = None) -> None:
        """Start (or restart) this process's lease; ``lock_token`` names its lock file's folder."""
        await self._db.execute(q.UPSERT_PROCESS, self.process_id, lock_token, float(self._clock()))

    async def renew_process(self) -> bool:
        """Renew the lease; False when the row was gone (another process took us for dead)."""
        row = await self._db.fetchrow(q.RENEW_PROCESS, self.process_id, float(self._clock()))
        return row is not None

    async def retire_process(self) -> None:
        """End the lease at shutdown, so what this process leaves is recovered at once."""
        await self._db.execute(q.DELETE_PROCESS, self.process_id)

    async def forget_process(self, process_id: str) -> None:
        """Remove another process's row once it is known to be dead (e.g. by its lock file)."""
        if process_id != self.process_id:
            await self._db.execute(q.DELETE_PROCESS, process_id)

    async def forget_expired_processes(self) -> None:
        """Remove the rows of processes whose lease ran out (what they owned is orphaned)."""
        await self._db.execute(q.DELETE_EXPIRED_PROCESSES, self.lease_cutoff(), self.process_id)

    async def processes_with_lock_token(self, lock_token: str) -> list[str]:
        """Ids of the other processes whose lock files live in the folder of ``lock_token``."""
        rows = await self._db.fetch(q.PROCESSES_WITH_LOCK_TOKEN, lock_token, self.process_id)
        return [str(row["id"]) for row in rows]
