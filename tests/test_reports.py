"""Usage reports: the chart is a readable PNG of the promised size, the CSV parses back."""

from __future__ import annotations

import csv
import io

from PIL import Image

from bot.images.types import Usage
from bot.quotas import QuotaEngine, UsageSummary
from bot.reports import CHART_SIZE, CSV_HEADER, usage_chart_png, usage_csv
from bot.store import QuotaPolicy, Spend, Store
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
    }
    assert (records[1]["model"], records[1]["credits"], records[1]["job_id"]) == (
        "dall-e-3",
        "4",
        "",
    )
    assert records[1]["user_id"] == str(OTHER_USER)


def test_an_empty_ledger_is_just_the_header() -> None:
    assert list(csv.reader(io.StringIO(usage_csv([]).decode()))) == [list(CSV_HEADER)]
