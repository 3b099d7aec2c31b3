"""One fair, bounded queue in front of the Images API.

A job waits for one of ``max_concurrent`` slots. Waiting jobs are served round-robin across servers
and, within a server, across members, so one member's ten jobs never starve another's one. The queue
holds only tickets (no image bytes); it refuses politely when full. How many jobs one member may
have in progress is the server's policy (``max_in_flight``), enforced by the store when credits are
reserved, before a job gets here: one limit, one wording, the same for every bot process. When the
API says "slow down", dispatching pauses for everyone until the time it named.

Every dispatch moves every waiter, so places are worked out lazily and told by one announcer: a
waiter hears its first place at once, then its newest place at most once per ``position_every``
(nobody reads a number that changes several times a second, and with a thousand waiters one wake-up
each per move cost more than the images). The announcer starts the callbacks a few per turn of the
loop, so a thousand places due at once never stall it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import Busy
from bot.i18n import lazy

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None]]
POSITION_EVERY = 5.0  # seconds between two places told to one waiter (the first is told at once)
FAR_PLACES = 20  # every this many places further back, a waiter hears its place half as often
ANNOUNCE_BATCH = 16  # position callbacks started per turn of the event loop


@dataclass(eq=False)
class _Waiter:
    ticket: str
    guild: int
    member: int
    future: asyncio.Future[None]
    on_position: PositionCallback | None
    shown: int = -1  # the place last told, and when
    shown_at: float = float("-inf")
    showing: asyncio.Task[None] | None = field(default=None, repr=False)


class JobCancelled(Exception):
    """The member cancelled a job while it was still queued."""


class Scheduler:
    """Admits jobs to ``max_concurrent`` API slots in fair order."""

    def __init__(
        self,
        max_concurrent: int,
        *,
        queue_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
        position_every: float = POSITION_EVERY,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.queue_size = queue_size
        self.position_every = position_every
        self._clock = clock
        self._running = 0
        # guild -> member -> waiters; both levels rotate so service alternates.
        self._queues: OrderedDict[int, OrderedDict[int, deque[_Waiter]]] = OrderedDict()
        self._by_ticket: dict[str, _Waiter] = {}
        self._member_jobs: dict[tuple[int, int], int] = {}
        self._paused_until = 0.0
        self._resume_handle: asyncio.TimerHandle | None = None
        self._ids = itertools.count(1)
        self._places: dict[str, int] | None = None  # ticket -> 1-based place; None: stale
        self._announcer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # something to tell may be due
        self._timer: asyncio.TimerHandle | None = None
        self._next_pass = float("inf")  # moves before then wait for the announcer's timer

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._by_ticket)

    def starts_now(self) -> bool:
        """Whether a job arriving now would start without waiting."""
        return self._can_start_now()

    def jobs_of(self, guild: int, member: int) -> int:
        """How many jobs a member has queued or running."""
        return self._member_jobs.get((guild, member), 0)

    @contextlib.asynccontextmanager
    async def slot(
        self,
        guild: int,
        member: int,
        *,
        ticket: str | None = None,
        on_position: PositionCallback | None = None,
    ) -> AsyncIterator[None]:
        """Wait for a slot (raising Busy at once when the queue is full)."""
        key = (guild, member)
        if not self._can_start_now() and self.queued >= self.queue_size:
            raise Busy(
                lazy("The bot is very busy right now and its queue is full. Try again in a minute.")
            )
        self._member_jobs[key] = self._member_jobs.get(key, 0) + 1
        try:
            if self._can_start_now():
                self._running += 1
            else:
                await self._wait(ticket or f"job-{next(self._ids)}", guild, member, on_position)
            try:
                yield
            finally:
                self._running -= 1
                self._dispatch()
        finally:
            self._member_jobs[key] -= 1
            if not self._member_jobs[key]:
                del self._member_jobs[key]

    def cancel(self, ticket: str) -> bool:
        """Cancel a queued job; False when it is not waiting (already running or finished)."""
        waiter = self._by_ticket.get(ticket)
        if waiter is None or waiter.future.done():
            return False
        waiter.future.set_exception(JobCancelled())
        self._remove(waiter)
        self._moved()
        return True

    def position(self, ticket: str) -> int | None:
        """1-based place in the queue, or None when the ticket is not waiting."""
        return self._positions().get(ticket)

    def backoff(self, seconds: float) -> None:
        """Hold every new dispatch for ``seconds`` (the API asked us to slow down)."""
        until = self._clock() + seconds
        if until <= self._paused_until:
            return
        log.info("Images API asked to slow down: pausing new requests for %.1f s", seconds)
        self._paused_until = until
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        self._resume_handle = asyncio.get_running_loop().call_later(seconds, self._dispatch)

    # --- internals ---------------------------------------------------------------------------

    def _can_start_now(self) -> bool:
        return (
            self._running < self.max_concurrent
            and not self._by_ticket
            and self._clock() >= self._paused_until
        )

    async def _wait(
        self, ticket: str, guild: int, member: int, on_position: PositionCallback | None
    ) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(ticket, guild, member, future, on_position)
        self._by_ticket[ticket] = waiter
        self._queues.setdefault(guild, OrderedDict()).setdefault(member, deque()).append(waiter)
        self._moved()
        if on_position is not None:
            self._announce_soon()
        try:
            await _until_done(future, waiter)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                # Admitted just as the caller was cancelled: give the slot back.
                self._running -= 1
                self._dispatch()
            else:
                self._remove(waiter)
                self._moved()
            raise

    def _remove(self, waiter: _Waiter) -> None:
        self._by_ticket.pop(waiter.ticket, None)
        members = self._queues.get(waiter.guild)
        if members is None:
            return
        queue = members.get(waiter.member)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del members[waiter.member]
        if not members:
            del self._queues[waiter.guild]

    def _next_waiter(self) -> _Waiter | None:
        """Pop the next waiter round-robin: next guild, then that guild's next member."""
        if not self._queues:
            return None
        guild, members = next(iter(self._queues.items()))
        member, queue = next(iter(members.items()))
        waiter = queue.popleft()
        members.move_to_end(member)
        if not queue:
            del members[member]
        self._queues.move_to_end(guild)
        if not members:
            del self._queues[guild]
        self._by_ticket.pop(waiter.ticket, None)
        return waiter

    def _dispatch(self) -> None:
        if self._clock() < self._paused_until:
            return
        started = False
        while self._running < self.max_concurrent:
            waiter = self._next_waiter()
            if waiter is None:
                break
            if waiter.future.done():
                continue  # its task was cancelled and hasn't run its clean-up yet: no slot for it
            self._running += 1
            waiter.future.set_result(None)
            started = True
        if started:
            self._moved()

    def _order(self) -> list[_Waiter]:
        """The order in which the current waiters would be served."""
        rotations = [
            [list(queue) for queue in members.values()] for members in self._queues.values()
        ]
        per_guild = [_interleave(queues) for queues in rotations]
        return _interleave(per_guild)

    def _moved(self) -> None:
        """The queue changed: places are recomputed when next asked for."""
        self._places = None
        if not self._by_ticket or self._clock() >= self._next_pass:
            self._wake.set()  # a changed place is due (or nobody is left: the announcer ends)

    def _positions(self) -> dict[str, int]:
        if self._places is None:
            self._places = {w.ticket: place for place, w in enumerate(self._order(), start=1)}
        return self._places

    # --- telling waiters their place -----------------------------------------------------------

    def _announce_soon(self) -> None:
        self._wake.set()
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.create_task(self._announce(), name="queue-positions")

    async def _announce(self) -> None:
        """Tell waiters their place while any wait: at once when new, then when next due."""
        while self._by_ticket:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
            next_due = await self._announce_due()
            # Places falling due a little apart are told in one pass: a pass reads every waiter.
            self._next_pass = next_due + self.position_every / 4
            if self._next_pass < float("inf"):
                delay = max(0.0, self._next_pass - self._clock())
                self._timer = asyncio.get_running_loop().call_later(delay, self._wake.set)
        if self._timer is not None:
            self._timer.cancel()

    def _every(self, place: int) -> float:
        """How often a waiter at ``place`` hears its place: far back in a long queue, less often.

        Its estimate is a live Discord timestamp, so it keeps counting down between updates; at
        hundreds waiting this keeps progress edits to a few per job.
        """
        return self.position_every * max(1, math.ceil(place / FAR_PLACES))

    async def _announce_due(self) -> float:
        """Start the callbacks that are due; the earliest time another may be (inf: none)."""
        now = self._clock()
        next_due = float("inf")
        started = 0
        for waiter in [w for w in self._by_ticket.values() if w.on_position is not None]:
            place = self._positions().get(waiter.ticket)
            if place is None:
                continue
            due = waiter.shown_at + self._every(place)
            if waiter.showing is not None and not waiter.showing.done():
                pass  # its last edit is still going: _show looks again when it lands
            elif place != waiter.shown and due <= now:
                waiter.shown, waiter.shown_at, due = place, now, now + self._every(place)
                waiter.showing = asyncio.create_task(self._show(waiter, place), name="queue-place")
                started += 1
                if started % ANNOUNCE_BATCH == 0:
                    await asyncio.sleep(0)  # the loop's other work goes first (places may move)
                    now = self._clock()
            next_due = min(next_due, due)
        return next_due

    async def _show(self, waiter: _Waiter, place: int) -> None:
        assert waiter.on_position is not None
        if waiter.future.done():
            return  # admitted (or cancelled) since: its place no longer matters
        try:
            await waiter.on_position(place)
        except Exception:  # a failed progress edit must never break the queue
            log.warning("Could not show queue position for %s", waiter.ticket, exc_info=True)
        if waiter.future.done() or self._clock() < waiter.shown_at + self._every(place):
            return
        if self._positions().get(waiter.ticket, waiter.shown) != waiter.shown:
            self._wake.set()  # it moved while its edit was going, and that is due already


def _interleave(queues: list[list[_Waiter]]) -> list[_Waiter]:
    order: list[_Waiter] = []
    for round_ in itertools.zip_longest(*queues):
        order.extend(w for w in round_ if w is not None)
    return order


async def _until_done(future: asyncio.Future[None], waiter: _Waiter) -> None:
    """Wait for admission; then let a position edit in flight land before the job moves on."""
    try:
        await future
    finally:
        if waiter.showing is not None and not waiter.showing.done():
            await asyncio.shield(waiter.showing)
