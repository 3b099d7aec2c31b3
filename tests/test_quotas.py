"""The quota engine on real databases: exact under concurrency, refunds, windows, roles."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bot.errors import Busy, NotAllowed, QuotaExceeded
from bot.images.types import Usage
from bot.quotas import QuotaEngine, cost_per_image, member_limit, window_end, window_start
from bot.store import QuotaPolicy, Reservation, RoleRule, Store
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    StoreTarget,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, OTHER_GUILD = 1000, 2000
USER, OTHER_USER = 21, 22
MOD_ROLE, VIP_ROLE, FAN_ROLE, MUTED_ROLE = 501, 502, 503, 504
HOUR, DAY = 3600, 86400


@pytest.fixture
def engine(store: Store, clock: ManualClock) -> QuotaEngine:
    return QuotaEngine(store, clock=clock)


async def set_policy(store: Store, guild_id: int = GUILD, **fields: Any) -> QuotaPolicy:
    base: dict[str, Any] = {"user_limit": 20, "max_in_flight": None, "cooldown_seconds": 0}
    policy = QuotaPolicy(guild_id=guild_id, **(base | fields))
    await store.save_quota_policy(policy)
    return policy


async def reserve(
    engine: QuotaEngine,
    *,
    guild_id: int = GUILD,
    user_id: int = USER,
    role_ids: tuple[int, ...] = (),
    is_moderator: bool = False,
    quality: str | None = "medium",
    n: int = 1,
) -> Reservation:
    """gpt-image-1 at 1024x1024: 4 credits per medium image."""
    return await engine.reserve(
        guild_id=guild_id,
        user_id=user_id,
        role_ids=role_ids,
        is_moderator=is_moderator,
        model="gpt-image-1",
        size="1024x1024",
        quality=quality,
        n=n,
    )


async def used(engine: QuotaEngine, user_id: int = USER, guild_id: int = GUILD) -> int:
    return (await engine.member_usage(guild_id, user_id, ())).member.used


def outcomes(results: list[Any]) -> tuple[int, int]:
    admitted = sum(isinstance(r, Reservation) for r in results)
    refused = sum(isinstance(r, QuotaExceeded) for r in results)
    unexpected = [r for r in results if not isinstance(r, Reservation | QuotaExceeded)]
    assert unexpected == []
    return admitted, refused


# --- exact under concurrency ----------------------------------------------------------------------


async def test_a_hundred_concurrent_requests_with_room_for_five_admit_exactly_five(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=20)
    results = await asyncio.gather(*(reserve(engine) for _ in range(100)), return_exceptions=True)
    assert outcomes(results) == (5, 95)
    assert await used(engine) == 20
    usage = await engine.member_usage(GUILD, USER, ())
    assert usage.member.remaining == 0 and usage.in_flight == 5
    assert usage.server.used == 20


async def test_two_bot_processes_on_one_database_still_admit_exactly_five(
    store_target: StoreTarget, store: Store, clock: ManualClock
) -> None:
    await set_policy(store, user_limit=20)
    second = await store_target.open(clock=clock)
    try:
        engines = (QuotaEngine(store, clock=clock), QuotaEngine(second, clock=clock))
        calls = [reserve(engines[i % 2]) for i in range(100)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert outcomes(results) == (5, 95)
        assert await used(engines[1]) == 20
    finally:
        await second.close()


async def test_the_server_budget_is_exact_across_many_members(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=None, server_budget=12, server_window="day")
    calls = [reserve(engine, user_id=100 + i % 10) for i in range(100)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert outcomes(results) == (3, 97)
    usage = await engine.member_usage(GUILD, 100, ())
    assert (usage.server.used, usage.server.remaining) == (12, 0)
    refused = next(r for r in results if isinstance(r, QuotaExceeded))
    assert "This server has used 12 of its 12 credits today" in str(refused)


async def test_the_in_flight_cap_is_exact_under_concurrency(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=None, max_in_flight=2)
    results = await asyncio.gather(*(reserve(engine) for _ in range(20)), return_exceptions=True)
    assert sum(isinstance(r, Reservation) for r in results) == 2
    assert all(isinstance(r, Busy) for r in results if not isinstance(r, Reservation))


@pytest.mark.parametrize(
    ("cap", "words"),
    [(1, "1 request in progress. Wait for it"), (2, "2 requests in progress. Wait for one")],
)
async def test_the_in_flight_refusal_says_how_many_in_plain_words(
    store: Store, engine: QuotaEngine, cap: int, words: str
) -> None:
    await set_policy(store, user_limit=None, max_in_flight=cap)
    for _ in range(cap):
        await reserve(engine)
    with pytest.raises(Busy) as refused:
        await reserve(engine)
    assert str(refused.value) == f"You already have {words} to finish, then try again."


# --- commit, refund, recovery ---------------------------------------------------------------------


async def test_a_refund_gives_the_credits_back_and_only_once(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=20)
    reservation = await reserve(engine, n=3)
    assert (reservation.credits, await used(engine)) == (12, 12)
    assert await engine.refund(reservation) is True
    assert await used(engine) == 0
    assert await engine.refund(reservation) is False
    assert await engine.commit(reservation) is None
    assert await used(engine) == 0
    stored = await store.get_reservation(GUILD, reservation.id)
    assert stored is not None and (stored.status, stored.charged) == ("refunded", 0)
    assert (await engine.member_usage(GUILD, USER, ())).in_flight == 0


async def test_commit_with_fewer_images_refunds_the_difference_and_records_tokens(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=20)
    reservation = await reserve(engine, n=3)
    tokens = Usage(input_tokens=40, output_tokens=1056, total_tokens=1096)
    committed = await engine.commit(reservation, actual_n=1, usage=tokens)
    assert committed is not None
    assert (committed.status, committed.charged, committed.images) == ("committed", 4, 1)
    assert (committed.usage.input_tokens, committed.usage.total_tokens) == (40, 1096)
    assert await used(engine) == 4
    # Refunding or committing again after the commit changes nothing.
    assert await engine.refund(reservation) is False
    assert await engine.commit(reservation, actual_n=0) is None
    assert await used(engine) == 4


async def test_commit_reprices_auto_with_what_the_api_made(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=100)
    reservation = await reserve(engine, quality="auto", n=2)
    assert reservation.credits == 8  # auto is estimated as medium
    committed = await engine.commit(reservation, quality="high", size="1024x1024")
    assert committed is not None and (committed.charged, committed.quality) == (34, "high")
    assert await used(engine) == 34


async def test_no_image_back_is_a_refund(store: Store, engine: QuotaEngine) -> None:
    await set_policy(store, user_limit=20)
    reservation = await reserve(engine, n=2)
    settled = await engine.commit(reservation, actual_n=0)
    assert settled is not None and (settled.status, settled.charged) == ("refunded", 0)
    assert await used(engine) == 0
    assert await store.charges(GUILD, 0, 2e9) == []


async def test_a_zero_limit_or_budget_refuses_outright(store: Store, engine: QuotaEngine) -> None:
    await set_policy(store, roles={FAN_ROLE: RoleRule("limit", 0)})
    with pytest.raises(QuotaExceeded, match="Your limit is 0 credits today") as refused:
        await reserve(engine, role_ids=(FAN_ROLE,))
    assert refused.value.remaining == 0
    await set_policy(store, server_budget=0)
    with pytest.raises(QuotaExceeded, match="This server's budget is 0 credits this month"):
        await reserve(engine)
    assert (await engine.member_usage(GUILD, USER, ())).in_flight == 0


async def test_recover_refunds_what_a_crash_left_pending(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    before = await store_target.open(clock=clock)
    await set_policy(before, user_limit=20)
    crashed = QuotaEngine(before, clock=clock)
    done = await reserve(crashed)
    await crashed.commit(done)
    for user_id in (USER, USER, OTHER_USER):
        await reserve(crashed, user_id=user_id)
    await before.close()

    after = await store_target.open(clock=clock)
    try:
        restarted = QuotaEngine(after, clock=clock)
        assert await restarted.recover() == 3
        assert await used(restarted) == 4  # only the committed image stays spent
        assert await used(restarted, OTHER_USER) == 0
        assert (await restarted.member_usage(GUILD, USER, ())).in_flight == 0
        assert await restarted.recover() == 0
    finally:
        await after.close()


async def test_recover_leaves_live_processes_reservations_alone(
    store_target: StoreTarget, store: Store, clock: ManualClock
) -> None:
    await set_policy(store, user_limit=100)
    await store.register_process()
    engine = QuotaEngine(store, clock=clock)
    own = await reserve(engine)
    other = await store_target.open(clock=clock)
    try:
        await other.register_process()
        theirs = await reserve(QuotaEngine(other, clock=clock), user_id=OTHER_USER)
        clock.advance(3600)  # far past the old 30-minute expiry, but both processes are alive
        await store.renew_process()
        await other.renew_process()
        assert await engine.recover() == 0
        for reservation in (own, theirs):
            kept = await store.get_reservation(GUILD, reservation.id)
            assert kept is not None and kept.status == "pending"
        assert (await used(engine), await used(engine, OTHER_USER)) == (4, 4)
    finally:
        await other.close()


# --- windows, messages, cooldown, in flight -------------------------------------------------------


async def test_the_member_window_rolls_over_at_utc_midnight(
    store: Store, engine: QuotaEngine, clock: ManualClock
) -> None:
    await set_policy(store, user_limit=8)
    await reserve(engine, n=2)
    midnight = window_end("day", clock.now)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(engine)
    assert refused.value.remaining == 0 and refused.value.resets_at == midnight
    assert str(refused.value) == (
        f"You've used 8 of your 8 credits today. It resets <t:{midnight}:R>."
    )
    clock.now = midnight - 1
    with pytest.raises(QuotaExceeded):
        await reserve(engine)
    clock.now = midnight
    assert (await reserve(engine)).window_start == midnight
    assert await used(engine) == 4


async def test_a_partly_used_window_says_what_is_left(store: Store, engine: QuotaEngine) -> None:
    await set_policy(store, user_limit=10, window="week")
    await reserve(engine)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(engine, n=2)
    assert refused.value.remaining == 6
    assert "This needs 8 credits but only 6 of your 10 credits are left this week" in str(
        refused.value
    )


ONE_CREDIT = {("gpt-image-1", "*", "*"): 1}  # one credit an image, so any count can be spent


@pytest.mark.parametrize(
    ("limit", "words"), [(1, "1 из 1 кредита"), (3, "3 из 3 кредитов"), (5, "5 из 5 кредитов")]
)
async def test_a_russian_member_over_their_limit_reads_the_right_plural(
    store: Store, engine: QuotaEngine, clock: ManualClock, limit: int, words: str
) -> None:
    await set_policy(store, user_limit=limit, costs=ONE_CREDIT)
    await reserve(engine, n=limit)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(engine)
    midnight = window_end("day", clock.now)
    assert refused.value.render("ru") == (
        f"Вы израсходовали {words} сегодня. Лимит обновится <t:{midnight}:R>."
    )
    assert str(refused.value).startswith(f"You've used {limit} of your {limit} credit")


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (1, "Нужно 2 кредита, но из вашего лимита (10 кредитов) сегодня остался только 1."),
        (3, "Нужно 4 кредита, но из вашего лимита (10 кредитов) сегодня осталось только 3."),
        (5, "Нужно 6 кредитов, но из вашего лимита (10 кредитов) сегодня осталось только 5."),
    ],
)
async def test_what_is_left_reads_in_the_plural_of_what_is_left(
    store: Store, engine: QuotaEngine, left: int, words: str
) -> None:
    await set_policy(store, user_limit=10, costs=ONE_CREDIT)
    await reserve(engine, n=10 - left)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(engine, n=left + 1)
    assert refused.value.render("ru").startswith(words)
    assert refused.value.render("de").startswith(
        f"Dafür braucht es {left + 1} Credits, aber von deinem Limit (10 Credits) "
    )


async def test_the_server_budget_and_the_other_refusals_read_in_the_members_language(
    store: Store, engine: QuotaEngine, clock: ManualClock
) -> None:
    await set_policy(
        store, user_limit=None, server_budget=1, server_window="week", costs=ONE_CREDIT
    )
    await reserve(engine)
    with pytest.raises(QuotaExceeded) as budget:
        await reserve(engine, user_id=OTHER_USER)
    week = window_end("week", clock.now)
    assert budget.value.render("fr") == (
        f"Ce serveur a utilisé 1 de son 1 crédit cette semaine. Remise à zéro <t:{week}:R>."
    )
    await set_policy(store, user_limit=None, max_in_flight=2)
    await reserve(engine)  # the first is still in flight
    with pytest.raises(Busy) as busy:
        await reserve(engine)
    assert busy.value.render("ru") == (
        "У вас уже выполняются 2 запроса. Дождитесь, пока один из них завершится, "
        "и попробуйте снова."
    )
    await set_policy(store, roles={MUTED_ROLE: RoleRule("blocked")})
    with pytest.raises(NotAllowed) as blocked:
        await reserve(engine, user_id=OTHER_USER, role_ids=(MUTED_ROLE,))
    assert blocked.value.render("zh-CN") == "你的身份组不允许在此服务器生成图片。"


def test_windows_align_to_utc_hour_day_monday_and_month() -> None:
    now = 1_700_049_600.0 + 1234  # Wednesday 2023-11-15 12:20:34 UTC
    assert window_start("hour", now) == 1_700_049_600
    assert window_end("hour", now) == 1_700_049_600 + HOUR
    assert window_start("day", now) == 1_700_006_400
    assert window_start("week", now) == 1_699_833_600  # Monday 2023-11-13
    assert window_end("week", now) == 1_699_833_600 + 7 * DAY
    assert window_start("month", now) == 1_698_796_800  # 2023-11-01
    assert window_end("month", now) == 1_701_388_800  # 2023-12-01
    december = 1_703_980_800.0  # 2023-12-31
    assert window_end("month", december) == 1_704_067_200  # 2024-01-01


async def test_a_cooldown_spaces_requests_even_after_a_refund(
    store: Store, engine: QuotaEngine, clock: ManualClock
) -> None:
    await set_policy(store, user_limit=100, cooldown_seconds=30)
    first = await reserve(engine)
    await engine.refund(first)
    clock.advance(10)
    with pytest.raises(Busy) as refused:
        await reserve(engine)
    assert f"<t:{int(first.created_at + 30)}:R>" in str(refused.value)
    assert await used(engine) == 0
    clock.advance(20)
    await reserve(engine)
    await reserve(engine, user_id=OTHER_USER)  # others are not slowed by it


async def test_the_in_flight_cap_frees_a_slot_when_a_job_ends(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=100, max_in_flight=2)
    first = await reserve(engine)
    await reserve(engine)
    with pytest.raises(Busy, match="2 request"):
        await reserve(engine)
    await engine.commit(first)
    await reserve(engine)


# --- roles and moderators -------------------------------------------------------------------------


async def test_the_most_generous_role_wins(store: Store, engine: QuotaEngine) -> None:
    await set_policy(
        store,
        user_limit=8,
        roles={
            VIP_ROLE: RoleRule("unlimited"),
            FAN_ROLE: RoleRule("limit", 12),
            MUTED_ROLE: RoleRule("blocked"),
            MOD_ROLE: RoleRule("limit", 4),
        },
    )
    limit = (await engine.member_usage(GUILD, USER, (FAN_ROLE, MOD_ROLE))).limit
    assert (limit.kind, limit.limit, limit.role_id) == ("limit", 12, FAN_ROLE)
    await reserve(engine, role_ids=(FAN_ROLE, MOD_ROLE, MUTED_ROLE), n=3)  # 12 of 12
    with pytest.raises(QuotaExceeded):
        await reserve(engine, role_ids=(FAN_ROLE, MUTED_ROLE))
    await reserve(engine, role_ids=(VIP_ROLE, FAN_ROLE, MUTED_ROLE), n=5)  # unlimited wins
    # A smaller role limit replaces the default one.
    await reserve(engine, user_id=OTHER_USER, role_ids=(MOD_ROLE,))
    with pytest.raises(QuotaExceeded):
        await reserve(engine, user_id=OTHER_USER, role_ids=(MOD_ROLE,))


async def test_a_member_whose_only_overrides_are_blocked_is_refused(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, roles={MUTED_ROLE: RoleRule("blocked")})
    with pytest.raises(NotAllowed):
        await reserve(engine, role_ids=(MUTED_ROLE, 999))
    assert await used(engine) == 0
    await reserve(engine, role_ids=(999,))


async def test_moderators_follow_the_limits_unless_the_policy_exempts_them(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=4, cooldown_seconds=60)
    await reserve(engine, is_moderator=True)
    with pytest.raises((QuotaExceeded, Busy)):
        await reserve(engine, is_moderator=True)
    await set_policy(
        store, user_limit=4, cooldown_seconds=60, moderators_unlimited=True, server_budget=12
    )
    await reserve(engine, is_moderator=True)
    await reserve(engine, is_moderator=True)
    with pytest.raises(QuotaExceeded, match="This server has used 12"):
        await reserve(engine, is_moderator=True)  # the server budget still holds


# --- reset and isolation --------------------------------------------------------------------------


async def test_resetting_a_member_zeroes_their_window_and_cooldown(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, user_limit=8, cooldown_seconds=600)
    await engine.commit(await reserve(engine, n=2))
    await engine.reset_member(GUILD, USER)
    usage = await engine.member_usage(GUILD, USER, ())
    assert (usage.member.used, usage.cooldown_until) == (0, None)
    assert usage.server.used == 8  # money spent stays spent
    await reserve(engine, n=2)


async def test_one_guild_cannot_see_spend_or_settle_anothers_credits(
    store: Store, engine: QuotaEngine
) -> None:
    await set_policy(store, GUILD, user_limit=8)
    await set_policy(store, OTHER_GUILD, user_limit=8)
    mine = await reserve(engine, n=2)
    # Same member, other guild: a separate allowance.
    theirs = await reserve(engine, guild_id=OTHER_GUILD, n=2)
    assert await store.get_reservation(OTHER_GUILD, mine.id) is None
    forged = dataclasses.replace(mine, guild_id=OTHER_GUILD)
    assert await engine.refund(forged) is False
    assert await engine.commit(forged) is None
    assert await used(engine) == 8
    await engine.reset_member(OTHER_GUILD, USER)
    assert await used(engine) == 8
    assert await used(engine, guild_id=OTHER_GUILD) == 0
    await engine.commit(theirs)
    assert (await engine.usage_summary(GUILD)).total_credits == 0


# --- reporting ------------------------------------------------------------------------------------


async def test_usage_summary_ranks_members_and_models_and_splits_days(
    store: Store, engine: QuotaEngine, clock: ManualClock
) -> None:
    await set_policy(store, user_limit=None)
    await engine.commit(await reserve(engine, n=2))  # 8, Wednesday
    clock.advance(DAY)
    await engine.commit(await reserve(engine, user_id=OTHER_USER, quality="high"))  # 17
    dalle = await engine.reserve(
        guild_id=GUILD, user_id=USER, role_ids=(), is_moderator=False,
        model="dall-e-3", size="1792x1024", quality="hd", n=1,
    )  # fmt: skip
    await engine.commit(dalle)  # 12
    await engine.refund(await reserve(engine))  # refunds are not spend
    await reserve(engine)  # pending is not spend yet

    summary = await engine.usage_summary(GUILD, "week")
    assert (summary.total_credits, summary.total_images) == (37, 4)
    assert [(s.key, s.credits, s.images) for s in summary.top_members] == [
        (USER, 20, 3),
        (OTHER_USER, 17, 1),
    ]
    assert [(s.key, s.credits) for s in summary.by_model] == [("gpt-image-1", 25), ("dall-e-3", 12)]
    assert summary.by_day == (
        ("2023-11-13", 0),
        ("2023-11-14", 0),
        ("2023-11-15", 8),
        ("2023-11-16", 29),
    )
    assert summary.start == window_start("week", clock.now)


async def test_member_usage_and_policy_text(store: Store, engine: QuotaEngine) -> None:
    await set_policy(
        store,
        user_limit=20,
        server_budget=500,
        cooldown_seconds=10,
        max_in_flight=2,
        roles={VIP_ROLE: RoleRule("unlimited"), MUTED_ROLE: RoleRule("blocked")},
        costs={("gpt-image-1", "*", "high"): 10},
    )
    assert await engine.price(GUILD, "gpt-image-1", "1536x1024", "high", 2) == 20
    await reserve(engine)
    usage = await engine.member_usage(GUILD, USER, ())
    assert (usage.member.used, usage.member.limit, usage.member.remaining) == (4, 20, 16)
    assert usage.server.remaining == 496 and usage.cooldown_until is not None
    vip = await engine.member_usage(GUILD, USER, (VIP_ROLE,))
    assert vip.member.limit is None and vip.member.remaining is None
    text = await engine.describe_policy(GUILD)
    assert "20 credits per day" in text and "500 credits per month" in text
    assert f"<@&{VIP_ROLE}>: unlimited" in text and f"<@&{MUTED_ROLE}>: blocked" in text
    assert "gpt-image-1 * high: 10" in text


# --- prices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "quality", "credits"),
    [
        ("dall-e-3", "1024x1024", "standard", 4),
        ("dall-e-3", "1792x1024", "standard", 8),
        ("dall-e-3", "1024x1792", "hd", 12),
        ("dall-e-3", None, None, 4),
        ("dall-e-2", "256x256", None, 2),
        ("gpt-image-1", "1024x1024", "low", 1),
        ("gpt-image-1", "1536x1024", "medium", 6),
        ("gpt-image-1", "1024x1536", "high", 25),
        ("gpt-image-1", "auto", "auto", 4),  # auto is estimated as medium, square
        ("gpt-image-1-mini", "1024x1024", "high", 4),
        ("gpt-image-2", "1024x1024", "high", 17),  # priced like gpt-image-1
        ("gpt-image-1", "2048x2048", "high", 67),  # unlisted: the dearest (25), by its pixels
        ("gpt-image-1", "1536x864", "high", 25),  # unlisted and smaller: never less
        ("gpt-image-1", "1024x1024", "ultra", 25),  # unknown quality: the dearest of the model
        ("some-gateway-model", "1024x1024", "high", 4),  # unknown model: the fallback
    ],
)
def test_default_prices(model: str, size: str | None, quality: str | None, credits: int) -> None:
    assert cost_per_image(model, size, quality) == credits


def test_overrides_and_like_models() -> None:
    overrides = {
        ("gpt-image-1", "1024x1024", "high"): 15,
        ("gpt-image-1", "*", "low"): 0,
        ("flux", "*", "*"): 3,
    }
    assert cost_per_image("gpt-image-1", "1024x1024", "high", overrides=overrides) == 15
    assert cost_per_image("gpt-image-1", "1536x1024", "high", overrides=overrides) == 25
    assert cost_per_image("gpt-image-1", "1536x1024", "low", overrides=overrides) == 0
    assert cost_per_image("flux", None, None, overrides=overrides) == 3
    assert cost_per_image("my-dalle", None, "hd", like=("dall-e-3",)) == 8


def test_role_precedence_rules() -> None:
    policy = QuotaPolicy(
        GUILD,
        user_limit=20,
        roles={
            VIP_ROLE: RoleRule("unlimited"),
            FAN_ROLE: RoleRule("limit", 50),
            MOD_ROLE: RoleRule("limit", 5),
            MUTED_ROLE: RoleRule("blocked"),
        },
    )
    assert member_limit(policy, ()).credits == 20
    assert member_limit(policy, (MOD_ROLE,)).credits == 5
    assert member_limit(policy, (MOD_ROLE, FAN_ROLE)).credits == 50
    assert member_limit(policy, (MUTED_ROLE, MOD_ROLE)).credits == 5
    assert member_limit(policy, (MUTED_ROLE,)).kind == "blocked"
    assert member_limit(policy, (MUTED_ROLE, FAN_ROLE, VIP_ROLE)).kind == "unlimited"
    assert member_limit(policy, (MOD_ROLE,), is_moderator=True).credits == 5
    exempt = dataclasses.replace(policy, moderators_unlimited=True)
    assert member_limit(exempt, (MUTED_ROLE,), is_moderator=True).kind == "unlimited"
