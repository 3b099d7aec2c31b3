"""What /favourites and /show say: the member's saved jobs, and why a job can't be shown again.

A job is shown again by whoever made it, whoever saved it (they saw it where it was posted), or a
moderator; and only where its images may be seen: a job made with moderation low only in an
age-restricted channel, like the job itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.moderation import COMMAND_OF, quoted
from bot.store.models import IN_FLIGHT, Favourite, Job
from bot.words import plural

PER_PAGE = 20  # favourites on one page of /favourites
PROMPT_LIMIT = 90
TITLE = "Your favourites"
NONE_SAVED = "You haven't saved anything yet. Press ⭐ Save under a result to keep it here."
SHOW_HINT = "Post one again with `/show job:<number>`."
REROLL_HINT = "Re-roll makes new ones with the same settings; it is charged like a new job."


def favourite_line(favourite: Favourite) -> str:
    """One saved job: its number for /show, the model, when it was made, the prompt quoted."""
    job = favourite.job
    command = COMMAND_OF.get(job.operation, job.operation)
    line = f"**#{job.id}** · /{command} · {job.model} · made <t:{int(job.created_at)}:R>"
    if job.prompt:
        line += "\n> " + quoted(job.prompt, PROMPT_LIMIT)
    return line


def favourites_title(page: int, total: int) -> str:
    """ "Your favourites (12)", with the page when they fill several."""
    pages = max(math.ceil(total / PER_PAGE), 1)
    return f"{TITLE} ({total})" if pages == 1 else f"{TITLE} ({total}), page {page} of {pages}"


def favourites_lines(page: int, total: int, saved: Sequence[Favourite]) -> list[str]:
    """The lines of one page of /favourites, or what to say when it has none."""
    if total == 0:
        return [NONE_SAVED]
    if not saved:
        pages = math.ceil(total / PER_PAGE)
        return [
            f"There is no page {page}: your {plural(total, 'favourite', 'favourites')} "
            f"fill {plural(pages, 'page', 'pages')}."
        ]
    return [*map(favourite_line, saved), SHOW_HINT]


def not_found(job_id: int) -> str:
    """A job number that names no job of this server."""
    return f"There is no job {job_id} on this server."


def not_yours(job_id: int) -> str:
    """A member asked to show someone else's job."""
    return (
        f"Job {job_id} is someone else's. You can show your own jobs and the ones you saved; "
        "moderators can show any."
    )


def unshowable(job: Job, *, age_restricted: bool) -> str | None:
    """Why the job's images can't be posted again here; None when they can."""
    if job.status in IN_FLIGHT:
        return f"Job {job.id} is still being made; its images are posted when they're ready."
    if job.status != "succeeded":
        return None  # said with the offer to re-roll: see ``no_images``
    if job.params.get("moderation") == "low" and not age_restricted:
        return (
            f"Job {job.id} was made with moderation low, which this server allows only in "
            "age-restricted channels. Use /show in one of those."
        )
    return None


def no_images(job: Job) -> str:
    """A job with nothing to post again: it didn't finish, or its result was deleted."""
    if job.status != "succeeded":
        why = f"Job {job.id} didn't finish ({job.status}), so it has no images to show."
    else:
        why = f"The result of job {job.id} has been deleted, so I can't show its images."
    return f"{why} {REROLL_HINT}"


def shown_again(job: Job, link: str) -> str:
    """The line above a job posted again: which job, when it was made, where it first was."""
    return f"Job {job.id}, first posted <t:{int(job.created_at)}:R>: {link}"
