"""Money: list prices as data, a job's cost in dollars (Decimal) from its usage or its images,
kept with its charge on both databases; budget alerts' thresholds and keys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.images.types import Usage
from bot.models import Catalog
from bot.quotas import QuotaEngine
from bot.quotas.budget import budget_alert
from bot.quotas.costs import quote
from bot.quotas.money import PRICES, Spent, cost_usd, dollars, load_prices, spent
from bot.store import QuotaPolicy, Reservation, Store
from bot.store.ledger import Charge
from bot.store.processes import LEASE_SECONDS
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    StoreTarget,
    clock_fixture,
    held_job,
    store_fixture,
    store_target_fixture,
)

GUILD, CHANNEL, USER = 1000, 11, 21
MONTH_START = 1_698_796_800  # 2023-11-01 00:00 UTC


# --- pricing a job -------------------------------------------------------------------------------


def test_reported_tokens_are_priced_each_at_its_own_rate() -> None:
    # An edit: 30 prompt tokens ($5 per 1M), 323 of the photo ($10), 1056 made ($40).
    usage = Usage(input_tokens=353, output_tokens=1056, total_tokens=1409,
                  input_text_tokens=30, input_image_tokens=323)  # fmt: skip

    cost = cost_usd("gpt-image-1", usage, "1024x1024", "medium", 1)

    assert cost == Decimal("0.000150") + Decimal("0.003230") + Decimal("0.042240")
    assert isinstance(cost, Decimal) and str(cost) == "0.045620"


def test_input_the_answer_did_not_split_is_priced_at_the_dearer_input_rate() -> None:
    usage = Usage(input_tokens=100, output_tokens=0, total_tokens=100)  # a gateway's bare counts

    assert cost_usd("gpt-image-1", usage, None, None, 1) == Decimal("0.001000")  # $10, not $5


def test_without_usage_an_image_is_priced_by_quality_and_size() -> None:
    assert cost_usd("gpt-image-1", None, "1536x1024", "high", 2) == Decimal("0.5")
    assert cost_usd("dall-e-3", None, "1792x1024", "hd", 1) == Decimal("0.12")
    assert cost_usd("dall-e-2", None, "256x256", None, 3) == Decimal("0.048")


def test_auto_or_missing_size_and_quality_are_priced_as_the_models_defaults() -> None:
    medium_square = Decimal("0.042")
    assert cost_usd("gpt-image-1", None, "auto", "auto", 1) == medium_square
    assert cost_usd("gpt-image-1", None, None, None, 1) == medium_square
    assert cost_usd("dall-e-3", None, None, None, 1) == Decimal("0.04")


def test_a_size_or_quality_without_a_price_is_priced_at_the_dearest_that_could_apply() -> None:
    # A free size of gpt-image-2 (priced like gpt-image-1) no larger than the dearest listed one.
    assert cost_usd("gpt-image-1", None, "1536x864", "low", 1) == Decimal("0.016")
    # Larger: in proportion to its pixels, as credits are (3840x2160 is 5.27 x 1536x1024).
    assert cost_usd("gpt-image-1", None, "3840x2160", "low", 1) == Decimal("0.084375")
    # xhigh is a 2.5 model's: dearer than any quality in the row, so the dearest of all.
    assert cost_usd("gpt-image-1", None, "1024x1024", "xhigh", 1) == Decimal("0.25")


def test_a_model_without_a_row_is_priced_like_the_nearest_model_it_is_like() -> None:
    usage = Usage(input_tokens=5, output_tokens=1056, total_tokens=1061, input_text_tokens=5)
    lineage = ("gpt-image-2", "gpt-image-1")  # gpt-image-2-2026-04-21, nearest first

    like_gpt_1 = cost_usd("gpt-image-2-2026-04-21", usage, None, None, 1, like=lineage)
    own_row = cost_usd("gpt-image-1.5", usage, None, None, 1, like=("gpt-image-1",))

    assert like_gpt_1 == cost_usd("gpt-image-1", usage, None, None, 1)
    assert own_row == Decimal("0.000025") + Decimal("0.033792")  # its own $32, not $40


def test_a_model_with_no_price_anywhere_has_none_never_zero() -> None:
    assert cost_usd("flux-schnell", None, "1024x1024", None, 1) is None
    assert cost_usd("flux-schnell", Usage(1, 1, 2), None, None, 1, like=("flux-dev",)) is None


def test_no_images_cost_nothing() -> None:
    assert cost_usd("gpt-image-1", Usage(10, 0, 10), None, None, 0) == Decimal(0)


def test_every_catalog_model_has_a_price_and_every_price_a_catalog_model() -> None:
    catalog = Catalog.load()
    specs = [catalog.get(name) for name in catalog.names()]
    unpriced = [s.name for s in specs if PRICES.prices(s.name, s.lineage) is None]
    assert unpriced == []
    assert set(PRICES.models) <= {s.name for s in specs}
    assert PRICES.taken.isoformat() == "2026-12-01"
    assert all(row.source for row in PRICES.models.values())  # each says where it came from


# --- the table's own checks ----------------------------------------------------------------------


TAKEN = "taken = 2026-12-01\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (TAKEN + "[models.m]\nimage_output = -1\n", "m image_output can't be negative"),
        (TAKEN + "[models.m]\nimage_output = 1\nprice = 2\n", "m has unknown keys ['price']"),
        (TAKEN + '[models.m]\nsource = "x"\n', "m needs image_output or per_image"),
        (TAKEN + '[models.m]\nimage_output = "lots"\n', "m image_output must be a number"),
        ('taken = "yesterday"\n', "`taken` must be a date"),
        (TAKEN + 'currency = "EUR"\n', "currency` USD"),
    ],
)
def test_a_broken_price_table_is_refused_saying_what(text: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        load_prices(text)
    assert words in str(raised.value)


def test_money_reads_as_dollars_and_cents_and_never_as_a_false_zero() -> None:
    assert dollars(Decimal("4.365")) == "$4.37"
    assert dollars(Decimal("1234.5")) == "$1,234.50"
    assert dollars(Decimal("0.004")) == "less than $0.01"
    assert dollars(Decimal(0)) == "$0.00"


def test_money_reads_as_the_readers_language_writes_dollars() -> None:
    assert dollars(Decimal("1234.5"), "ru") == "1\xa0234,50\xa0$"
    assert dollars(Decimal("4.365"), "de") == "4,37\xa0$"
    assert dollars(Decimal("4.365"), "fr") == "4,37\xa0$US"
    assert dollars(Decimal("0.004"), "es") == "menos de 0,01\xa0US$"
    assert dollars(Decimal("0.004"), "ja") == "$0.01 未満"


def reservation(cost: Decimal | None, *, window: str = "month") -> Reservation:
    return Reservation(
        id=1, guild_id=GUILD, user_id=USER, job_id=1, model="gpt-image-1", size=None,
        quality=None, n=1, cost_per_image=4, credits=4, status="committed", window="day",
        window_start=0, server_window=window, server_window_start=MONTH_START,  # type: ignore[arg-type]
        created_at=0.0, expires_at=0.0, charged=4, images=1, cost_usd=cost,
    )  # fmt: skip


def test_spent_adds_the_priced_and_counts_the_unpriced() -> None:
    charges = [reservation(Decimal("0.042")), reservation(None), reservation(Decimal("0.5"))]
    assert spent(charges) == Spent(Decimal("0.542"), 1)
    assert spent([]) == Spent()


# --- budget alerts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "percent"), [(0, None), (31, None), (32, 80), (39, 80), (40, 100), (44, 100)]
)
def test_the_highest_threshold_reached_is_the_alert(used: int, percent: int | None) -> None:
    policy = QuotaPolicy(GUILD, server_budget=40)
    alert = budget_alert(policy, reservation(None), used)
    assert (alert and alert.percent) == percent


def test_an_alert_is_keyed_by_threshold_window_and_budget() -> None:
    alert = budget_alert(QuotaPolicy(GUILD, server_budget=40), reservation(None), 33)
    assert alert is not None
    assert alert.key == f"budget-80:month:{MONTH_START}:40"
    assert alert.used_percent == 82
    assert alert.resets_at == 1_701_388_800  # 2023-12-01
    raised = budget_alert(QuotaPolicy(GUILD, server_budget=41), reservation(None), 33)
    assert raised is not None and raised.key != alert.key  # a new budget is watched afresh


def test_no_budget_a_zero_budget_or_a_changed_window_alerts_nobody() -> None:
    assert budget_alert(QuotaPolicy(GUILD), reservation(None), 10_000) is None
    assert budget_alert(QuotaPolicy(GUILD, server_budget=0), reservation(None), 0) is None
    weekly = QuotaPolicy(GUILD, server_budget=40, server_window="week")
    assert budget_alert(weekly, reservation(None), 40) is None


# --- kept with the charge, on both databases -----------------------------------------------------


async def test_the_cost_is_kept_with_the_charge_and_a_refund_has_none(
    store: Store, clock: ManualClock
) -> None:
    engine = QuotaEngine(store, clock=clock)
    await store.save_quota_policy(QuotaPolicy(GUILD, user_limit=None, max_in_flight=None))
    made = await held_job(store, GUILD, CHANNEL, USER, clock=clock)
    refunded = await held_job(store, GUILD, CHANNEL, USER, clock=clock)
    usage = Usage(input_tokens=3, output_tokens=4160, total_tokens=4163, input_text_tokens=3)

    await engine.commit(made, usage=usage, quality="high")
    await engine.refund(refunded)

    (charge,) = await store.charges(GUILD, 0, clock.now + 1)
    assert charge.cost_usd == Decimal("0.166415")  # 3 at $5, 4160 at $40 per 1M
    settled = await store.get_reservation(GUILD, refunded.id)
    assert settled is not None and (settled.status, settled.cost_usd) == ("refunded", None)


async def test_a_delivered_job_settled_by_recovery_keeps_the_cost_recorded_at_delivery(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    dead = await store_target.open(clock=clock)
    await dead.register_process()
    held = await held_job(dead, GUILD, CHANNEL, USER, clock=clock)
    charge = Charge(charged=4, images=1, cost_usd=Decimal("0.042245"))
    await dead.record_delivery(
        held, charge, revised_prompt=None, result_channel_id=CHANNEL, result_message_id=7
    )
    await dead.close()  # killed before the charge settled

    restarted = await store_target.open(clock=clock)
    try:
        await restarted.register_process()
        clock.advance(LEASE_SECONDS + 1)
        await restarted.renew_process()
        heard: list[Reservation] = []

        async def on_charged(settled: Reservation) -> None:  # budget alerts, the money metric
            heard.append(settled)

        assert await QuotaEngine(restarted, clock=clock).recover(on_charged) == 1
        (ledger,) = await restarted.charges(GUILD, 0, clock.now + 1)
        assert (ledger.status, ledger.cost_usd) == ("committed", Decimal("0.042245"))
        assert [(r.id, r.charged, r.cost_usd) for r in heard] == [(held.id, 4, Decimal("0.042245"))]
    finally:
        await restarted.close()


# --- the operator's manual shows the data --------------------------------------------------------


def token_table() -> str:
    rows = ["| model | text input | image input | image output |", "|---|---|---|---|"]
    for name, row in PRICES.models.items():
        if row.bills_tokens:
            rates = (row.text_input, row.image_input, row.image_output)
            rows.append(f"| {name} | " + " | ".join(f"${rate:.2f}" for rate in rates) + " |")
    return "\n".join(rows)


def image_table() -> str:
    catalog = Catalog.load()
    rows = ["| model | quality | size | credits | list price |", "|---|---|---|---|---|"]
    for name, row in PRICES.models.items():
        lineage = catalog.get(name).lineage
        for quality, sizes in row.per_image.items():
            for size, usd in sizes.items():
                credits = quote(name, size, quality, like=lineage).credits
                rows.append(f"| {name} | {quality} | {size} | {credits} | ${usd:.3f} |")
    return "\n".join(rows)


def test_the_operators_manual_lists_the_prices_of_the_data() -> None:
    manual = (Path(__file__).resolve().parent.parent / "docs" / "operators.md").read_text()
    assert token_table() in manual
    assert image_table() in manual
    assert f"taken {PRICES.taken.isoformat()}" in manual
