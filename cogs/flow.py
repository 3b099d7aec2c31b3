"""One job's life in Discord, however it was asked for: checks, progress, previews, the result.

The order is what members see:
1. Every check that can refuse the job (limits, quota, cooldown, jobs in flight, declared sizes)
   runs before anything is posted; a refusal is told to the member only.
2. A public progress message shows the prompt, model, size and count, then the place in the queue
   with an estimate, then how long it has been running, then each partial image as it streams.
3. The result is a new message mentioning the member (Discord notifies for mentions in new
   messages, not in edits), and the progress message goes away.
4. A failure on the way removes the progress message and tells the member privately: why, their
   prompt quoted back, that nothing was charged, and a Try again button that survives a restart.

Where the messages go is a ``Surface``: an interaction (cogs/delivery.py) or a reply
(cogs/reply.py). Everything else lives here, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import discord

from bot import render, views
from bot.errors import BotError
from bot.i18n import lazy
from bot.images.types import PartialImage
from bot.jobs import Admission, Refused, Requester
from bot.provider import Provider
from bot.render import ProgressInfo, ResultInfo, Stage
from bot.scheduler import JobCancelled
from bot.service import JobSpec, Outcome
from bot.settlement import Delivered
from bot.store.models import Job
from cogs.common import Files, member_message
from cogs.results import Images, result_info, result_view, upload_shrinking

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)


class InteractionGone(BotError):
    """Discord no longer knows the interaction: its 3-second window to answer was missed."""

    kind = "expired"

    def __init__(self) -> None:
        super().__init__(
            lazy(
                "Your request timed out at Discord before I could answer it (Discord allows 3 "
                "seconds), so I didn't make anything."
            )
        )


class Surface(Protocol):
    """Where one job's messages go."""

    member: discord.User | discord.Member
    filesize_limit: int

    async def in_time(self, work: Awaitable[Admission]) -> Admission:
        """``work`` awaited, answering Discord in time if it is slow."""
        ...

    async def show(
        self, embed: discord.Embed, view: discord.ui.View | None, files: list[discord.File]
    ) -> None:
        """Post the public progress message the first time, edit it afterwards."""
        ...

    async def remove(self) -> None:
        """Take the progress message (and any private placeholder) away."""
        ...

    async def post_result(
        self, content: str, embed: discord.Embed, files: Files, view: discord.ui.View
    ) -> discord.Message:
        """Send the result as a new message that pings the member (and only them)."""
        ...

    async def tell(self, embed: discord.Embed, view: discord.ui.View | None, files: Files) -> None:
        """Tell the member something nobody else should see."""
        ...


@dataclasses.dataclass(slots=True)
class _Update:
    stage: Stage
    files: list[discord.File] = dataclasses.field(default_factory=list)


class Updates:
    """The edits of one progress message: one at a time, and only the newest waiting one.

    Nothing here waits in the caller: the scheduler (which paces queue places) and the stream
    hand an update over and go on, so a slow Discord never holds up a job.
    """

    def __init__(self, apply: Callable[[_Update], Awaitable[None]]) -> None:
        self._apply = apply
        self._pending: _Update | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def push(self, update: _Update) -> None:
        if self._closed:
            return
        self._pending = update
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="progress-updates")

    async def _drain(self) -> None:
        while (update := self._pending) is not None:
            self._pending = None
            try:
                await self._apply(update)
            except discord.HTTPException as exc:  # progress is a courtesy: never fail the job
                log.info("Could not show a job's progress (%s, code %s)", exc.status, exc.code)

    async def close(self) -> None:
        """Drop what is waiting and let an edit in flight land (so it can't follow the result)."""
        self._closed = True
        self._pending = None
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


