"""The audit trail on real databases: one record per change that changes something, in words.

SQLite always; PostgreSQL when TEST_DATABASE_URL is set. The describer is pure and is also tested
on a dataclass with fields the store doesn't know yet, as other features will add them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

import pytest

from bot.audit_text import change_line, change_post, label_text
from bot.store import Change, GuildSettings, QuotaPolicy, RoleRule, Store
from bot.store.changes import Diff, describe_change
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    StoreTarget,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, OTHER_GUILD = 1000, 2000
MOD, OTHER_MOD = 31, 32
PRICE = ("gpt-image-1", "*", "low")


def set_fields(**changes: Any) -> Any:
    return lambda current: dataclasses.replace(current, **changes)


def said(change: Change | None) -> tuple[int | None, str, str, str]:
    assert change is not None
    return (change.actor_id, change.what, change.before, change.after)


async def test_a_settings_change_is_recorded_with_who_when_and_words(
    store: Store, clock: ManualClock
) -> None:
    models = set_fields(allowed_models=("gpt-image-1", "dall-e-3"))

    returned = await store.change_guild_settings(GUILD, models, actor=MOD)

    (stored,) = await store.recent_changes(GUILD)
    assert stored == returned
    assert said(stored) == (MOD, "allowed models", "all", "gpt-image-1, dall-e-3")
    assert (stored.guild_id, stored.at) == (GUILD, clock.now)
    assert await store.recent_changes(OTHER_GUILD) == []


async def test_each_quota_change_reads_as_the_command_that_made_it(store: Store) -> None:
    steps = [
        (
            lambda: store.change_quota_policy(
                GUILD, set_fields(user_limit=8, window="week"), actor=MOD
            ),
            ("member limit", "20 credits per day", "8 credits per week"),
        ),
        (
            lambda: store.change_quota_policy(GUILD, set_fields(server_budget=1), actor=MOD),
            ("server budget", "none", "1 credit per month"),
        ),
        (
            lambda: store.change_quota_policy(GUILD, set_fields(cooldown_seconds=1), actor=MOD),
            ("cooldown", "none", "1 second"),
        ),
        (
            lambda: store.change_quota_policy(GUILD, set_fields(max_in_flight=None), actor=MOD),
            ("requests at a time", "2", "no limit"),
        ),
        (
            lambda: store.change_quota_policy(
                GUILD, set_fields(moderators_unlimited=True), actor=MOD
            ),
            ("moderators", "the same limits as everyone", "no member limit"),
        ),
        (
            lambda: store.set_role_rule(GUILD, 7, RoleRule("limit", 1), actor=MOD),
            ("role rule for <@&7>", "the member limit", "a limit of 1 credit"),
        ),
        (
            lambda: store.set_role_rule(GUILD, 7, None, actor=MOD),
            ("role rule for <@&7>", "a limit of 1 credit", "the member limit"),
        ),
        (
            lambda: store.set_cost_override(GUILD, PRICE, 3, actor=MOD),
            (
                "price for gpt-image-1, any size, low quality",
                "the default price",
                "3 credits per image",
            ),
        ),
    ]
    for call, words in steps:
        assert said(await call()) == (MOD, *words)

    recorded = await store.recent_changes(GUILD)
    assert [c.what for c in recorded] == [w[0] for _, w in reversed(steps)]  # newest first
    assert [c.id for c in recorded] == sorted((c.id for c in recorded), reverse=True)


async def test_a_change_that_changes_nothing_records_nothing(store: Store) -> None:
    await store.set_role_rule(GUILD, 7, RoleRule("blocked"), actor=MOD)
    await store.change_guild_settings(GUILD, set_fields(default_model="dall-e-3"), actor=MOD)

    assert await store.set_role_rule(GUILD, 7, RoleRule("blocked"), actor=MOD) is None
    assert await store.set_role_rule(GUILD, 8, None, actor=MOD) is None  # had no rule
    assert await store.set_cost_override(GUILD, PRICE, None, actor=MOD) is None
    same_model = set_fields(default_model="dall-e-3")
    assert await store.change_guild_settings(GUILD, same_model, actor=MOD) is None
    assert await store.change_quota_policy(GUILD, set_fields(user_limit=20), actor=MOD) is None

    assert [c.what for c in await store.recent_changes(GUILD)] == [
        "default model",
        "role rule for <@&7>",
    ]


async def test_several_fields_changed_at_once_are_one_record_labelled_on_both_sides(
    store: Store,
) -> None:
    both = set_fields(allowed_models=("dall-e-3",), default_model="dall-e-3")

    change = await store.change_guild_settings(GUILD, both, actor=MOD)

    assert said(change) == (
        MOD,
        "settings",
        "allowed models: all; default model: the bot's default",
        "allowed models: dall-e-3; default model: dall-e-3",
    )
    assert len(await store.recent_changes(GUILD)) == 1


async def test_a_refused_change_rolls_back_and_records_nothing(store: Store) -> None:
    def refuse(current: GuildSettings) -> GuildSettings:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        await store.change_guild_settings(GUILD, refuse, actor=MOD)
    with pytest.raises(ValueError, match="max_in_flight"):
        await store.change_quota_policy(GUILD, set_fields(max_in_flight=0), actor=MOD)

    assert await store.recent_changes(GUILD) == []
    assert await store.get_quota_policy(GUILD) == QuotaPolicy(GUILD)


async def test_changes_at_once_each_record_what_they_found_under_the_lock(
    store_target: StoreTarget,
) -> None:
    # Two processes, five moderators: each record's "before" is the previous record's "after".
    one, other = await store_target.open(), await store_target.open()
    try:

        def add_channel(channel: int) -> Any:
            return lambda s: dataclasses.replace(
                s, allowed_channel_ids=(*s.allowed_channel_ids, channel)
            )

        await asyncio.gather(
            *(
                (one if c % 2 else other).change_guild_settings(GUILD, add_channel(c), actor=c)
                for c in range(1, 6)
            )
        )

        changes = list(reversed(await one.recent_changes(GUILD)))
        assert len(changes) == 5
        assert changes[0].before == "every channel"
        assert all(a.after == b.before for a, b in itertools.pairwise(changes))
        final = (await other.get_guild_settings(GUILD)).allowed_channel_ids
        assert changes[-1].after == ", ".join(f"<#{c}>" for c in final)
        assert sorted(c.actor_id or 0 for c in changes) == [1, 2, 3, 4, 5]
    finally:
        await one.close()
        await other.close()


async def test_record_change_and_recent_changes_newest_first_with_a_limit(
    store: Store, clock: ManualClock
) -> None:
    await store.record_change(GUILD, MOD, "usage reset for <@5>", "8 credits used", "0 credits")
    clock.advance(60)
    await store.record_change(GUILD, None, "provider", "the bot's", "https://gateway.example")
    await store.record_change(OTHER_GUILD, OTHER_MOD, "provider", "a", "b")

    latest, earlier = await store.recent_changes(GUILD)
    assert said(latest) == (None, "provider", "the bot's", "https://gateway.example")
    assert said(earlier) == (MOD, "usage reset for <@5>", "8 credits used", "0 credits")
    assert latest.at == earlier.at + 60
    assert await store.recent_changes(GUILD, limit=1) == [latest]


async def test_changes_without_an_actor_are_recorded_as_made_outside_discord(
    store: Store, clock: ManualClock
) -> None:
    await store.save_quota_policy(QuotaPolicy(GUILD, cooldown_seconds=90))

    (change,) = await store.recent_changes(GUILD)

    assert change.actor_id is None
    assert change_line(change) == (
        f"<t:{int(clock.now)}:f> someone outside Discord cooldown: none → 90 seconds"
    )


def test_a_change_reads_in_the_moderators_language_its_values_as_recorded() -> None:
    reset = Change(1, GUILD, MOD, 1000.0, "usage reset for <@5>", "8 credits used today", "none")
    cooldown = Change(2, GUILD, None, 1000.0, "cooldown", "none", "90 seconds")

    assert change_line(reset, "de") == (
        f"<t:1000:f> <@{MOD}> Verbrauch von <@5> zurückgesetzt: 8 credits used today → none"
    )
    assert (
        change_line(cooldown, "ru")
        == "<t:1000:f> вне Discord пауза между запросами: none → 90 seconds"
    )
    assert (
        change_line(reset)
        == f"<t:1000:f> <@{MOD}> usage reset for <@5>: 8 credits used today → none"
    )
    assert change_post(reset, "ja").splitlines()[0] == (
        f"<@{MOD}> が <t:1000:R> に変更：**<@5> の使用量のリセット**"
    )


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("role rule for <@&7>", "правило роли <@&7>"),
        (
            "price for gpt-image-1, any size, high quality",
            "цена для gpt-image-1, any size, high quality",
        ),
        ("server budget", "бюджет сервера"),
        ("a label no catalog has", "a label no catalog has"),
    ],
)
def test_labels_with_a_value_in_them_read_translated_around_the_value(
    what: str, words: str
) -> None:
    assert label_text(what, "ru") == words


# --- the describer, on fields the store doesn't know yet -----------------------------------


@dataclasses.dataclass(frozen=True)
class LaterSettings:
    """What GuildSettings may grow: the describer must read it without new code."""

    guild_id: int
    low_moderation: bool = False
    blocked_words: tuple[str, ...] = ()
    daily_image_limit: int | None = None
    webhook_token: str | None = dataclasses.field(default=None, repr=False)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)


def test_new_fields_read_as_their_names_and_values() -> None:
    old = LaterSettings(GUILD)
    steps = [
        (dict(low_moderation=True), Diff("low moderation", "off", "on")),
        (dict(blocked_words=("spoiler", "gore")), Diff("blocked words", "none", "spoiler, gore")),
        (dict(daily_image_limit=5), Diff("daily image limit", "unlimited", "5")),
        (dict(labels={"a": 1}), Diff("labels a", "unlimited", "1")),
    ]
    for changes, expected in steps:
        assert (
            describe_change("quota", old, dataclasses.replace(old, **changes), none="unlimited")
            == expected
        )


def test_a_secret_field_is_never_put_into_words() -> None:
    old = LaterSettings(GUILD)
    new = dataclasses.replace(old, webhook_token="tok-SECRET-123")

    diff = describe_change("settings", old, new)

    assert diff == Diff("webhook token", "none", "hidden")
    assert "SECRET" not in repr(describe_change("settings", new, old))


def test_nothing_changed_is_no_change_and_the_guild_is_never_a_field() -> None:
    assert describe_change("settings", GuildSettings(GUILD), GuildSettings(GUILD)) is None
    assert describe_change("settings", GuildSettings(GUILD), GuildSettings(OTHER_GUILD)) is None


def test_a_member_limit_that_only_moves_its_window_reads_as_the_window() -> None:
    old = QuotaPolicy(GUILD, user_limit=None)
    new = dataclasses.replace(old, window="week")

    assert describe_change("quota", old, new, none="unlimited") == Diff("window", "day", "week")
