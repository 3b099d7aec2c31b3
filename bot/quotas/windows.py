"""Quota windows aligned to UTC: the hour, the day, the ISO week (from Monday), the month."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.i18n import N_, SOURCE, Text, lazy, lazy_n, t
from bot.store import Window

_PERIOD: dict[Window, str] = {
    "hour": N_("this hour"),
    "day": N_("today"),
    "week": N_("this week"),
    "month": N_("this month"),
}
# A count per window, whole, so that each language puts the count and the window its own way.
_CREDITS_PER: dict[Window, Callable[[int], Text]] = {
    "hour": lambda n: lazy_n("{count} credit per hour", "{count} credits per hour", n),
    "day": lambda n: lazy_n("{count} credit per day", "{count} credits per day", n),
    "week": lambda n: lazy_n("{count} credit per week", "{count} credits per week", n),
    "month": lambda n: lazy_n("{count} credit per month", "{count} credits per month", n),
}
_IMAGES_PER: dict[Window, Callable[[int, str], Text]] = {
    "hour": lambda n, model: lazy_n(
        "{count} image of {model} per hour", "{count} images of {model} per hour", n, model=model
    ),
    "day": lambda n, model: lazy_n(
        "{count} image of {model} per day", "{count} images of {model} per day", n, model=model
    ),
    "week": lambda n, model: lazy_n(
        "{count} image of {model} per week", "{count} images of {model} per week", n, model=model
    ),
    "month": lambda n, model: lazy_n(
        "{count} image of {model} per month",
        "{count} images of {model} per month",
        n,
        model=model,
    ),
}


def window_start(window: Window, now: float) -> int:
    """Unix time at which the window containing ``now`` began."""
    moment = datetime.fromtimestamp(now, UTC)
    if window == "hour":
        start = moment.replace(minute=0, second=0, microsecond=0)
    elif window == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif window == "week":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())
    else:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp())


def window_end(window: Window, now: float) -> int:
    """Unix time at which the window containing ``now`` ends (the next one begins)."""
    start = datetime.fromtimestamp(window_start(window, now), UTC)
    if window == "hour":
        end = start + timedelta(hours=1)
    elif window == "day":
        end = start + timedelta(days=1)
    elif window == "week":
        end = start + timedelta(weeks=1)
    elif start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return int(end.timestamp())


def period_words(window: Window, locale: str = SOURCE) -> str:
    """How a member reads the window: "today", "this week"... (English without ``locale``)."""
    return t(locale, _PERIOD[window])


def period(window: Window) -> Text:
    """The window as ``period_words`` says it, put in the reader's language where it is shown."""
    return lazy(_PERIOD[window])


def credits_per(count: int, window: Window) -> Text:
    """ "20 credits per day": a limit or budget and its window, in the reader's language."""
    return _CREDITS_PER[window](count)


def images_per(count: int, model: str, window: Window) -> Text:
    """ "10 images of gpt-image-2 per day": a limit given in images, in the reader's language."""
    return _IMAGES_PER[window](count, model)


def relative_time(unix: float) -> str:
    """A Discord timestamp that every client shows as "in 3 hours" in its own language."""
    return f"<t:{int(unix)}:R>"