class JobFlow:
    """Admits, shows, runs and delivers one job on a surface, and tells its member if it fails."""

    def __init__(self, surface: Surface, services: Services, who: Requester, spec: JobSpec):
        self.surface = surface
        self.services = services
        self.who = who
        self.spec = spec
        self.info: ProgressInfo | None = None
        self.stage = Stage()
        self.updates = Updates(self._apply)
        self.provider: Provider | None = None  # where the job goes, once admitted

    async def run(self) -> None:
        """The whole job; never raises for a refusal or failure (the member is told instead)."""
        jobs = self.services.jobs
        try:
            admitted = await self.surface.in_time(jobs.admit(self.who, self.spec))
        except Refused as refused:
            await self._failed(refused.error, refused.job)
            return
        self.spec, self.provider = admitted.spec, admitted.provider
        try:
            await self._show_first(admitted)
        except InteractionGone as gone:
            log.warning(
                "Discord's 3-second window to answer an interaction was missed (user %s, job %s);"
                " the job was not run",
                self.who.user_id,
                admitted.job.id,
            )
            await jobs.abandon(admitted, gone)
            await self._failed(gone, admitted.job)
            return
        except Exception as exc:
            await jobs.abandon(admitted, exc)
            await self._failed(exc, admitted.job)
            return
        try:
            await jobs.execute(admitted, progress=self, deliver=self.deliver)
        except JobCancelled:
            # The Cancel button told whoever clicked it; the runner refunded.
            log.info("Queued job %s of %s was cancelled", admitted.job.id, self.who.user_id)
            await self.updates.close()
            await self.surface.remove()
        except Refused as refused:
            await self.updates.close()
            await self.surface.remove()
            await self._failed(refused.error, refused.job)

    async def _show_first(self, admitted: Admission) -> None:
        job = admitted.job
        spec = self.spec
        self.info = ProgressInfo(
            job_id=job.id,
            operation=spec.operation,
            model=spec.model,
            prompt=spec.prompt,
            size=spec.params.size,
            n=spec.params.n,
            requester=self.who.display_name,
            locale=self.who.locale,
        )
        # A job that will start at once shows "making" straight away: one edit fewer per job.
        if self.services.jobs.starts_at_once(admitted):
            self.stage = Stage(running=True, started_at=time.time())
        embed = render.progress_embed(self.info, self.stage)
        await self.surface.show(embed, self._view(job), [])

    def _view(self, job: Job) -> discord.ui.View | None:
        return None if self.stage.running else views.cancel_view(job.id, self.who.locale)

    # --- Progress (called by the job runner) -------------------------------------------------

    async def queued(self, job: Job, position: int) -> None:
        if self.stage.running:
            return
        assert self.provider is not None
        estimate = self.services.jobs.estimate(position, self.provider)
        done_at = time.time() + estimate if estimate is not None else None
        self.stage = Stage(position=position, done_at=done_at)
        # The scheduler already paces places (bot/scheduler.py, _every): shown as they come.
        self.updates.push(_Update(self.stage))

    async def running(self, job: Job) -> None:
        if self.stage.running:
            return
        self.stage = Stage(running=True, started_at=time.time())
        self.updates.push(_Update(self.stage))

    async def partial(self, job: Job, image: PartialImage) -> None:
        if len(image.data) > self.surface.filesize_limit:
            return  # a preview is a courtesy; the result gets the care of shrinking
        spoiler = self.who.spoiler
        name = render.preview_name(image.format, spoiler=spoiler)
        self.stage = dataclasses.replace(
            self.stage, running=True, started_at=self.stage.started_at or time.time(), preview=name
        )
        self.updates.push(_Update(self.stage, [render.preview_file(image, spoiler=spoiler)]))

    async def _apply(self, update: _Update) -> None:
        assert self.info is not None
        view = (
            None if update.stage.running else views.cancel_view(self.info.job_id, self.info.locale)
        )
        await self.surface.show(render.progress_embed(self.info, update.stage), view, update.files)

    # --- Delivery ----------------------------------------------------------------------------

    async def deliver(self, job: Job, outcome: Outcome, credits: int) -> Delivered:
        await self.updates.close()
        who = self.who
        info = result_info(
            job, self.spec, outcome, credits, who.display_name, spoiler=who.spoiler,
            locale=who.locale,
        )  # fmt: skip
        delivered = await upload_shrinking(
            self.services, job, outcome, info, self.surface.filesize_limit, self._send
        )
        await self.surface.remove()
        return delivered

    async def _send(self, info: ResultInfo, images: Images, job: Job) -> Delivered:
        assert self.provider is not None
        view = result_view(self.provider, job, len(images), self.who.locale)
        message = await self.surface.post_result(
            render.ready_text(self.surface.member.mention, len(images), self.who.locale),
            render.result_embed(info, images),
            lambda: render.result_files(info, images),
            view,
        )
        return Delivered(message.channel.id, message.id)

    # --- Failure -----------------------------------------------------------------------------

    async def _failed(self, error: BaseException, job: Job | None) -> None:
        context = f"{self.spec.operation} job {job.id if job else '-'} (user {self.who.user_id})"
        lang = self.who.locale
        text = member_message(error, context, lang)
        prompt = self.spec.prompt
        embed = render.failure_embed(text, prompt, locale=lang)
        view = views.failure_view(job.id, has_prompt=bool(prompt), locale=lang) if job else None
        await self.surface.tell(embed, view, lambda: render.prompt_file(prompt))
