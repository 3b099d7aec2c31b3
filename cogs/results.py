"""A finished job as a Discord message: what its embed says, its buttons, and fitting the upload.

Discord may refuse a result as too large even under the per-file limit (it counts the whole
message); the images are then shrunk and sent again, and the note says why without inventing a
limit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot import views
from bot.errors import BotError
from bot.i18n import Words, lazy
from bot.images.types import GeneratedImage
from bot.provider import Provider
from bot.render import ResultInfo
from bot.service import JobSpec, Outcome
from bot.settlement import Delivered
from bot.store.models import Job

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
Images = tuple[GeneratedImage, ...]

TOO_LARGE = 40005
UPLOAD_TRIES = 3


def result_view(provider: Provider, job: Job, count: int, locale: str = "en") -> discord.ui.View:
    """The result's buttons; Vary only when some model of the job's provider can make variations."""
    can_vary = bool(provider.usable("variation"))
    return views.result_view(job.id, count, can_vary=can_vary, locale=locale)


def result_info(
    job: Job,
    spec: JobSpec,
    outcome: Outcome,
    credits: int | None,
    requester_name: str,
    *,
    spoiler: bool = False,
    locale: str = "en",
) -> ResultInfo:
    """What the result embed says about a job (``spoiler``: its files are posted as spoilers)."""
    first = outcome.requests[0] if outcome.requests else None
    return ResultInfo(
        job_id=job.id,
        operation=spec.operation,
        model=spec.model,
        prompt=spec.prompt,
        size=outcome.size,
        quality=outcome.quality,
        style=first.params.style if first else None,
        credits=credits,
        requester=requester_name,
        notes=outcome.notes,
        spoiler=spoiler,
        preset=spec.preset if spec.template else None,
        locale=locale,
    )


async def upload_shrinking(
    services: Services,
    job: Job,
    outcome: Outcome,
    info: ResultInfo,
    limit: int,
    send: Callable[[ResultInfo, Images, Job], Awaitable[Delivered]],
) -> Delivered:
    """Send the result; when Discord says it is too large, shrink the images and try again."""
    total: int | None = None
    for _ in range(UPLOAD_TRIES):
        fitted = await services.service.fit_for_upload(
            outcome.result, limit, total, total_known=total is None
        )
        try:
            return await send(_with_notes(info, fitted.notes), fitted.images, job)
        except discord.HTTPException as exc:
            if exc.code == TOO_LARGE or exc.status == 413:
                log.info("job %s: Discord refused the upload as too large; shrinking", job.id)
                # Halve what was refused: it can be well under the per-file limit (Discord
                # counts the whole message), so shrinking against that limit would change nothing.
                total = sum(len(image.data) for image in fitted.images) // 2
                continue
            raise
    raise BotError(lazy("Discord refused the images as too large, even after shrinking them."))


def _with_notes(info: ResultInfo, notes: tuple[Words, ...]) -> ResultInfo:
    return dataclasses.replace(info, notes=info.notes + notes) if notes else info
