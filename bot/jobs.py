"""One member job from request to delivery: policy, quota, queue, API, delivery, ledger.

Credits are reserved before anything is spent and become usage only once the images have been
delivered; every failure on the way (refused input, API error, Discord error, cancel, crash) gives
them back and records why in the job's audit row. Once delivered, the job is charged, never
refunded: that is ``bot.settlement``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot import blend, moderation, presets, safety
from bot.errors import AuthenticationFailed, BotError, NotAllowed, QuotaExhausted, RateLimited
from bot.i18n import N_, Command, lazy
from bot.images.types import Operation, PartialImage
from bot.models.aspect import largest_size
from bot.provider import Provider
from bot.providers import Providers
from bot.quotas import QuotaEngine
from bot.scheduler import JobCancelled
from bot.service import ImageService, JobSpec, Outcome
from bot.settlement import Delivered, Settlement
from bot.shutdown import RESTARTING, Drain, Restarting
from bot.store import Reservation, Store
from bot.store.models import GuildSettings, Job, NewJob

log = logging.getLogger(__name__)
DEFAULT_BACKOFF = 2.0  # seconds the queue pauses after a 429 that named no wait
RECENT_JOBS = 20  # how many recent job times the queue's estimate is taken from


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, where, and with which roles (as Discord reported them with the request)."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...] = ()
    is_moderator: bool = False
    interaction_expires_at: float | None = None
    display_name: str = ""  # the member's name as the request carried it (no member cache needed)
    age_restricted: bool = False  # the channel (a thread: its parent) is age-restricted
    spoiler: bool = False  # the server wants results here posted as spoilers
    jump_url: str = ""  # where the request was made: the channel, or the member's message
    locale: str = "en"  # the catalog their replies read in (bot/i18n.py): theirs, else the server's


class Progress(Protocol):
    """How a job tells its member where it stands."""

    async def queued(self, job: Job, position: int) -> None: ...

    async def running(self, job: Job) -> None: ...

    async def partial(self, job: Job, image: PartialImage) -> None: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """A job that passed every check and holds its credits: it may now be shown and run."""

    job: Job
    spec: JobSpec
    who: Requester
    reservation: Reservation
    provider: Provider  # where it goes: the server's own, or the operator's


class Refused(Exception):
    """A job was refused or failed; ``job`` is its stored row when it got one (for Try again)."""

    def __init__(self, error: BaseException, job: Job | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.job = job


Deliver = Callable[[Job, Outcome, int], Awaitable[Delivered]]
# Told about every job that failed, e.g. to post safety rejections to a moderation log.
FailureListener = Callable[[Job, Requester, BaseException], Awaitable[None]]
# Told what a server's moderators should hear once: (guild id, key that makes it once, message
# id marked with N_, its values); the listener words it in the server's language.
NoticeListener = Callable[[int, str, str, Mapping[str, object]], Awaitable[None]]
# Told how every stored job ended: "delivered", "cancelled", "refused" (a check turned it away
# before it ran) or "failed_<kind>". For counting: called on the loop, not awaited.
FinishedListener = Callable[[Job, str], None]
# Told how long each job's call to the Images API took and what it raised (None: it answered).
CallListener = Callable[[Job, float, BaseException | None], None]


def require_channel(settings: GuildSettings, channel_id: int) -> None:
    """Refuse a channel the server didn't allow the bot in (when it named any)."""
    if settings.allowed_channel_ids and channel_id not in settings.allowed_channel_ids:
        channels = " ".join(f"<#{c}>" for c in settings.allowed_channel_ids)
        raise NotAllowed(
            lazy("I can only be used in {channels} on this server.", channels=channels)
        )


