"""The credits part of the repository: reservations, usage buckets and the ledger.

``reserve_credits`` runs three conditional upserts in one transaction: the member's in-flight
slot (cap + cooldown), the member's bucket and the server's bucket. Each upsert checks and
charges in a single statement, so no read-then-write race exists between processes; if any of
them matches no row the whole transaction rolls back. Every transaction touches rows in the same
order (reservation, member slot, member bucket, server bucket), so PostgreSQL can't deadlock.

Once a job's images reached its member, ``record_delivery`` writes what they cost onto the still
pending reservation and ends the job as succeeded, in one transaction; settling that charge may
then be retried, or completed by recovery after a crash, but a delivered job is never refunded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from bot.store import queries as q
from bot.store.db import Database, Row, Steps
from bot.store.jobs import job_from_row
from bot.store.models import (
    Job,
    MemberState,
    Reservation,
    ReservationRequest,
    ReservationStatus,
    ReserveFailure,
    Scope,
    Spend,
    TokenUsage,
    Window,
)
from bot.store.processes import LEASE_SECONDS


@dataclass(frozen=True, slots=True)
class Charge:
    """What a job's images cost: how its reservation settles (no images: a refund)."""

    charged: int
    images: int
    usage: TokenUsage = field(default_factory=TokenUsage)
    size: str | None = None  # what the API reports it made, when it says
    quality: str | None = None
    cost_usd: Decimal | None = None  # at list prices (bot.quotas.money); None: no price known

    @property
    def status(self) -> ReservationStatus:
        """The reservation's status once settled."""
        return "committed" if self.images else "refunded"

    @classmethod
    def recorded(cls, reservation: Reservation) -> Charge:
        """The charge ``record_delivery`` wrote onto a reservation."""
        r = reservation
        return cls(r.charged, r.images, r.usage, r.size, r.quality, r.cost_usd)


@dataclass(frozen=True, slots=True)
class Orphan:
    """A pending reservation nobody alive will settle, and its charge if it was delivered."""

    reservation: Reservation
    delivered: Charge | None


class _AlreadyEnded(Exception):
    """Rolls a delivery record back: the job or its reservation ended meanwhile."""


class _Rejected(Exception):
    """Rolls the reservation transaction back and says why."""

    def __init__(self, reason: ReserveFailure) -> None:
        super().__init__(reason)
        self.reason: ReserveFailure = reason


