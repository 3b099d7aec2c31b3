"""What /favourites and /show say: the member's saved jobs, and why a job can't be shown again.

A job is shown again by whoever made it, whoever saved it (they saw it where it was posted), or a
moderator; and only where its images may be seen: a job made with moderation low only in an
age-restricted channel, like the job itself. Refusals are lazy ``Text``; what is listed takes
the member's ``locale``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.i18n import N_, SOURCE, Command, Text, lazy, t, tn
from bot.moderation import COMMAND_OF, quoted
from bot.quotas.windows import relative_time
from bot.store.models import IN_FLIGHT, Favourite, Job

PER_PAGE = 20  # favourites on one page of /favourites
PROMPT_LIMIT = 90
NONE_SAVED = N_("You haven't saved anything yet. Press ⭐ Save under a result to keep it here.")
SHOW_HINT = N_("Post one again with `{command}:<number>`.")


def favourite_line(favourite: Favourite, locale: str = SOURCE) -> str:
    """One saved job: its number for /show, the command, the model, when it was made, the
    prompt quoted."""
    job = favourite.job
    command = COMMAND_OF.get(job.operation)
    line = t(
        locale,
        "**#{job}** · {command} · {model} · made {when}",
        job=job.id,
        command=Command(command) if command else job.operation,
        model=job.model,
        when=relative_time(job.created_at),
    )
    if job.prompt:
        line += "\n> " + quoted(job.prompt, PROMPT_LIMIT)
    return line


def favourites_title(page: int, total: int, locale: str = SOURCE) -> str:
    """ "Your favourites (12)", with the page when they fill several."""
    pages = max(math.ceil(total / PER_PAGE), 1)
    if pages == 1:
        return t(locale, "Your favourites ({count})", count=total)
    return t(
        locale,
        "Your favourites ({count}), page {page} of {pages}",
        count=total,
        page=page,
        pages=pages,
    )


def favourites_lines(
    page: int, total: int, saved: Sequence[Favourite], locale: str = SOURCE
) -> list[str]:
    """The lines of one page of /favourites, or what to say when it has none, in ``locale``."""
    if total == 0:
        return [t(locale, NONE_SAVED)]
    if not saved:
        pages = tn(locale, "{count} page", "{count} pages", math.ceil(total / PER_PAGE))
        return [
            tn(
                locale,
                "There is no page {page}: your {count} favourite fills {pages}.",
                "There is no page {page}: your {count} favourites fill {pages}.",
                total,
                page=page,
                pages=pages,
            )
        ]
    lines = [favourite_line(favourite, locale) for favourite in saved]
    return [*lines, t(locale, SHOW_HINT, command=Command("show job"))]


def not_found(job_id: int) -> Text:
    """A job number that names no job of this server."""
    return lazy("There is no job {job} on this server.", job=job_id)


def not_yours(job_id: int) -> Text:
    """A member asked to show someone else's job."""
    return lazy(
        "Job {job} is someone else's. You can show your own jobs and the ones you saved; "
        "moderators can show any.",
        job=job_id,
    )


def unshowable(job: Job, *, age_restricted: bool) -> Text | None:
    """Why the job's images can't be posted again here; None when they can."""
    if job.status in IN_FLIGHT:
        return lazy(
            "Job {job} is still being made; its images are posted when they're ready.", job=job.id
        )
    if job.status != "succeeded":
        return None  # said with the offer to re-roll: see ``no_images``
    if job.params.get("moderation") == "low" and not age_restricted:
        return lazy(
            "Job {job} was made with moderation low, which this server allows only in "
            "age-restricted channels. Use {command} in one of those.",
            job=job.id,
            command=Command("show"),
        )
    return None


def no_images(job: Job) -> Text:
    """A job with nothing to post again: it didn't finish, or its result was deleted; either
    way Re-roll can make new ones."""
    if job.status != "succeeded":
        return lazy(
            "Job {job} didn't finish ({status}), so it has no images to show. Re-roll makes new "
            "ones with the same settings; it is charged like a new job.",
            job=job.id,
            status=job.status,
        )
    return lazy(
        "The result of job {job} has been deleted, so I can't show its images. Re-roll makes "
        "new ones with the same settings; it is charged like a new job.",
        job=job.id,
    )


def shown_again(job: Job, link: str, locale: str = SOURCE) -> str:
    """The line above a job posted again: which job, when it was made, where it first was."""
    return t(
        locale,
        "Job {job}, first posted {when}: {link}",
        job=job.id,
        when=relative_time(job.created_at),
        link=link,
    )
