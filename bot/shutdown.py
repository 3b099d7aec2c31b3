"""A graceful stop on SIGTERM (or Ctrl+C): no new jobs, the queued refunded, the running finished.

1. New jobs are refused politely; nothing was reserved for them.
2. Queued jobs are taken out of every provider's queue at once; each job's own task refunds it and
   tells its member, with Try again (the same path as the Cancel button, other words).
3. Running jobs get the grace period (``IMAGEBOT_SHUTDOWN_GRACE``) to deliver. Those still running
   after it are stopped, refunded and told the same way; one already posting its images is left
   to finish, since its member is about to have them and be charged.
4. Then the bot closes and the process exits 0. A job that could not be told in time was left
   open in the store: the next start refunds it and tells its member (``tell_interrupted``).

A second signal exits at once (128 + the signal's number), leaving what is open to that recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.errors import BotError
from bot.i18n import Text, lazy
from bot.scheduler import JobCancelled
from bot.words import plural

log = logging.getLogger(__name__)

TELL_SECONDS = 10.0  # how long stopped jobs get to tell their members before the bot closes
SIGNALS = (signal.SIGTERM, signal.SIGINT)
# What members hear while the bot shuts down (the failure message adds that nothing was charged,
# and a Try again button when the job was stored).
RESTARTING = lazy("The bot is restarting; try again in a minute.")
RESTART_CANCELLED = lazy(
    "The bot is restarting, so your job was taken out of the queue before it started. "
    "Try it again in a minute with the button."
)
RESTART_STOPPED = lazy(
    "The bot had to restart before your image was ready, so the job was stopped. "
    "Try it again in a minute with the button."
)


class Restarting(BotError):
    """The bot is shutting down for a restart: nothing new starts, nothing unfinished is charged."""

    kind = "restarting"


class Drain:
    """The admitted jobs not yet ended, so a shutdown can wait for them or stop them."""

    def __init__(self) -> None:
        self.closing = False
        self._jobs: dict[int, asyncio.Task[Any] | None] = {}  # job id -> its task once it runs
        self._delivering: set[int] = set()  # posting its images: never stopped
        self._stopped: dict[int, Text] = {}  # stopped by the shutdown -> what its member hears
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """Admitted jobs that have not ended yet."""
        return len(self._jobs)

    def admitted(self, job_id: int) -> None:
        """A job holds its credits now; the shutdown waits for it from here on."""
        self._jobs[job_id] = None
        self._idle.clear()

    def started(self, job_id: int) -> None:
        """The job's task runs it from here on (to the queue, the API, delivery)."""
        self._jobs[job_id] = asyncio.current_task()

    def may_queue(self, job_id: int) -> None:
        """Raise JobCancelled, its member to be told, when the shutdown began before the job
        reached its queue."""
        if self.closing:
            self._stopped[job_id] = RESTART_CANCELLED
            raise JobCancelled()

    def delivering(self, job_id: int) -> None:
        self._delivering.add(job_id)

    def dropped(self, job_id: int) -> None:
        """An admitted job given up before its task ran it (its own task's end is ``left``)."""
        if job_id in self._jobs and self._jobs[job_id] is None:
            self.left(job_id)

    def left(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)
        self._delivering.discard(job_id)
        if not self._jobs:
            self._idle.set()

    def stopped(self, job_id: int, exc: BaseException) -> Restarting | None:
        """What to tell the member of a job the shutdown stopped (None: it wasn't stopped).

        The task cancel that stopped a running job was the shutdown's own, so it is withdrawn:
        the job ends as a refusal its member hears about, not as a torn-down task.
        """
        why = self._stopped.pop(job_id, None)
        if why is None or not isinstance(exc, JobCancelled | asyncio.CancelledError):
            return None
        task = asyncio.current_task()
        if isinstance(exc, asyncio.CancelledError) and task is not None:
            task.uncancel()
        return Restarting(why)

    def close(self, cancel: Callable[[int], bool]) -> int:
        """Refuse new jobs; cancel the queued ones with ``cancel``; how many there were."""
        self.closing = True
        queued = [job_id for job_id, task in self._jobs.items() if task and cancel(job_id)]
        self._stopped.update(dict.fromkeys(queued, RESTART_CANCELLED))
        return len(queued)

    def cut(self) -> int:
        """Stop the running jobs except those delivering; how many were stopped."""
        running = [
            (job_id, task)
            for job_id, task in self._jobs.items()
            if task and job_id not in self._delivering and job_id not in self._stopped
        ]
        for job_id, task in running:
            self._stopped[job_id] = RESTART_STOPPED
            task.cancel()
        return len(running)

    async def wait_idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every admitted job to end; whether they all did."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def stop_jobs(drain: Drain, cancel: Callable[[int], bool], grace: float) -> None:
    """Steps 1 to 3 above: back once every job ended, or was stopped and given time to tell."""
    queued = drain.close(cancel)
    running = drain.in_flight - queued
    log.info("Shutting down: %s taken out of the queue; up to %.0f s for %s still running",
             plural(queued, "job", "jobs"), grace, plural(running, "job", "jobs"))  # fmt: skip
    if await drain.wait_idle(grace):
        return
    stopped = drain.cut()
    log.warning("Shutting down: stopped %s not done within %.0f s; refunded",
                plural(stopped, "job", "jobs"), grace)  # fmt: skip
    if not await drain.wait_idle(TELL_SECONDS):
        log.warning("Shutting down: %s did not end; the next start refunds and tells them",
                    plural(drain.in_flight, "job", "jobs"))  # fmt: skip


def exit_now(signum: int) -> None:
    """End the process at once: what is open in the store is recovered at the next start."""
    logging.shutdown()
    os._exit(128 + signum)


@contextlib.asynccontextmanager
async def on_signals(
    stop: Callable[[], Awaitable[None]],
    *,
    force: Callable[[int], None] = exit_now,
    signals: tuple[signal.Signals, ...] = SIGNALS,
) -> AsyncIterator[None]:
    """While inside, the first of ``signals`` runs ``stop`` (a graceful shutdown); the next
    calls ``force``. On the way out, a shutdown under way is waited for."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def handle(signum: signal.Signals) -> None:
        if stopping:
            log.warning("%s again: exiting now; open jobs are refunded at the next start",
                        signum.name)  # fmt: skip
            force(signum.value)
            return
        log.info("%s: shutting down (send it again to exit at once)", signum.name)
        stopping.append(asyncio.create_task(_run(stop), name="imagebot-shutdown"))

    for signum in signals:
        loop.add_signal_handler(signum, handle, signum)
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if stopping:
            await asyncio.shield(stopping[0])


async def _run(stop: Callable[[], Awaitable[None]]) -> None:
    try:
        await stop()
    except Exception:
        log.error("The graceful shutdown failed", exc_info=True)
