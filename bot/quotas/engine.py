"""The quota engine: price a request, reserve its credits atomically, then commit or refund.

Flow for one job: ``reserve`` before calling the API (raises ``NotAllowed``, ``Busy`` or
``QuotaExceeded`` with a member-facing message), then ``commit`` with what came back (or price it
with ``charge`` and ``settle`` it later), or ``refund`` if nothing did. Both settle only a pending
reservation, so repeating either, or refunding after a commit, changes nothing. ``recover``
settles what processes that are gone left pending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bot import words
from bot.errors import Busy, NotAllowed, QuotaExceeded
from bot.i18n import SOURCE, Text, lazy, lazy_n
from bot.models import ModelSpec
from bot.quotas.costs import cost_per_image
from bot.quotas.money import cost_usd
from bot.quotas.policy import (
    MemberLimit,
    describe_policy,
    in_flight_refusal,
    member_limit,
)
from bot.quotas.usage import MemberUsage, UsageSummary, member_usage, usage_summary
from bot.quotas.windows import period, relative_time, window_end, window_start
from bot.store import (
    QuotaPolicy,
    Reservation,
    ReservationRequest,
    ReserveFailure,
    Store,
    UsageLike,
    Window,
)
from bot.store.ledger import Charge
from bot.store.models import token_usage

# Only reservations written before owners were recorded still expire (see bot.store.processes).
DEFAULT_RESERVATION_TTL = 30 * 60.0


class QuotaEngine:
    """Enforces each guild's quota policy against the store; the clock is injectable."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = reservation_ttl

    async def price(
        self,
        guild_id: int,
        model: str,
        size: str | None,
        quality: str | None,
        n: int = 1,
        *,
        like: Sequence[str] = (),
    ) -> int:
        """Credits a request would cost in this guild (its price overrides included)."""
        policy = await self._store.get_quota_policy(guild_id)
        return n * cost_per_image(model, size, quality, overrides=policy.costs, like=like)

    async def reserve(
        self,
        *,
        guild_id: int,
        user_id: int,
        role_ids: Iterable[int],
        is_moderator: bool,
        model: str,
        size: str | None,
        quality: str | None,
        n: int,
        job_id: int | None = None,
        like: Sequence[str] = (),
    ) -> Reservation:
        """Hold the credits of a request, or raise NotAllowed, Busy or QuotaExceeded."""
        if n < 1:
            raise ValueError("a request makes at least one image")
        policy = await self._store.get_quota_policy(guild_id)
        limit = member_limit(policy, role_ids, is_moderator=is_moderator)
        if limit.kind == "blocked":
            raise NotAllowed(lazy("Your roles don't allow making images on this server."))
        per_image = cost_per_image(model, size, quality, overrides=policy.costs, like=like)
        now = float(self._clock())
        exempt = is_moderator and policy.moderators_unlimited
        request = ReservationRequest(
            guild_id=guild_id,
            user_id=user_id,
            credits=per_image * n,
            user_limit=limit.credits,
            server_budget=policy.server_budget,
            window=policy.window,
            window_start=window_start(policy.window, now),
            server_window=policy.server_window,
            server_window_start=window_start(policy.server_window, now),
            max_in_flight=policy.max_in_flight,
            cooldown_seconds=0.0 if exempt else float(policy.cooldown_seconds),
            model=model,
            size=size,
            quality=quality,
            n=n,
            cost_per_image=per_image,
            now=now,
            expires_at=now + self._ttl,
            job_id=job_id,
        )
        outcome = await self._store.reserve_credits(request)
        if isinstance(outcome, Reservation):
            return outcome
        raise await self._refusal(outcome, request, policy, limit)

    async def charge(
        self,
        reservation: Reservation,
        *,
        actual_n: int | None = None,
        usage: UsageLike | None = None,
        size: str | None = None,
        quality: str | None = None,
        like: Sequence[str] = (),
    ) -> Charge:
        """What the images that came back cost; nothing is written.

        ``size``/``quality`` are what the API reports it made (GPT image models answer "auto"
        with the real values); when they differ from the request the images are re-priced, so
        the ledger holds what was really spent. No images at all is a refund. The money at list
        prices (``money.cost_usd``) goes with it: usage still carries its input's text/image split
        here, and the ledger keeps the price of the day.
        """
        images = reservation.n if actual_n is None else max(0, actual_n)
        per_image = reservation.cost_per_image
        if (size or reservation.size, quality or reservation.quality) != (
            reservation.size,
            reservation.quality,
        ):
            policy = await self._store.get_quota_policy(reservation.guild_id)
            per_image = cost_per_image(
                reservation.model,
                size or reservation.size,
                quality or reservation.quality,
                overrides=policy.costs,
                like=like,
            )
        cost = cost_usd(
            reservation.model, usage, size or reservation.size, quality or reservation.quality,
            images, like=like,
        )  # fmt: skip
        return Charge(per_image * images, images, token_usage(usage), size, quality, cost)

    async def settle(self, reservation: Reservation, charge: Charge) -> Reservation | None:
        """Settle a reservation with its charge; None if it was no longer pending."""
        return await self._store.settle_reservation(
            reservation,
            status=charge.status,
            charged=charge.charged,
            images=charge.images,
            usage=charge.usage,
            size=charge.size,
            quality=charge.quality,
            cost_usd=charge.cost_usd,
        )

    async def commit(
        self,
        reservation: Reservation,
        *,
        actual_n: int | None = None,
        usage: UsageLike | None = None,
        size: str | None = None,
        quality: str | None = None,
        like: Sequence[str] = (),
    ) -> Reservation | None:
        """Turn a reservation into spend for the images that came back; refund the rest.

        Priced by ``charge``. Returns the settled reservation, or None if it was no longer pending.
        """
        charge = await self.charge(
            reservation, actual_n=actual_n, usage=usage, size=size, quality=quality, like=like
        )
        return await self.settle(reservation, charge)

    async def refund(self, reservation: Reservation) -> bool:
        """Give the credits back; False (and no change) if it was already settled."""
        settled = await self._store.settle_reservation(
            reservation, status="refunded", charged=0, images=0
        )
        return settled is not None

    async def recover(
        self, on_charged: Callable[[Reservation], Awaitable[None]] | None = None
    ) -> int:
        """Settle what processes that are gone left pending; return how many were settled.

        A reservation whose images were delivered is committed with the charge recorded then
        (and handed to ``on_charged``, as a settlement tells its listeners); any other is
        refunded. Live processes' reservations, this one's included, are left alone.
        """
        settled = 0
        for orphan in await self._store.orphan_reservations():
            if orphan.delivered is not None:
                charged = await self.settle(orphan.reservation, orphan.delivered)
                if charged is not None and on_charged is not None:
                    await on_charged(charged)
                done = charged is not None
            else:
                done = await self.refund(orphan.reservation)
            settled += done
        return settled

    async def reset_member(self, guild_id: int, user_id: int) -> None:
        """Zero a member's usage in the current window and lift their cooldown."""
        policy = await self._store.get_quota_policy(guild_id)
        start = window_start(policy.window, float(self._clock()))
        await self._store.reset_member_usage(guild_id, user_id, policy.window, start)

    async def member_usage(
        self, guild_id: int, user_id: int, role_ids: Iterable[int], *, is_moderator: bool = False
    ) -> MemberUsage:
        """A member's used/limit/remaining/reset time, and the server's, for now."""
        return await member_usage(
            self._store, guild_id, user_id, role_ids, is_moderator, float(self._clock())
        )

    async def usage_summary(self, guild_id: int, window: Window = "month") -> UsageSummary:
        """Spend in the current window: top members, by model, by UTC day."""
        return await usage_summary(self._store, guild_id, window, float(self._clock()))

    async def describe_policy(
        self, guild_id: int, models: Sequence[ModelSpec] = (), locale: str = SOURCE
    ) -> str:
        """The guild's policy as text for members and moderators in their ``locale``, with the
        prices of ``models`` (the ones the server allows that its provider can use:
        ``pricing.offered``)."""
        return describe_policy(await self._store.get_quota_policy(guild_id), models, locale)

    async def _refusal(
        self,
        reason: ReserveFailure,
        req: ReservationRequest,
        policy: QuotaPolicy,
        limit: MemberLimit,
    ) -> Exception:
        if reason == "in_flight":
            assert req.max_in_flight is not None  # the store refuses only under a cap
            return Busy(in_flight_refusal(req.max_in_flight))
        if reason == "cooldown":
            state = await self._store.member_state(req.guild_id, req.user_id)
            until = (state.last_reserved_at or req.now) + req.cooldown_seconds
            return Busy(
                lazy(
                    "You're going a bit fast: you can ask again {when}.", when=relative_time(until)
                )
            )
        if reason == "member_quota":
            assert limit.credits is not None
            used = await self._store.bucket_used(
                req.guild_id, "user", req.user_id, req.window, req.window_start
            )
            return _quota_error(used, limit.credits, req, req.window, server=False)
        assert req.server_budget is not None
        used = await self._store.bucket_used(
            req.guild_id, "server", 0, req.server_window, req.server_window_start
        )
        return _quota_error(used, req.server_budget, req, req.server_window, server=True)


