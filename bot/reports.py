"""Usage reports for moderators: a bar chart PNG and a CSV of the ledger.

Both are synchronous (Pillow and csv are CPU work): call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from PIL import Image, ImageDraw, ImageFont

from bot.quotas.usage import UsageSummary
from bot.store import Reservation

CHART_SIZE = (960, 480)
CSV_HEADER = (
    "reservation_id",
    "job_id",
    "created_at_utc",
    "user_id",
    "model",
    "size",
    "quality",
    "images",
    "credits",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",  # at list prices when settled (bot/prices.toml); empty: no price known
)
MEMBERS_HEADER = ("user_id", "member", "credits", "images", "requests")
UNKNOWN_MEMBER = "(unknown)"  # no request of theirs carried a name and they aren't cached
# A cell starting with one of these runs as a formula in a spreadsheet (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Discord's dark theme, so the chart sits well in an embed.
_BACKGROUND = (49, 51, 56)
_GRID = (78, 80, 88)
_TEXT = (219, 222, 225)
_MUTED = (148, 155, 164)
_BAR = (88, 101, 242)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 72, 24, 64, 56

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> _Font:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _nice_ceiling(value: int) -> tuple[int, int]:
    """A round top for the y axis at or above ``value``, and a 1/2/5 step of at most 5 lines."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if math.ceil(value / (step * factor)) <= 5:
                return max(step * factor * math.ceil(value / (step * factor)), step), step * factor
        step *= 10


def usage_chart_png(summary: UsageSummary) -> bytes:
    """A labelled bar chart of credits spent per UTC day in the summary's window, as PNG."""
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    title, small = _font(22), _font(15)
    draw.text(
        (_MARGIN_LEFT, 18), f"Credits spent per day (UTC), this {summary.window}", _TEXT, title
    )
    total = f"{summary.total_credits} credits, {summary.total_images} images"
    draw.text((width - _MARGIN_RIGHT, 22), total, _MUTED, small, anchor="ra")
    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    peak = max((credits for _, credits in summary.by_day), default=0)
    axis_top, step = _nice_ceiling(peak)
    for tick in range(0, axis_top + 1, step):
        y = bottom - (bottom - top) * tick / axis_top
        draw.line([(left, y), (right, y)], _GRID, 1)
        draw.text((left - 8, y), str(tick), _MUTED, small, anchor="rm")
    days = summary.by_day
    if not days:
        draw.text(((left + right) / 2, (top + bottom) / 2), "No spend yet", _MUTED, title, "mm")
        return _png(image)
    slot = (right - left) / len(days)
    label_every = max(1, math.ceil(len(days) / 16))
    for index, (day, credits) in enumerate(days):
        x0 = left + index * slot + slot * 0.15
        x1 = left + (index + 1) * slot - slot * 0.15
        y = bottom - (bottom - top) * credits / axis_top
        if credits:
            draw.rectangle([(x0, y), (x1, bottom)], fill=_BAR)
            if len(days) <= 16:
                draw.text(((x0 + x1) / 2, y - 4), str(credits), _TEXT, small, anchor="md")
        if index % label_every == 0:
            draw.text(((x0 + x1) / 2, bottom + 8), _short_day(day), _MUTED, small, anchor="ma")
    draw.line([(left, bottom), (right, bottom)], _TEXT, 1)
    return _png(image)


def _short_day(day: str) -> str:
    moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return f"{moment.day} {moment.strftime('%b')}"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def csv_text(cell: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``'`` where it would start a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_text(c) if isinstance(c, str) else c for c in row])
    return buffer.getvalue().encode("utf-8")


def usage_csv(rows: Iterable[Reservation]) -> bytes:
    """The ledger (committed reservations) as UTF-8 CSV with a header row."""
    return _csv(CSV_HEADER, (_ledger_row(row) for row in rows))


def _ledger_row(row: Reservation) -> tuple[object, ...]:
    created = datetime.fromtimestamp(row.created_at, UTC).isoformat(timespec="seconds")
    return (
        row.id,
        "" if row.job_id is None else row.job_id,
        created,
        row.user_id,
        row.model,
        row.size or "",
        row.quality or "",
        row.images,
        row.charged,
        row.usage.input_tokens,
        row.usage.output_tokens,
        row.usage.total_tokens,
        "" if row.cost_usd is None else str(row.cost_usd),
    )


def members_csv(charges: Iterable[Reservation], names: Mapping[int, str]) -> bytes:
    """Credits, images and requests per member, biggest spender first, as UTF-8 CSV.

    ``names``: user id -> display name; a member without one is written as ``(unknown)``.
    """
    totals: dict[int, list[int]] = {}
    for charge in charges:
        entry = totals.setdefault(charge.user_id, [0, 0, 0])
        entry[0] += charge.charged
        entry[1] += charge.images
        entry[2] += 1
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return _csv(
        MEMBERS_HEADER,
        ((uid, names.get(uid) or UNKNOWN_MEMBER, *counts) for uid, counts in ranked),
    )
