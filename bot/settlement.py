"""Settling a delivered job: its charge recorded with the delivery, then settled, each retried.

Once delivered, the job is recorded with its charge first and the charge settled after, both
retried: if settling still fails, or the process dies, recovery commits the recorded charge; a
delivered job is never refunded. The settling runs as its own task, shielded from the job's: a
member who cancels, or a task torn down, after delivery cannot undo the charge half way.
Once settled, the settled listeners hear of it (budget alerts, metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.quotas import QuotaEngine
from bot.service import Outcome
from bot.store import Reservation, Store
from bot.store.ledger import Charge
from bot.store.models import Job

log = logging.getLogger(__name__)
T = TypeVar("T")
# Told about every job whose charge settled: the finished job and its ledger entry (credits,
# money, the windows charged), e.g. to alert moderators as the server budget runs low.
SettledListener = Callable[[Job, Reservation], Awaitable[None]]
# Pauses between attempts to record and settle a delivered job: about 5 s in all, well inside the
# lease (bot.store.processes), after which recovery settles a recorded charge itself.
SETTLE_RETRY_DELAYS = (0.2, 1.0, 4.0)


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the result message went."""

    channel_id: int
    message_id: int


class Settlement:
    """Charges delivered jobs: ``settle`` records and settles one, whatever cancels its caller."""

    def __init__(
        self,
        quotas: QuotaEngine,
        store: Store,
        *,
        retry_delays: tuple[float, ...] = SETTLE_RETRY_DELAYS,
        listeners: list[SettledListener] | None = None,
    ) -> None:
        self.quotas = quotas
        self.store = store
        self.retry_delays = retry_delays
        self.listeners = [] if listeners is None else listeners
        self._settling: set[asyncio.Future[Job]] = set()

    async def settle(
        self,
        job: Job,
        reservation: Reservation,
        outcome: Outcome,
        delivered: Delivered,
        *,
        like: tuple[str, ...],
    ) -> Job:
        """The delivered job as recorded (``job`` itself when recording failed).

        ``like`` is the models the job's model is priced like. The work runs in a task of its own
        that is kept until done: cancelling the caller leaves it running to the end.
        """
        settling = asyncio.ensure_future(self._settle(job, reservation, outcome, delivered, like))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)
        return await asyncio.shield(settling)

    async def _settle(
        self,
        job: Job,
        reservation: Reservation,
        outcome: Outcome,
        delivered: Delivered,
        lineage: tuple[str, ...],
    ) -> Job:
        """Record the delivery with its charge, then settle the charge; each step retried.

        If recording never succeeds the job looks interrupted to recovery (refunded, its member
        told); if only settling fails, recovery commits the recorded charge later.
        """
        result = outcome.result
        revised = next((i.revised_prompt for i in result.images if i.revised_prompt), None)

        async def record() -> tuple[Charge, Job | None]:
            charge = await self.quotas.charge(
                reservation,
                actual_n=len(result.images),
                usage=result.usage,
                size=outcome.size,
                quality=outcome.quality,
                like=lineage,
            )
            finished = await self.store.record_delivery(
                reservation,
                charge,
                revised_prompt=revised,
                result_channel_id=delivered.channel_id,
                result_message_id=delivered.message_id,
            )
            return charge, finished

        try:
            charge, finished = await self._retrying(record)
        except Exception:
            log.error("job %s: delivered, but recording it failed; recovery will refund it",
                      job.id, exc_info=True)  # fmt: skip
            return job
        if finished is None:
            log.warning("job %s: delivered after recovery had closed it (lease lapsed)", job.id)
            return job
        try:
            settled = await self._retrying(lambda: self.quotas.settle(reservation, charge))
        except Exception:
            log.error("job %s: delivered, but its charge failed to settle; recovery will",
                      job.id, exc_info=True)  # fmt: skip
            return finished
        if settled is not None:
            await self._tell(finished, settled)
        return finished

    async def recovered(self, settled: Reservation) -> None:
        """A delivered job's charge settled by recovery: its listeners hear it like any other."""
        job = await self.store.get_job(settled.guild_id, settled.job_id) if settled.job_id else None
        if job is not None:
            await self._tell(job, settled)

    async def _tell(self, job: Job, settled: Reservation) -> None:
        for listener in self.listeners:
            try:
                await listener(job, settled)
            except Exception:
                log.warning("A settled listener failed for job %s", job.id, exc_info=True)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt``, retrying on errors after each of ``retry_delays``."""
        for delay in self.retry_delays:
            try:
                return await attempt()
            except Exception as exc:
                log.warning(
                    "Settling a job failed (%s); retrying in %.1f s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
        return await attempt()
