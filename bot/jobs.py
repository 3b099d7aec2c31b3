"""One member job from request to delivery: policy, quota, queue, API, delivery, ledger.

Credits are reserved before anything is spent and become usage only once the images have been
delivered; every failure on the way (refused input, API error, Discord error, cancel, crash) gives
them back and records why in the job's audit row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from bot.errors import BotError, NotAllowed, RateLimited
from bot.images.types import Operation
from bot.provider import Provider
from bot.quotas import QuotaEngine
from bot.scheduler import JobCancelled, Scheduler
from bot.service import ImageService, JobSpec, Outcome
from bot.store import Store
from bot.store.models import GuildSettings, Job, NewJob

log = logging.getLogger(__name__)
# A job older than this can't still be running anywhere (timeouts and retries end sooner), and
# matches how long quota reservations live.
STALE_AFTER = 30 * 60.0
DEFAULT_BACKOFF = 2.0  # seconds the queue pauses after a 429 that named no wait


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


class Progress(Protocol):
    """How a job tells its member where it stands."""

    async def queued(self, job: Job, position: int) -> None: ...

    async def running(self, job: Job) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the result message went."""

    channel_id: int
    message_id: int


Deliver = Callable[[Job, Outcome, int], Awaitable[Delivered]]
# Told about every job that failed, e.g. to post safety rejections to a moderation log.
FailureListener = Callable[[Job, Requester, BaseException], Awaitable[None]]
# Told what a server's moderators should hear once: (guild id, key that makes it once, text).
NoticeListener = Callable[[int, str, str], Awaitable[None]]


