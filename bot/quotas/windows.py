"""Quota windows aligned to UTC: the hour, the day, the ISO week (from Monday), the month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.i18n import N_, SOURCE, t
from bot.store import Window

_PERIOD: dict[Window, str] = {
    "hour": N_("this hour"),
    "day": N_("today"),
    "week": N_("this week"),
    "month": N_("this month"),
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


def relative_time(unix: float) -> str:
    """A Discord timestamp that every client shows as "in 3 hours" in its own language."""
    return f"<t:{int(unix)}:R>"