def reservation_from_row(row: Row) -> Reservation:
    """Build a ``Reservation`` from a ``reservations`` row of either backend."""
    return Reservation(
        id=row["id"],
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        job_id=row["job_id"],
        model=row["model"],
        size=row["size"],
        quality=row["quality"],
        n=row["n"],
        cost_per_image=row["cost_per_image"],
        credits=row["credits"],
        status=cast(ReservationStatus, row["status"]),
        window=cast(Window, row["window_kind"]),
        window_start=row["window_start"],
        server_window=cast(Window, row["server_window"]),
        server_window_start=row["server_window_start"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        charged=row["charged"],
        images=row["images"],
        usage=TokenUsage(row["input_tokens"], row["output_tokens"], row["total_tokens"]),
        settled_at=row["settled_at"],
        cost_usd=None if row["cost_usd"] is None else Decimal(str(row["cost_usd"])),
    )


class LedgerRepository:
    """Reserve, settle and report credits; everything scoped by guild id."""

    _db: Database
    _clock: Callable[[], float]
    process_id: str

    async def reserve_credits(self, req: ReservationRequest) -> Reservation | ReserveFailure:
        """Atomically take an in-flight slot and charge both buckets, or say what blocked it."""
        if req.user_limit is not None and req.credits > req.user_limit:
            return "member_quota"
        if req.server_budget is not None and req.credits > req.server_budget:
            return "server_quota"
        try:
            row = await self._db.run(_reserve_steps(req, self.process_id))
        except _Rejected as rejected:
            return rejected.reason
        return reservation_from_row(row)

    async def settle_reservation(
        self,
        reservation: Reservation,
        *,
        status: ReservationStatus,
        charged: int,
        images: int,
        usage: TokenUsage | None = None,
        size: str | None = None,
        quality: str | None = None,
        cost_usd: Decimal | None = None,
    ) -> Reservation | None:
        """Commit or refund a pending reservation, moving buckets by ``charged - credits``.

        ``size``/``quality`` record what the API reports it really made, when it says;
        ``cost_usd`` what that cost at list prices. Returns
        None when it was no longer pending (already committed, refunded or recovered).
        """
        tokens = usage or TokenUsage()
        r = reservation
        async with self._db.transaction() as tx:
            row = await tx.fetchrow(
                q.SETTLE_RESERVATION, r.guild_id, r.id, status, charged, images, size, quality,
                tokens.input_tokens, tokens.output_tokens, tokens.total_tokens,
                float(self._clock()), _text(cost_usd),
            )  # fmt: skip
            if row is None:
                return None
            settled = reservation_from_row(row)
            await tx.execute(q.RELEASE_MEMBER_SLOT, settled.guild_id, settled.user_id)
            delta = charged - settled.credits
            if delta:
                await tx.execute(
                    q.ADJUST_BUCKET, settled.guild_id, "user", settled.user_id, settled.window,
                    settled.window_start, delta,
                )  # fmt: skip
                await tx.execute(
                    q.ADJUST_BUCKET, settled.guild_id, "server", 0, settled.server_window,
                    settled.server_window_start, delta,
                )  # fmt: skip
        return settled

    async def get_reservation(self, guild_id: int, reservation_id: int) -> Reservation | None:
        """The guild's reservation with that id, or None."""
        row = await self._db.fetchrow(q.GET_RESERVATION, guild_id, reservation_id)
        return None if row is None else reservation_from_row(row)

    async def record_delivery(
        self,
        reservation: Reservation,
        charge: Charge,
        *,
        revised_prompt: str | None,
        result_channel_id: int,
        result_message_id: int,
    ) -> Job | None:
        """The member has the images: end the job as succeeded and keep the charge to settle.

        Returns the finished job, or None when the job or the reservation had already ended
        (recovery took this process for dead); then nothing is written.
        """
        r, tokens = reservation, charge.usage
        if r.job_id is None:
            raise ValueError("only a job's reservation records a delivery")
        now = float(self._clock())
        try:
            async with self._db.transaction() as tx:
                pending = await tx.fetchrow(
                    q.RECORD_DELIVERY, r.guild_id, r.id, charge.charged, charge.images,
                    charge.size, charge.quality, tokens.input_tokens, tokens.output_tokens,
                    tokens.total_tokens, now, _text(charge.cost_usd),
                )  # fmt: skip
                job = await tx.fetchrow(
                    q.MARK_JOB_SUCCEEDED, r.guild_id, r.job_id, now, revised_prompt,
                    charge.charged, tokens.input_tokens, tokens.output_tokens,
                    tokens.total_tokens, result_channel_id, result_message_id,
                )  # fmt: skip
                if job is None:  # a retry whose first attempt did commit finds it succeeded
                    job = await tx.fetchrow(q.GET_JOB, r.guild_id, r.job_id)
                    if job is not None and job["result_message_id"] != result_message_id:
                        job = None
                if pending is None or job is None:
                    raise _AlreadyEnded()
        except _AlreadyEnded:
            return None
        return job_from_row(job)

    async def orphan_reservations(self) -> list[Orphan]:
        """Recovery, every guild: pending reservations of processes that are gone (see queries)."""
        now = float(self._clock())
        rows = await self._db.fetch(
            q.ORPHAN_RESERVATIONS, now, now - LEASE_SECONDS, self.process_id
        )
        return [
            Orphan(
                reservation_from_row(row),
                None if row["delivered_at"] is None else Charge.recorded(reservation_from_row(row)),
            )
            for row in rows
        ]

    async def bucket_used(
        self, guild_id: int, scope: Scope, subject_id: int, window: Window, window_start: int
    ) -> int:
        """Credits used in one bucket (0 if it was never charged)."""
        row = await self._db.fetchrow(
            q.GET_BUCKET_USED, guild_id, scope, subject_id, window, window_start
        )
        return 0 if row is None else int(row["used"])

    async def member_state(self, guild_id: int, user_id: int) -> MemberState:
        """The member's jobs in flight and last reservation time."""
        row = await self._db.fetchrow(q.GET_MEMBER_STATE, guild_id, user_id)
        if row is None:
            return MemberState()
        return MemberState(row["in_flight"], row["last_reserved_at"])

    async def reset_member_usage(
        self, guild_id: int, user_id: int, window: Window, window_start: int
    ) -> None:
        """Zero a member's bucket for one window and lift their cooldown."""
        async with self._db.transaction() as tx:
            await tx.execute(q.RESET_MEMBER_BUCKET, guild_id, user_id, window, window_start)
            await tx.execute(q.CLEAR_MEMBER_COOLDOWN, guild_id, user_id)

    async def spend_by_member(
        self, guild_id: int, since: float, until: float, limit: int = 10
    ) -> list[Spend]:
        """Committed credits and images per member in [since, until), biggest first."""
        rows = await self._db.fetch(q.SPEND_BY_MEMBER, guild_id, since, until, limit)
        return [Spend(row["key"], row["credits"], row["images"]) for row in rows]

    async def spend_by_model(self, guild_id: int, since: float, until: float) -> list[Spend]:
        """Committed credits and images per model in [since, until), biggest first."""
        rows = await self._db.fetch(q.SPEND_BY_MODEL, guild_id, since, until)
        return [Spend(row["key"], row["credits"], row["images"]) for row in rows]

    async def charges(self, guild_id: int, since: float, until: float) -> list[Reservation]:
        """The ledger: committed reservations in [since, until), oldest first."""
        rows = await self._db.fetch(q.CHARGES_BETWEEN, guild_id, since, until)
        return [reservation_from_row(row) for row in rows]


def _text(amount: Decimal | None) -> str | None:
    """Money as decimal text: SQLite keeps it exactly as TEXT, PostgreSQL parses it as NUMERIC."""
    return None if amount is None else str(amount)


def _first(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def _reserve_steps(req: ReservationRequest, process_id: str | None) -> Steps[Row]:
    """Take an in-flight slot, charge the member's and the server's buckets, record the hold.

    Each refusal raises ``_Rejected``, which rolls everything back.
    """
    g, u = req.guild_id, req.user_id
    slot = _first(
        (yield q.TAKE_MEMBER_SLOT, (g, u, req.now, req.max_in_flight, req.cooldown_seconds))
    )
    if slot is None:
        state = _first((yield q.GET_MEMBER_STATE, (g, u)))
        cap = req.max_in_flight
        full = state is not None and cap is not None and state["in_flight"] >= cap
        raise _Rejected("in_flight" if full else "cooldown")
    member: tuple[str, int, Window, int, int | None, ReserveFailure] = (
        "user", u, req.window, req.window_start, req.user_limit, "member_quota"
    )  # fmt: skip
    server: tuple[str, int, Window, int, int | None, ReserveFailure] = (
        "server", 0, req.server_window, req.server_window_start, req.server_budget,
        "server_quota",
    )  # fmt: skip
    buckets = (member, server)
    for scope, owner, window, start, limit, refusal in buckets:
        charged = yield q.CHARGE_BUCKET, (g, scope, owner, window, start, req.credits, limit)
        if not charged:
            raise _Rejected(refusal)
    row = _first(
        (
            yield q.INSERT_RESERVATION,
            (
                g, u, req.job_id, req.model, req.size, req.quality, req.n, req.cost_per_image,
                req.credits, req.window, req.window_start, req.server_window,
                req.server_window_start, req.now, req.expires_at, process_id,
            ),
        )
    )  # fmt: skip
    assert row is not None
    return row