class JobRunner:
    """Runs jobs through policy, quotas, the scheduler and the image service."""

    def __init__(
        self,
        service: ImageService,
        store: Store,
        quotas: QuotaEngine,
        scheduler: Scheduler,
        *,
        default_model: str | None = None,
    ) -> None:
        self.default_model = default_model
        self.failure_listeners: list[FailureListener] = []
        self.notice_listeners: list[NoticeListener] = []
        self.service = service
        self.store = store
        self.quotas = quotas
        self.scheduler = scheduler

    @property
    def provider(self) -> Provider:
        return self.service.provider

    async def resolve_model(self, who: Requester, spec_model: str | None, op: Operation) -> str:
        """The model a job uses: the member's choice, else the server's default, else the bot's."""
        settings = await self.store.get_guild_settings(who.guild_id)
        allowed = settings.allowed_models
        model = spec_model or self.server_default(op, settings)
        if model is None:
            raise NotAllowed("No model here can do that right now; tell a moderator.")
        if allowed is not None and model not in allowed:
            listed = ", ".join(allowed) or "none"
            raise NotAllowed(f"{model} isn't allowed on this server. Allowed models: {listed}.")
        if settings.allowed_channel_ids and who.channel_id not in settings.allowed_channel_ids:
            channels = " ".join(f"<#{c}>" for c in settings.allowed_channel_ids)
            raise NotAllowed(f"I can only be used in {channels} on this server.")
        if not spec_model and settings.default_model and model != settings.default_model:
            await self._default_gone(who.guild_id, settings.default_model, model, op)
        return model

    def server_default(self, op: Operation, settings: GuildSettings) -> str | None:
        """The model a member of this server gets for ``op`` when they pick none."""
        return self._default(op, settings.default_model, settings.allowed_models)

    def service_default(self, op: Operation, allowed: Collection[str] | None = None) -> str:
        """The bot's default for ``op``: the operator's while usable, else the catalog's first."""
        return self._default(op, None, allowed) or "no model"

    def _default(
        self, op: Operation, server: str | None, allowed: Collection[str] | None
    ) -> str | None:
        provider = self.provider
        wanted = (server, self.default_model, *provider.catalog.preferences.get(op, ()))
        wanted += tuple(spec.name for spec in provider.usable(op))
        for name in wanted:
            if name and (allowed is None or name in allowed) and provider.is_usable(name, op):
                return name
        return None

    async def _default_gone(self, guild_id: int, old: str, new: str, op: Operation) -> None:
        """Tell the server's moderators, once, that its default model is no longer usable."""
        provider = self.provider
        spec = provider.spec(old)
        if spec is None or not spec.can(op) or provider.is_usable(old, op):
            return  # a default that can't do this operation (dall-e-3 and edits) isn't gone
        why = provider.state(spec).why_not or "isn't usable here"
        text = (f"This server's default model, {old}, {why}. Until a moderator picks another "
                f"with `/settings default-model`, members get {new}.")  # fmt: skip
        for listener in self.notice_listeners:
            try:
                await listener(guild_id, f"default-gone:{old}", text)
            except Exception:
                log.warning("A notice listener failed for guild %s", guild_id, exc_info=True)

    async def run(
        self, who: Requester, spec: JobSpec, *, progress: Progress, deliver: Deliver
    ) -> Job:
        """Run a job to delivery; raises BotError (with credits refunded) when it can't."""
        model_spec = self.service.check(spec)
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
        try:
            reservation = await self.quotas.reserve(
                guild_id=who.guild_id,
                user_id=who.user_id,
                role_ids=who.role_ids,
                is_moderator=who.is_moderator,
                model=spec.model,
                size=spec.params.size,
                quality=spec.params.quality,
                n=spec.params.n,
                job_id=job.id,
                like=model_spec.lineage,
            )
        except BaseException as exc:
            await self._fail(job, who, exc)
            raise
        try:
            outcome, delivered = await self._execute(job, spec, who, progress, deliver)
        except BaseException as exc:
            await asyncio.shield(self.quotas.refund(reservation))
            await self._fail(job, who, exc)
            raise
        result = outcome.result
        settled = await self.quotas.commit(
            reservation,
            actual_n=len(result.images),
            usage=result.usage,
            size=result.size,
            quality=result.quality,
            like=model_spec.lineage,
        )
        revised = next((i.revised_prompt for i in result.images if i.revised_prompt), None)
        finished = await self.store.mark_succeeded(
            who.guild_id,
            job.id,
            revised_prompt=revised,
            usage=result.usage,
            credits=settled.charged if settled else reservation.credits,
            result_channel_id=delivered.channel_id,
            result_message_id=delivered.message_id,
        )
        return finished or job

    async def _execute(
        self, job: Job, spec: JobSpec, who: Requester, progress: Progress, deliver: Deliver
    ) -> tuple[Outcome, Delivered]:
        async def on_position(position: int) -> None:
            await progress.queued(job, position)

        async with self.scheduler.slot(
            who.guild_id, who.user_id, ticket=str(job.id), on_position=on_position
        ):
            started = time.monotonic()
            # The status write and the "working on it" edit run beside the API call rather than
            # holding the slot; both land before the result is delivered.
            beside = asyncio.gather(
                self.store.mark_running(who.guild_id, job.id), progress.running(job)
            )
            try:
                outcome = await self.service.run(spec, member=who.user_id)
            except RateLimited as exc:
                # The API is saturated for everyone: hold the queue instead of failing job after job.
                self.scheduler.backoff(exc.retry_after or DEFAULT_BACKOFF)
                raise
            finally:
                await beside
            log.info(
                "job %s: %d image(s) from %s in %.1f s",
                job.id,
                len(outcome.result.images),
                spec.model,
                time.monotonic() - started,
            )
        # Priced as commit() will charge it: by what the API says it made ("auto" resolved).
        model_spec = self.provider.spec(spec.model)
        lineage = model_spec.lineage if model_spec else ()
        result = outcome.result
        credits = await self.quotas.price(
            who.guild_id,
            spec.model,
            result.size or spec.params.size,
            result.quality or spec.params.quality,
            len(result.images),
            like=lineage,
        )
        return outcome, await deliver(job, outcome, credits)

    async def _fail(self, job: Job, who: Requester, exc: BaseException) -> None:
        if isinstance(exc, JobCancelled | asyncio.CancelledError):
            await asyncio.shield(self.store.mark_cancelled(job.guild_id, job.id))
            return
        kind = exc.kind if isinstance(exc, BotError) else "internal"
        await asyncio.shield(self.store.mark_failed(job.guild_id, job.id, kind))
        for listener in self.failure_listeners:
            try:
                await listener(job, who, exc)
            except Exception:
                log.warning("A failure listener failed for job %s", job.id, exc_info=True)

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued job (its credits are refunded by the job's own task)."""
        return self.scheduler.cancel(str(job_id))

    async def recover(self, *, shared_database: bool = False) -> list[Job]:
        """Close jobs a stopped process left queued or running (with others: only old ones)."""
        cutoff = time.time() - STALE_AFTER if shared_database else None
        return await self.store.fail_stale_jobs(created_before=cutoff)
