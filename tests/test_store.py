"""The store on real databases: migrations, jobs, guild settings, quota policy, isolation."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.images.types import Usage
from bot.store import (
    CostKey,
    GuildSettings,
    NewJob,
    QuotaPolicy,
    RoleRule,
    Store,
    open_store,
    sqlite_path,
)
from bot.store.db import Database, Row
from bot.store.migrate import load_migrations
from bot.store.processes import LEASE_SECONDS
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    StoreTarget,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, OTHER_GUILD = 1000, 2000
CHANNEL, USER = 11, 21


def new_job(guild_id: int = GUILD, user_id: int = USER, **kwargs: object) -> NewJob:
    fields: dict[str, object] = {
        "guild_id": guild_id,
        "channel_id": CHANNEL,
        "user_id": user_id,
        "operation": "generate",
        "model": "gpt-image-1",
        "prompt": "a lighthouse at dusk",
        "params": {"size": "1024x1024", "quality": "high", "n": 2},
    }
    fields.update(kwargs)
    return NewJob(**fields)  # type: ignore[arg-type]


# --- opening and migrations -----------------------------------------------------------------------


async def test_migrations_are_recorded_once_and_reopening_applies_nothing(
    store_target: StoreTarget,
) -> None:
    first = await store_target.open()
    try:
        assert await first.migrate() == []
    finally:
        await first.close()
    second = await store_target.open()
    try:
        assert await second.migrate() == []
        assert await second.get_guild_settings(GUILD) == GuildSettings(GUILD)
    finally:
        await second.close()


async def test_two_processes_migrating_at_once_both_succeed(store_target: StoreTarget) -> None:
    stores = await asyncio.gather(store_target.open(), store_target.open(), store_target.open())
    try:
        job = await stores[0].create_job(new_job())
        assert await stores[2].get_job(GUILD, job.id) == job
    finally:
        for opened in stores:
            await opened.close()


def test_sqlite_urls_name_relative_and_absolute_files() -> None:
    assert sqlite_path("sqlite:///data/bot.sqlite3") == "data/bot.sqlite3"
    assert sqlite_path("sqlite:////var/lib/bot.sqlite3") == "/var/lib/bot.sqlite3"
    with pytest.raises(ConfigError):
        sqlite_path("sqlite:///")


async def test_unknown_url_schemes_and_sqlite_schemas_are_config_errors(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        await open_store("mysql://localhost/bot")
    with pytest.raises(ConfigError, match="schema"):
        await open_store(f"sqlite:///{tmp_path}/x.sqlite3", schema="nope")


# --- jobs -----------------------------------------------------------------------------------------


async def test_a_job_moves_from_queued_to_succeeded_with_its_outcome(
    store: Store, clock: ManualClock
) -> None:
    job = await store.create_job(new_job(interaction_expires_at=clock.now + 900, credits=34))
    assert job.status == "queued" and job.created_at == clock.now
    assert job.params == {"size": "1024x1024", "quality": "high", "n": 2}
    assert job.interaction_expires_at == clock.now + 900

    clock.advance(1)
    running = await store.mark_running(GUILD, job.id)
    assert running is not None and running.status == "running"
    assert running.started_at == clock.now
    assert await store.mark_running(GUILD, job.id) is None  # not queued any more

    clock.advance(9)
    done = await store.mark_succeeded(
        GUILD,
        job.id,
        revised_prompt="A tall lighthouse at dusk",
        usage=Usage(input_tokens=50, output_tokens=4160, total_tokens=4210),
        credits=34,
        result_channel_id=CHANNEL,
        result_message_id=99,
    )
    assert done is not None
    stored = await store.get_job(GUILD, job.id)
    assert stored == done
    assert (stored.status, stored.finished_at, stored.credits) == ("succeeded", clock.now, 34)
    assert stored.revised_prompt == "A tall lighthouse at dusk"
    assert (stored.usage.input_tokens, stored.usage.output_tokens) == (50, 4160)
    assert stored.usage.total_tokens == 4210
    assert (stored.result_channel_id, stored.result_message_id) == (CHANNEL, 99)
    # An ended job can't fail or be cancelled afterwards.
    assert await store.mark_failed(GUILD, job.id, "timeout") is None
    assert await store.mark_cancelled(GUILD, job.id) is None


async def test_failed_and_cancelled_jobs_keep_their_reason(store: Store) -> None:
    failed = await store.create_job(new_job())
    cancelled = await store.create_job(new_job())
    assert (await store.mark_failed(GUILD, failed.id, "content_rejected")) is not None
    assert (await store.mark_cancelled(GUILD, cancelled.id)) is not None
    got_failed = await store.get_job(GUILD, failed.id)
    got_cancelled = await store.get_job(GUILD, cancelled.id)
    assert got_failed is not None and got_cancelled is not None
    assert (got_failed.status, got_failed.error_kind) == ("failed", "content_rejected")
    assert (got_cancelled.status, got_cancelled.error_kind) == ("cancelled", None)


async def test_result_message_can_be_set_after_the_job_ended(store: Store) -> None:
    job = await store.create_job(new_job())
    await store.mark_succeeded(GUILD, job.id, credits=4)
    updated = await store.set_result_message(GUILD, job.id, 77, 88)
    assert updated is not None and (updated.result_channel_id, updated.result_message_id) == (
        77,
        88,
    )


async def test_recent_jobs_are_newest_first_limited_and_filtered_by_member(
    store: Store, clock: ManualClock
) -> None:
    ids = []
    for index in range(5):
        clock.advance(1)
        job = await store.create_job(new_job(user_id=USER if index % 2 == 0 else USER + 1))
        ids.append(job.id)
    assert [j.id for j in await store.recent_jobs(GUILD)] == ids[::-1]
    assert [j.id for j in await store.recent_jobs(GUILD, limit=2)] == ids[:2:-1]
    assert [j.id for j in await store.recent_jobs(GUILD, user_id=USER)] == [ids[4], ids[2], ids[0]]


async def test_stale_jobs_fail_as_interrupted_when_the_bot_restarts(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    before = await store_target.open(clock=clock)
    queued = await before.create_job(new_job())
    running = await before.create_job(new_job())
    await before.mark_running(GUILD, running.id)
    finished = await before.create_job(new_job())
    await before.mark_succeeded(GUILD, finished.id, credits=4)
    await before.close()

    clock.advance(60)
    after = await store_target.open(clock=clock)
    try:
        stale = await after.fail_stale_jobs()
        assert sorted(j.id for j in stale) == [queued.id, running.id]
        assert all(j.status == "failed" and j.error_kind == "interrupted" for j in stale)
        assert all(j.finished_at == clock.now for j in stale)
        untouched = await after.get_job(GUILD, finished.id)
        assert untouched is not None and untouched.status == "succeeded"
        assert await after.fail_stale_jobs() == []
    finally:
        await after.close()


async def test_stale_jobs_are_those_of_processes_whose_lease_lapsed(
    store_target: StoreTarget, store: Store, clock: ManualClock
) -> None:
    await store.register_process()
    own = await store.create_job(new_job())
    other = await store_target.open(clock=clock)
    try:
        await other.register_process()
        theirs = await other.create_job(new_job())
        clock.advance(LEASE_SECONDS - 1)
        assert await store.fail_stale_jobs() == []  # both leases still run
        clock.advance(2)
        await store.renew_process()
        stale = await store.fail_stale_jobs()
        assert [j.id for j in stale] == [theirs.id]
        kept = await store.get_job(GUILD, own.id)
        assert kept is not None and kept.status == "queued"
    finally:
        await other.close()


async def test_a_guild_cannot_see_or_change_another_guilds_jobs(store: Store) -> None:
    job = await store.create_job(new_job(guild_id=GUILD))
    assert await store.get_job(OTHER_GUILD, job.id) is None
    assert await store.mark_running(OTHER_GUILD, job.id) is None
    assert await store.mark_failed(OTHER_GUILD, job.id, "x") is None
    assert await store.mark_succeeded(OTHER_GUILD, job.id, credits=1) is None
    assert await store.set_result_message(OTHER_GUILD, job.id, 1, 2) is None
    assert await store.recent_jobs(OTHER_GUILD) == []
    assert await store.get_job(GUILD, job.id) == job


# --- guild settings and policy --------------------------------------------------------------------


async def test_guild_settings_default_then_save_and_reload(store_target: StoreTarget) -> None:
    first = await store_target.open()
    try:
        assert await first.get_guild_settings(GUILD) == GuildSettings(GUILD)
        wanted = GuildSettings(
            guild_id=GUILD,
            allowed_models=("gpt-image-1", "dall-e-3"),
            default_model="gpt-image-1",
            allowed_channel_ids=(5, 6),
            moderator_role_ids=(7,),
            mod_log_channel_id=8,
        )
        await first.save_guild_settings(wanted)
        # The cached default is dropped on write.
        assert await first.get_guild_settings(GUILD) == wanted
        assert await first.get_guild_settings(OTHER_GUILD) == GuildSettings(OTHER_GUILD)
    finally:
        await first.close()
    second = await store_target.open()
    try:
        assert await second.get_guild_settings(GUILD) == wanted
        await second.save_guild_settings(GuildSettings(GUILD, allowed_models=()))
        assert (await second.get_guild_settings(GUILD)).allowed_models == ()
    finally:
        await second.close()


async def test_quota_policy_saves_whole_and_single_rules_update_it(store: Store) -> None:
    assert await store.get_quota_policy(GUILD) == QuotaPolicy(GUILD)
    policy = QuotaPolicy(
        guild_id=GUILD,
        window="week",
        user_limit=50,
        server_budget=1000,
        server_window="month",
        cooldown_seconds=15,
        max_in_flight=3,
        moderators_unlimited=True,
        roles={1: RoleRule("unlimited"), 2: RoleRule("limit", 80), 3: RoleRule("blocked")},
        costs={("gpt-image-1", "*", "high"): 20},
    )
    await store.save_quota_policy(policy)
    assert await store.get_quota_policy(GUILD) == policy

    await store.set_role_rule(GUILD, 2, None)
    await store.set_role_rule(GUILD, 4, RoleRule("limit", 5))
    await store.set_cost_override(GUILD, ("my-gateway-model", "*", "*"), 3)
    await store.set_cost_override(GUILD, ("gpt-image-1", "*", "high"), None)
    updated = await store.get_quota_policy(GUILD)
    assert dict(updated.roles) == {
        1: RoleRule("unlimited"),
        3: RoleRule("blocked"),
        4: RoleRule("limit", 5),
    }
    assert dict(updated.costs) == {("my-gateway-model", "*", "*"): 3}
    # Saving a policy replaces the rules rather than merging them.
    await store.save_quota_policy(QuotaPolicy(GUILD, roles={9: RoleRule("blocked")}))
    assert dict((await store.get_quota_policy(GUILD)).roles) == {9: RoleRule("blocked")}
    assert await store.get_quota_policy(OTHER_GUILD) == QuotaPolicy(OTHER_GUILD)


def test_invalid_policies_and_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        RoleRule("limit")
    with pytest.raises(ValueError):
        RoleRule("blocked", 5)
    with pytest.raises(ValueError):
        QuotaPolicy(GUILD, max_in_flight=0)
    with pytest.raises(ValueError):
        QuotaPolicy(GUILD, user_limit=-1)


# --- moderators changing things at the same time ----------------------------------------------


def set_fields(**fields: Any) -> Any:
    """A change that sets some fields of settings or a policy (what a /settings command does)."""
    return lambda current: dataclasses.replace(current, **fields)


async def test_concurrent_settings_changes_of_different_fields_all_survive(store: Store) -> None:
    await store.get_guild_settings(GUILD)  # warm cache: the old code saved this whole row back
    await asyncio.gather(
        store.change_guild_settings(GUILD, set_fields(default_model="dall-e-3")),
        store.change_guild_settings(GUILD, set_fields(allowed_channel_ids=(5, 6))),
        store.change_guild_settings(GUILD, set_fields(moderator_role_ids=(7,))),
        store.change_guild_settings(GUILD, set_fields(mod_log_channel_id=8)),
    )

    assert await store.get_guild_settings(GUILD) == GuildSettings(
        GUILD,
        default_model="dall-e-3",
        allowed_channel_ids=(5, 6),
        moderator_role_ids=(7,),
        mod_log_channel_id=8,
    )


async def test_concurrent_additions_to_one_list_all_survive(store: Store) -> None:
    def add_channel(channel: int) -> Any:
        return lambda s: dataclasses.replace(
            s, allowed_channel_ids=(*s.allowed_channel_ids, channel)
        )

    await asyncio.gather(*(store.change_guild_settings(GUILD, add_channel(c)) for c in range(5)))

    assert sorted((await store.get_guild_settings(GUILD)).allowed_channel_ids) == [0, 1, 2, 3, 4]


async def test_concurrent_policy_changes_rules_and_prices_all_survive(store: Store) -> None:
    price: CostKey = ("gpt-image-1", "*", "high")
    await store.get_quota_policy(GUILD)
    await asyncio.gather(
        store.change_quota_policy(GUILD, set_fields(user_limit=7, window="week")),
        store.change_quota_policy(GUILD, set_fields(cooldown_seconds=30)),
        store.change_quota_policy(GUILD, set_fields(max_in_flight=5)),
        store.set_role_rule(GUILD, 3, RoleRule("unlimited")),
        store.set_cost_override(GUILD, price, 9),
        store.change_quota_policy(GUILD, set_fields(moderators_unlimited=True)),
    )

    assert await store.get_quota_policy(GUILD) == QuotaPolicy(
        GUILD,
        window="week",
        user_limit=7,
        cooldown_seconds=30,
        max_in_flight=5,
        moderators_unlimited=True,
        roles={3: RoleRule("unlimited")},
        costs={price: 9},
    )


async def test_another_process_with_a_warm_cache_does_not_undo_a_change(
    store_target: StoreTarget,
) -> None:
    one, other = await store_target.open(), await store_target.open()
    try:
        await other.get_guild_settings(GUILD)  # both caches hold the defaults
        await other.get_quota_policy(GUILD)
        await one.change_guild_settings(GUILD, set_fields(default_model="dall-e-3"))
        await one.change_quota_policy(GUILD, set_fields(user_limit=5))
        await one.set_role_rule(GUILD, 3, RoleRule("blocked"))
        await one.set_cost_override(GUILD, ("dall-e-3", "*", "*"), 2)

        # The other process changes other fields while its cache still shows the old values.
        await other.change_guild_settings(GUILD, set_fields(mod_log_channel_id=8))
        await other.change_quota_policy(GUILD, set_fields(cooldown_seconds=60))
        changed, policy = await other.get_guild_settings(GUILD), await other.get_quota_policy(GUILD)

        assert changed == GuildSettings(GUILD, default_model="dall-e-3", mod_log_channel_id=8)
        assert policy == QuotaPolicy(
            GUILD,
            user_limit=5,
            cooldown_seconds=60,
            roles={3: RoleRule("blocked")},
            costs={("dall-e-3", "*", "*"): 2},
        )
    finally:
        await one.close()
        await other.close()
    fresh = await store_target.open()
    try:
        assert await fresh.get_guild_settings(GUILD) == changed
        assert await fresh.get_quota_policy(GUILD) == policy
    finally:
        await fresh.close()


async def test_a_refused_change_writes_nothing(store: Store) -> None:
    def refuse(current: GuildSettings) -> GuildSettings:
        raise ValueError("refused")

    await store.change_guild_settings(GUILD, set_fields(default_model="dall-e-3"))
    with pytest.raises(ValueError):
        await store.change_guild_settings(GUILD, refuse)
    with pytest.raises(ValueError):
        await store.change_quota_policy(OTHER_GUILD, set_fields(max_in_flight=0))

    assert await store.get_guild_settings(GUILD) == GuildSettings(GUILD, default_model="dall-e-3")
    assert await store.get_quota_policy(OTHER_GUILD) == QuotaPolicy(OTHER_GUILD)


class PausedReads:
    """A database whose settings reads return only when the test lets them (a slow read)."""

    def __init__(self, db: Database) -> None:
        self.db, self.dialect = db, db.dialect
        self.release = asyncio.Event()
        self.read_done = asyncio.Event()

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row = await self.db.fetchrow(sql, *args)
        if "FROM guild_settings" in sql:
            self.read_done.set()
            await self.release.wait()
        return row

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self.db.fetch(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        await self.db.execute(sql, *args)

    async def executescript(self, script: str) -> None:
        await self.db.executescript(script)

    def transaction(self) -> Any:
        return self.db.transaction()

    async def close(self) -> None:
        await self.db.close()


async def test_a_read_that_raced_a_write_does_not_cache_the_old_row(store: Store) -> None:
    paused = PausedReads(store._db)
    racing = Store(paused, clock=store._clock)  # type: ignore[arg-type]
    read = asyncio.create_task(racing.get_guild_settings(GUILD))
    await paused.read_done.wait()  # it holds the defaults
    await racing.change_guild_settings(GUILD, set_fields(default_model="dall-e-3"))
    paused.release.set()

    assert (await read).default_model is None  # that read began before the change
    assert (await racing.get_guild_settings(GUILD)).default_model == "dall-e-3"


# --- who asked ----------------------------------------------------------------------------------


async def test_jobs_keep_the_name_their_member_asked_under(
    store: Store, clock: ManualClock
) -> None:
    start = clock()
    old = await store.create_job(new_job(requester_name="Ada"))
    clock.advance(60)
    await store.create_job(new_job(requester_name="Ada Lovelace"))
    await store.create_job(new_job(user_id=USER + 1))  # no name known
    await store.create_job(new_job(OTHER_GUILD, USER + 2, requester_name="Elsewhere"))

    assert (await store.get_job(GUILD, old.id)).requester_name == "Ada"  # type: ignore[union-attr]
    names = await store.requester_names(GUILD, start, clock() + 1)
    assert names == {USER: "Ada Lovelace"}
    assert await store.requester_names(GUILD, start, start + 1) == {USER: "Ada"}
    assert await store.requester_names(GUILD, clock() + 1, clock() + 2) == {}


def test_the_requester_name_migration_exists_for_both_backends() -> None:
    for dialect in ("sqlite", "postgres"):
        found = {m.version: m.name for m in load_migrations(dialect)}
        assert found[3] == "requester_name"
