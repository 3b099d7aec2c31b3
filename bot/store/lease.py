"""One bot process's lease on the shared database, and finding the processes that are gone."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.store import lockfile
from bot.store.repository import Store

log = logging.getLogger(__name__)


class ProcessLease:
    """Registers this process, renews its heartbeat, and buries dead processes' rows.

    With ``lock_folder`` (the bot's data folder) the process also holds a lock file there, so the
    processes sharing that folder see its crash at once; without one only the lease tells.
    """

    def __init__(self, store: Store, lock_folder: Path | None = None) -> None:
        self._store = store
        self._folder = lock_folder if lockfile.locks_supported() else None
        self._token: str | None = None
        self._lock: lockfile.ProcessLock | None = None

    async def start(self) -> None:
        """Take the lock file (first: a row without it would look dead), then register."""
        if self._folder is not None:
            try:
                self._token = await asyncio.to_thread(lockfile.folder_token, self._folder)
                self._lock = await asyncio.to_thread(
                    lockfile.ProcessLock.acquire, self._folder, self._store.process_id
                )
            except OSError as exc:  # e.g. a read-only data folder: the lease alone still works
                log.warning(
                    "No lock file in %s (%s); crashes show after the lease", self._folder, exc
                )
                self._folder = self._token = None
        await self._store.register_process(self._token)

    async def renew(self) -> None:
        """Renew the heartbeat; re-register if another process had taken us for dead."""
        if not await self._store.renew_process():
            log.warning(
                "This process's lease had lapsed and another process took over its jobs in flight;"
                " registering again"
            )
            await self._store.register_process(self._token)

    async def bury_dead(self) -> None:
        """Remove the rows of processes that are gone, so recovery takes over what they owned."""
        await self._store.forget_expired_processes()
        if self._folder is None or self._token is None:
            return
        for process_id in await self._store.processes_with_lock_token(self._token):
            if await asyncio.to_thread(lockfile.is_dead, self._folder, process_id):
                await self._store.forget_process(process_id)

    async def stop(self) -> None:
        """End the lease at shutdown and drop the lock file."""
        try:
            await self._store.retire_process()
        finally:
            if self._lock is not None:
                await asyncio.to_thread(self._lock.release)
                self._lock = None
