"""Usage reports for moderators: a bar chart PNG and a CSV of the ledger.

Both are synchronous (Pillow and csv are CPU work): call them through ``asyncio.to_thread``.
The chart's labels are in the moderator's language when a font on the machine draws them
(Pillow's own font draws Latin only; ``FONT_FILES`` are looked for), else in English: never
boxes. The CSV headers stay English, for spreadsheets and scripts.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_skeleton
from PIL import Image, ImageDraw, ImageFont

from bot import words
from bot.i18n import SOURCE, first_locale, t
from bot.quotas.usage import UsageSummary
from bot.quotas.windows import period_words
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

# Fonts for other scripts, by file name in the system's font folders (Debian's fonts-dejavu-core
# draws Cyrillic, fonts-noto-cjk, fonts-droid-fallback or fonts-wqy-microhei Chinese and Japanese).
FONT_FILES = (
    "DejaVuSans.ttf",
    "NotoSansCJK-Regular.ttc",
    "DroidSansFallbackFull.ttf",
    "wqy-microhei.ttc",
)
_MISSING = "\U0010fffd"  # a private-use character no font has: what a missing glyph looks like

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def _font_paths() -> tuple[str, ...]:
    """The paths of the ``FONT_FILES`` this machine has (looked up once)."""
    found = []
    for name in FONT_FILES:
        try:
            found.append(str(ImageFont.truetype(name, 10).path))
        except OSError:
            continue
    return tuple(found)


def _font(size: int, path: str | None = None) -> _Font:
    if path is not None:
        return ImageFont.truetype(path, size)
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _draws(font: _Font, text: str) -> bool:
    """Whether ``font`` has a glyph for every character of ``text``."""
    missing = bytes(font.getmask(_MISSING))
    return all(c.isspace() or bytes(font.getmask(c)) != missing for c in set(text))


@dataclass(frozen=True, slots=True)
class ChartWords:
    """What the chart says: its title, the totals, the empty state and each day's label."""

    title: str
    total: str
    empty: str
    days: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join((self.title, self.total, self.empty, *self.days))


def chart_words(summary: UsageSummary, locale: str = SOURCE) -> ChartWords:
    """The chart's labels in ``locale``; days as the language writes a short date ("Nov 5",
    "5 нояб.", "11月5日")."""
    credits = words.credits(summary.total_credits, locale)
    images = words.images(summary.total_images, locale)
    return ChartWords(
        title=t(
            locale,
            "Credits spent per day (UTC), {period}",
            period=period_words(summary.window, locale),
        ),
        total=t(locale, "{credits}, {images}", credits=credits, images=images),
        empty=t(locale, "No spend yet"),
        days=tuple(_short_day(day, locale) for day, _ in summary.by_day),
    )


def _chart_face(summary: UsageSummary, locale: str) -> tuple[ChartWords, str | None]:
    """The labels and the font that draws them (None: Pillow's); English if no font can."""
    labels = chart_words(summary, locale)
    for path in (None, *_font_paths()):
        if _draws(_font(15, path), labels.text):
            return labels, path
    return chart_words(summary, SOURCE), None


def _nice_ceiling(value: int) -> tuple[int, int]:
    """A round top for the y axis at or above ``value``, and a 1/2/5 step of at most 5 lines."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if math.ceil(value / (step * factor)) <= 5:
                return max(step * factor * math.ceil(value / (step * factor)), step), step * factor
        step *= 10


def usage_chart_png(summary: UsageSummary, locale: str = SOURCE) -> bytes:
    """A labelled bar chart of credits spent per UTC day in the summary's window, as PNG, its
    labels in ``locale`` (see the module's note on fonts)."""
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    labels, face = _chart_face(summary, locale)
    title, small = _font(22, face), _font(15, face)
    draw.text((_MARGIN_LEFT, 18), labels.title, _TEXT, title)
    draw.text((width - _MARGIN_RIGHT, 22), labels.total, _MUTED, small, anchor="ra")
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
        draw.text(((left + right) / 2, (top + bottom) / 2), labels.empty, _MUTED, title, "mm")
        return _png(image)
    slot = (right - left) / len(days)
    label_every = max(1, math.ceil(len(days) / 16))
    for index, ((_, credits), label) in enumerate(zip(days, labels.days, strict=True)):
        x0 = left + index * slot + slot * 0.15
        x1 = left + (index + 1) * slot - slot * 0.15
        y = bottom - (bottom - top) * credits / axis_top
        if credits:
            draw.rectangle([(x0, y), (x1, bottom)], fill=_BAR)
            if len(days) <= 16:
                draw.text(((x0 + x1) / 2, y - 4), str(credits), _TEXT, small, anchor="md")
        if index % label_every == 0:
            draw.text(((x0 + x1) / 2, bottom + 8), label, _MUTED, small, anchor="ma")
    draw.line([(left, bottom), (right, bottom)], _TEXT, 1)
    return _png(image)


def _short_day(day: str, locale: str) -> str:
    moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return format_skeleton("MMMd", moment, locale=first_locale(locale))


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