class JobRunner:
    """Runs jobs through policy, quotas, the scheduler and the image service."""

    def __init__(
        self,
        service: ImageService,
        store: Store,
        quotas: QuotaEngine,
        providers: Providers,
        *,
        default_model: str | None = None,
    ) -> None:
        self.default_model = default_model
        self.failure_listeners: list[FailureListener] = []
        self.notice_listeners: list[NoticeListener] = []
        self.finished_listeners: list[FinishedListener] = []
        self.call_listeners: list[CallListener] = []
        self.service = service
        self.store = store
        self.quotas = quotas
        self.providers = providers
        self.settlement = Settlement(quotas, store)
        self._durations: deque[float] = deque(maxlen=RECENT_JOBS)
        # Admitted jobs that have not reached their provider's queue yet.
        self._to_start: dict[int, Provider] = {}
        self.drain = Drain()  # every admitted job until it ends, for a graceful shutdown

    @property
    def settle_retry_delays(self) -> tuple[float, ...]:
        """The pauses between attempts to settle a delivered job (``Settlement.retry_delays``)."""
        return self.settlement.retry_delays

    @settle_retry_delays.setter
    def settle_retry_delays(self, delays: tuple[float, ...]) -> None:
        self.settlement.retry_delays = delays

    def estimate(self, position: int, provider: Provider) -> float | None:
        """Seconds until a job at ``position`` in ``provider``'s queue is done, from recent jobs'
        times.

        None until a job has finished here: a guess from nothing would only mislead.
        """
        if not self._durations:
            return None
        typical = sorted(self._durations)[len(self._durations) // 2]
        rounds = math.ceil(position / max(provider.queue.max_concurrent, 1)) + 1
        return typical * rounds

    @property
    def provider(self) -> Provider:
        """The operator's provider (the bot's own defaults are worked out from it)."""
        return self.providers.operator

    async def provider_for(self, guild_id: int) -> Provider:
        """The provider a server's jobs go to; NotAllowed when it has none it may use."""
        return await self.providers.for_guild(guild_id)

    async def resolve_model(
        self, who: Requester, spec_model: str | None, op: Operation, provider: Provider
    ) -> str:
        """The model a job uses: the member's choice, else the server's default, else the bot's."""
        settings = await self.store.get_guild_settings(who.guild_id)
        allowed = settings.allowed_models
        model = spec_model or self.server_default(op, settings, provider)
        if model is None:
            raise NotAllowed(lazy("No model here can do that right now; tell a moderator."))
        if allowed is not None and model not in allowed:
            raise NotAllowed(moderation.not_allowed(model, allowed))
        require_channel(settings, who.channel_id)
        if not spec_model and settings.default_model and model != settings.default_model:
            await self._default_gone(who.guild_id, settings.default_model, model, op, provider)
        return model

    def server_default(
        self, op: Operation, settings: GuildSettings, provider: Provider | None = None
    ) -> str | None:
        """The model a member of this server gets for ``op`` when they pick none, on
        ``provider`` (the server's; default: the operator's)."""
        return self._default(op, settings.default_model, settings.allowed_models, provider)

    def service_default(
        self,
        op: Operation,
        allowed: Collection[str] | None = None,
        provider: Provider | None = None,
    ) -> str:
        """The bot's default for ``op``: the operator's while usable, else the catalog's first."""
        return self._default(op, None, allowed, provider) or moderation.NO_MODEL

    def _default(
        self,
        op: Operation,
        server: str | None,
        allowed: Collection[str] | None,
        provider: Provider | None,
    ) -> str | None:
        provider = provider or self.provider
        wanted = (server, self.default_model, *provider.catalog.preferences.get(op, ()))
        wanted += tuple(spec.name for spec in provider.usable(op))
        for name in wanted:
            if name and (allowed is None or name in allowed) and provider.is_usable(name, op):
                return name
        return None

    async def _default_gone(
        self, guild_id: int, old: str, new: str, op: Operation, provider: Provider
    ) -> None:
        """Tell the server's moderators, once, that its default model is no longer usable."""
        spec = provider.spec(old)
        if spec is None or not spec.can(op) or provider.is_usable(old, op):
            return  # a default that can't do this operation (dall-e-3 and edits) isn't gone
        why = provider.state(spec).why_not or lazy("isn't usable here")  # the provider's words
        text = N_("This server's default model, {old}, {why}. Until a moderator picks another "
                  "with `{command}`, members get {new}.")  # fmt: skip
        command = Command("settings default-model")
        await self._notice(
            guild_id, f"default-gone:{old}", text, old=old, why=why, new=new, command=command
        )

    async def _notice(self, guild_id: int, key: str, text: str, **values: object) -> None:
        """Tell the server's moderators ``text`` (an id marked with N_, filled in with
        ``values`` in the server's language), once per ``key``."""
        for listener in self.notice_listeners:
            try:
                await listener(guild_id, key, text, values)
            except Exception:
                log.warning("A notice listener failed for guild %s", guild_id, exc_info=True)

    async def _own_provider_failed(self, guild_id: int, exc: BaseException) -> None:
        """A server's own provider refused its key or ran out of credit: its moderators hear it,
        once a day (the members are told at every job)."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        if isinstance(exc, AuthenticationFailed):
            text = N_("This server's image service refused its API key, so members' images "
                      "fail. Set a new key with `{command}`.")  # fmt: skip
        else:
            text = N_("This server's image service says its credit has run out, so members' "
                      "images fail. Add credit with the provider, or connect another with "
                      "`{command}`.")  # fmt: skip
        command = Command("settings provider")
        await self._notice(guild_id, f"provider-{type(exc).__name__}:{day}", text, command=command)

    async def admit(self, who: Requester, spec: JobSpec) -> Admission:
        """Every check that can refuse a job, and its credits reserved, before anything is shown.

        Raises ``Refused`` carrying the error and, once the job was stored, its row: a refused job
        is kept (failed, with why) so its member can try it again with the same settings.
        """
        job: Job | None = None
        try:
            if self.drain.closing:
                raise Restarting(RESTARTING)
            provider = await self.provider_for(who.guild_id)
            spec = await presets.admit(self, who, spec, provider)  # preset, then preferences
            model = await self.resolve_model(who, spec.model or None, spec.operation, provider)
            spec = dataclasses.replace(spec, model=model)
            if spec.blend:
                spec = blend.fitted(spec, provider.require(model, spec.operation))
            elif spec.images_found:
                limit = provider.require(model, spec.operation).input.max_images
                spec = dataclasses.replace(spec, images=spec.images[: max(limit, 1)])
            job = await self.store.create_job(
                NewJob(
                    guild_id=who.guild_id,
                    channel_id=who.channel_id,
                    user_id=who.user_id,
                    operation=spec.operation,
                    model=spec.model,
                    prompt=spec.prompt or None,
                    params=spec.stored(),
                    interaction_expires_at=who.interaction_expires_at,
                    requester_name=who.display_name,
                )
            )
            spec = await safety.admit(self, who, spec)  # the server's safety settings
            spec = self.service.check(spec, provider)  # its aspect and detail made a size
            reservation = await self.quotas.reserve(
                guild_id=who.guild_id,
                user_id=who.user_id,
                role_ids=who.role_ids,
                is_moderator=who.is_moderator,
                model=spec.model,
                size=self._reserved_size(spec, provider),
                quality=spec.params.quality,
                n=spec.params.n,
                job_id=job.id,
                like=self._priced_like(spec.model, provider),
            )
        except BaseException as exc:
            if job is not None:
                await self._fail(job, who, exc, refused=True)
            if isinstance(exc, Exception):
                raise Refused(exc, job) from exc
            raise
        self._to_start[job.id] = provider
        self.drain.admitted(job.id)
        return Admission(job, spec, who, reservation, provider)

    def starts_at_once(self, admitted: Admission) -> bool:
        """Whether an admitted job will start without waiting, counting those admitted with it
        (a burst of members all finds the queue empty before any of them has reached it)."""
        queue = admitted.provider.queue
        free = queue.max_concurrent - queue.running
        coming = sum(1 for p in self._to_start.values() if p is admitted.provider)
        return queue.starts_now() and coming <= free

    async def execute(self, admitted: Admission, *, progress: Progress, deliver: Deliver) -> Job:
        """Queue, run and deliver an admitted job; raises ``Refused`` (credits back) when it fails."""
        self.drain.started(admitted.job.id)
        try:
            return await self._run(admitted, progress, deliver)
        finally:
            self.drain.left(admitted.job.id)

    async def _run(self, admitted: Admission, progress: Progress, deliver: Deliver) -> Job:
        job, spec, who, reservation = (
            admitted.job,
            admitted.spec,
            admitted.who,
            admitted.reservation,
        )
        provider = admitted.provider
        try:
            outcome, delivered = await self._execute(job, spec, who, provider, progress, deliver)
        except BaseException as exc:
            await self.abandon(admitted, exc)
            if provider.own and isinstance(exc, AuthenticationFailed | QuotaExhausted):
                await self._own_provider_failed(who.guild_id, exc)
            if (restarting := self.drain.stopped(job.id, exc)) is not None:
                raise Refused(restarting, job) from exc
            if isinstance(exc, Exception) and not isinstance(exc, JobCancelled):
                raise Refused(exc, job) from exc
            raise
        # The member has the images: from here on they are charged, never refunded, whatever
        # fails or whoever cancels this task.
        like = self._priced_like(job.model, provider)
        settled = await self.settlement.settle(job, reservation, outcome, delivered, like=like)
        self._finished(settled, "delivered")
        return settled

    async def abandon(self, admitted: Admission, exc: BaseException) -> None:
        """Give an admitted job's credits back and record why it never ran to delivery."""
        self._to_start.pop(admitted.job.id, None)
        self.drain.dropped(admitted.job.id)
        await asyncio.shield(self.quotas.refund(admitted.reservation))
        await self._fail(admitted.job, admitted.who, exc)

    async def _execute(
        self,
        job: Job,
        spec: JobSpec,
        who: Requester,
        provider: Provider,
        progress: Progress,
        deliver: Deliver,
    ) -> tuple[Outcome, Delivered]:
        async def on_position(position: int) -> None:
            await progress.queued(job, position)

        self._to_start.pop(job.id, None)  # it reaches the queue now: no await until it is in it
        self.drain.may_queue(job.id)
        async with (
            provider.queue.slot(
                who.guild_id, who.user_id, ticket=str(job.id), on_position=on_position
            ),
            provider.gate.slot(),
        ):
            started = time.monotonic()
            # The status write and the "working on it" edit run beside the API call rather than
            # holding the slot; both land before the result is delivered.
            beside = asyncio.gather(
                self.store.mark_running(who.guild_id, job.id), progress.running(job)
            )
            error: BaseException | None = None
            try:
                outcome = await self.service.run(
                    spec,
                    member=who.user_id,
                    on_partial=lambda image: progress.partial(job, image),
                    provider=provider,
                )
            except BaseException as exc:
                error = exc
                if isinstance(exc, RateLimited):
                    # The provider is saturated for everyone it serves: pause it (for every
                    # process sending to it) instead of failing job after job.
                    await provider.gate.pause(exc.retry_after or DEFAULT_BACKOFF)
                raise
            finally:
                if not isinstance(error, asyncio.CancelledError):  # a stopped call isn't timed
                    self._called(job, time.monotonic() - started, error)
                await beside
            took = time.monotonic() - started
            self._durations.append(took)
            log.info("job %s: %d image(s) from %s in %.1f s",
                     job.id, len(outcome.result.images), spec.model, took)  # fmt: skip
        # Priced as the settlement will charge it: by what was made ("auto" resolved).
        credits = await self.quotas.price(
            who.guild_id,
            spec.model,
            outcome.size,
            outcome.quality,
            len(outcome.result.images),
            like=self._priced_like(spec.model, provider),
        )
        self.drain.delivering(job.id)
        return outcome, await deliver(job, outcome, credits)

    def _reserved_size(self, spec: JobSpec, provider: Provider) -> str | None:
        """The size credits are held for: an edit with no size follows its photo's shape, so it
        holds the largest that shape can get (the charge, at the size made, gives the rest back)."""
        if spec.params.size or spec.operation == "generate":
            return spec.params.size
        model = provider.spec(spec.model)
        return largest_size(model, spec.operation, spec.params.detail) if model else None

    def _priced_like(self, model: str, provider: Provider) -> tuple[str, ...]:
        """The models ``model`` is like, nearest first: its prices follow theirs when it has none."""
        spec = provider.spec(model)
        return spec.lineage if spec else ()

    async def _fail(
        self, job: Job, who: Requester, exc: BaseException, *, refused: bool = False
    ) -> None:
        if isinstance(exc, JobCancelled | asyncio.CancelledError):
            await asyncio.shield(self.store.mark_cancelled(job.guild_id, job.id))
            self._finished(job, "cancelled")
            return
        kind = exc.kind if isinstance(exc, BotError) else "internal"
        await asyncio.shield(self.store.mark_failed(job.guild_id, job.id, kind))
        self._finished(job, "refused" if refused else f"failed_{kind}")
        for listener in self.failure_listeners:
            try:
                await listener(job, who, exc)
            except Exception:
                log.warning("A failure listener failed for job %s", job.id, exc_info=True)

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued job (its credits are refunded by the job's own task)."""
        return any(provider.queue.cancel(str(job_id)) for provider in self.providers.all())

    def _finished(self, job: Job, outcome: str) -> None:
        _tell(self.finished_listeners, job, outcome)

    def _called(self, job: Job, seconds: float, error: BaseException | None) -> None:
        _tell(self.call_listeners, job, seconds, error)

    async def recover(self) -> list[Job]:
        """Close the jobs that processes which are gone left queued or running; return them."""
        return await self.store.fail_stale_jobs()


def _tell(listeners: Sequence[Callable[..., None]], job: Job, *args: object) -> None:
    """Hand ``job`` to each counting listener; one that fails is logged, never the job's."""
    for listener in listeners:
        try:
            listener(job, *args)
        except Exception:
            log.warning("A job listener failed for job %s", job.id, exc_info=True)