def _quota_error(
    used: int, limit: int, req: ReservationRequest, window: Window, *, server: bool
) -> QuotaExceeded:
    """The refusal of a request over the member's limit (or, ``server``, the server budget):
    whole sentences, each plural in the count it says, the reset as a Discord timestamp."""
    remaining = max(limit - used, 0)
    resets_at = window_end(window, req.now)
    values = {"period": period(window), "when": relative_time(resets_at)}
    text: Text
    if limit == 0 and server:
        text = lazy(
            "This server's budget is 0 credits {period}, so no images can be made for now.",
            **values,
        )
    elif limit == 0:
        text = lazy("Your limit is 0 credits {period}, so no images can be made for now.", **values)
    elif remaining == 0 and server:
        text = lazy_n(
            "This server has used {used} of its {count} credit {period}. It resets {when}.",
            "This server has used {used} of its {count} credits {period}. It resets {when}.",
            limit,
            used=used,
            **values,
        )
    elif remaining == 0:
        text = lazy_n(
            "You've used {used} of your {count} credit {period}. It resets {when}.",
            "You've used {used} of your {count} credits {period}. It resets {when}.",
            limit,
            used=used,
            **values,
        )
    else:
        needed, of = words.credit_count(req.credits), words.credit_count(limit)
        text = _not_enough(remaining, needed, of, values, server=server)
    return QuotaExceeded(text, remaining=remaining, resets_at=float(resets_at))


def _not_enough(
    remaining: int, needed: Text, limit: Text, values: dict[str, object], *, server: bool
) -> Text:
    """A request that needs more credits than are left: plural in what is left."""
    if server:
        return lazy_n(
            "This needs {needed} but only {count} of this server's {limit} is left {period}. "
            "Try fewer images or a cheaper size or quality. It resets {when}.",
            "This needs {needed} but only {count} of this server's {limit} are left {period}. "
            "Try fewer images or a cheaper size or quality. It resets {when}.",
            remaining,
            needed=needed,
            limit=limit,
            **values,
        )
    return lazy_n(
        "This needs {needed} but only {count} of your {limit} is left {period}. "
        "Try fewer images or a cheaper size or quality. It resets {when}.",
        "This needs {needed} but only {count} of your {limit} are left {period}. "
        "Try fewer images or a cheaper size or quality. It resets {when}.",
        remaining,
        needed=needed,
        limit=limit,
        **values,
    )
