"""Several bot processes, one set of provider limits (PostgreSQL), and the sharded bot's wiring.

"Processes" here are headless bots (tests/fakes/headless.py: the real ``create_bot``, never logged
in, its JobRunner driven directly), each on its own pool and gates connection: two in this test's
process, or a real child process that is killed mid-job.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import discord
import pytest

from bot.app import ImageBot, create_bot
from bot.errors import ConfigError
from bot.gate import LocalGate, provider_key
from bot.keys import new_secret_key
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.store import open_store
from bot.store.gates import SharedGate, SharedGates
from tests.fakes.bot_env import bot_env
from tests.fakes.headless import (
    GUILD,
    ROOT,
    HeadlessProcess,
    allow_everything,
    headless_bot,
    headless_settings,
    run_job,
    run_jobs,
)
from tests.fakes.openai_server import FakeImagesServer
from tests.fakes.stores import fresh_postgres_database, postgres_url
from tests.waiting import wait_until

CONCURRENCY = 4


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (advisory locks are per database)."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def api() -> AsyncIterator[FakeImagesServer]:
    async with FakeImagesServer() as fake:
        yield fake


@contextlib.asynccontextmanager
async def two_bots(
    database_url: str, api: FakeImagesServer, tmp_path: Path
) -> AsyncIterator[tuple[ImageBot, ImageBot]]:
    async with (
        headless_bot(database_url, api.base_url, tmp_path / "a") as first,
        headless_bot(database_url, api.base_url, tmp_path / "b") as second,
    ):
        yield first, second


def _answered_429(api: FakeImagesServer) -> float:
    return next(a.answered for a in api.image_times if a.status == 429)


# --- one process: nothing changes ------------------------------------------------------------------


async def test_on_sqlite_each_provider_keeps_its_local_gate(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        operator = env.bot.services.providers.operator
        assert isinstance(operator.gate, LocalGate)
        assert operator.gate.queue is operator.queue


def test_a_providers_key_names_its_url_and_key_and_nothing_else() -> None:
    key = provider_key("https://api.example.com/v1", "sk-one")
    assert key == provider_key("https://api.example.com/v1/", "sk-one")
    assert -(2**31) <= key < 2**31
    assert key != provider_key("https://api.example.com/v1", "sk-two")
    assert key != provider_key("https://other.example.com/v1", "sk-one")


# --- several processes on PostgreSQL ---------------------------------------------------------------


async def test_two_processes_never_send_more_than_the_providers_limit(
    database_url: str, api: FakeImagesServer, tmp_path: Path
) -> None:
    api.latency = 0.1
    async with two_bots(database_url, api, tmp_path) as (first, second):
        assert isinstance(first.services.providers.operator.gate, SharedGate)
        results = await asyncio.gather(run_jobs(first, 20), run_jobs(second, 20))
    assert results == [(20, 0), (20, 0)]
    assert len(api.image_requests) == 40
    assert api.max_in_flight == CONCURRENCY  # reached, never passed (each process alone: 4)


async def test_a_429_seen_by_one_process_pauses_the_other(
    database_url: str, api: FakeImagesServer, tmp_path: Path
) -> None:
    async with two_bots(database_url, api, tmp_path) as (first, second):
        api.fail_next("rate_limit", retry_after=1.5)
        assert not await run_job(first)  # refused by the 429 (no retries in these bots)
        paused_at = _answered_429(api)
        assert await run_job(second)
    second_sent = api.image_times[-1].arrived
    assert second_sent - paused_at >= 1.4  # it waited out the other process's pause


async def test_a_pause_reaches_requests_already_waiting_in_the_other_process(
    database_url: str, api: FakeImagesServer, tmp_path: Path
) -> None:
    api.latency = 0.3
    async with two_bots(database_url, api, tmp_path) as (first, second):
        api.fail_next("rate_limit", retry_after=1.0)
        refused = asyncio.create_task(run_jobs(first, 1))
        await wait_until(lambda: api.in_flight == 1)  # the first request: the 429 is its answer
        # The other process's jobs: three take the free slots, nine wait for them.
        results = [await run_jobs(second, 12), await refused]
    assert results == [(12, 0), (0, 1)]
    paused_at = _answered_429(api)
    during = [a for a in api.image_times if paused_at + 0.1 < a.arrived < paused_at + 1.0]
    assert during == []  # requests in flight at the 429 are let be; no new one started


async def test_each_servers_own_provider_has_limits_of_its_own(
    database_url: str, tmp_path: Path
) -> None:
    own_guild = GUILD + 1
    async with (
        FakeImagesServer(api_key=None) as api,  # any key: the server's own is another account
        headless_bot(
            database_url, api.base_url, tmp_path,
            secret_keys=(new_secret_key(),), private_providers=True,
        ) as bot,
    ):  # fmt: skip
        providers = bot.services.providers
        await providers.set(own_guild, api.base_url, "sk-the-servers-own-key", actor=None)
        await allow_everything(bot, own_guild)
        own = await providers.for_guild(own_guild)
        assert isinstance(own.gate, SharedGate) and isinstance(providers.operator.gate, SharedGate)
        assert own.gate.key != providers.operator.gate.key
        async with contextlib.AsyncExitStack() as held:  # the operator's provider is saturated
            for _ in range(CONCURRENCY):
                await held.enter_async_context(providers.operator.gate.slot())
            operators_job = asyncio.create_task(run_job(bot))
            assert await asyncio.wait_for(run_job(bot, guild_id=own_guild), 10)
            await asyncio.sleep(0.3)
            assert not operators_job.done()  # still waiting for the operator's slots
        assert await asyncio.wait_for(operators_job, 10)


async def test_a_killed_process_frees_its_slots_within_ten_seconds(
    database_url: str, api: FakeImagesServer, tmp_path: Path
) -> None:
    api.latency = 60.0  # the child's requests hang until it dies
    async with headless_bot(database_url, api.base_url, tmp_path / "live") as live:
        child = await HeadlessProcess.start(database_url, api.base_url, tmp_path / "doomed")
        try:
            child.send(CONCURRENCY)
            await wait_until(lambda: api.in_flight == CONCURRENCY, 30)  # it holds every slot
            waiting = asyncio.create_task(run_jobs(live, CONCURRENCY))
            await asyncio.sleep(0.5)
            assert len(api.image_requests) == CONCURRENCY  # the live process waits its turn
            api.latency = 0.05
            child.kill()
            killed = time.monotonic()
            assert await asyncio.wait_for(waiting, 15) == (CONCURRENCY, 0)
            assert time.monotonic() - killed < 10
        finally:
            child.kill()
            await child.stop()


async def test_gates_of_different_providers_dont_share_slots(database_url: str) -> None:
    await (await open_store(database_url)).close()  # migrated
    gates = await SharedGates.open(database_url)
    try:
        first = gates.gate("http://a.example/v1", "key", Scheduler(1))
        second = gates.gate("http://b.example/v1", "key", Scheduler(1))
        async with first.slot():
            async with asyncio.timeout(2), second.slot():
                pass  # taken at once: another provider's limit
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3), first.slot():
                    pass  # its one slot is taken
    finally:
        await gates.close()


async def test_the_limit_holds_after_the_database_dropped_the_gates_connection(
    database_url: str,
) -> None:
    await (await open_store(database_url)).close()
    here, there = await SharedGates.open(database_url), await SharedGates.open(database_url)
    try:
        ours = here.gate("http://a.example/v1", "key", Scheduler(2))
        theirs = there.gate("http://a.example/v1", "key", Scheduler(2))
        async with ours.slot():
            admin = await asyncpg.connect(database_url)
            try:  # e.g. a restarted PostgreSQL or a cut connection: both processes' go
                pids = [gates._conn.get_server_pid() for gates in (here, there) if gates._conn]
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", pids
                )
            finally:
                await admin.close()
            async with asyncio.timeout(5), ours.slot():  # reconnected, the running one retaken
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.5), theirs.slot():
                        pass  # both slots are still ours
        async with asyncio.timeout(2), theirs.slot():
            pass
    finally:
        await here.close()
        await there.close()


# --- sharding ----------------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    return {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", **extra}


def test_shard_ids_are_read_as_ranges_and_lists() -> None:
    settings = Settings.from_env(_env(IMAGEBOT_SHARD_COUNT="8", IMAGEBOT_SHARD_IDS="0-3,6"))
    assert (settings.shard_count, settings.shard_ids) == (8, (0, 1, 2, 3, 6))
    alone = Settings.from_env(_env())
    assert (alone.shard_count, alone.shard_ids) == (None, None)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"IMAGEBOT_SHARD_IDS": "0,1"}, "IMAGEBOT_SHARD_IDS needs IMAGEBOT_SHARD_COUNT"),
        ({"IMAGEBOT_SHARD_COUNT": "2", "IMAGEBOT_SHARD_IDS": "1-2"}, "must be below"),
        ({"IMAGEBOT_SHARD_COUNT": "2", "IMAGEBOT_SHARD_IDS": "one"}, "such as 0-3 or 0,1"),
        ({"IMAGEBOT_SHARD_COUNT": "0"}, "IMAGEBOT_SHARD_COUNT must be a whole number"),
    ],
)
def test_shard_settings_that_cant_work_are_refused(extra: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(_env(**extra))
    assert problem in str(refused.value)


async def test_a_sharded_bot_runs_the_shards_it_was_given(
    api: FakeImagesServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    sharded = headless_settings(url, api.base_url, tmp_path, shard_count=4, shard_ids=(2, 3))
    async with create_bot(sharded, processes=0) as bot:
        assert isinstance(bot, discord.AutoShardedClient) and isinstance(bot, ImageBot)
        assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])
    # Other processes run shards 0 and 1, and SQLite can't share the provider's limits with them.
    assert "use PostgreSQL to share them" in caplog.text
    alone = headless_settings(url, api.base_url, tmp_path)
    async with create_bot(alone, processes=0) as bot:
        assert not isinstance(bot, discord.AutoShardedClient)
        assert bot.shard_count is None


# --- the benchmark -------------------------------------------------------------------------------


def test_bench_processes_prints_each_figure_beside_its_target() -> None:
    postgres_url()  # skips without PostgreSQL
    run = subprocess.run(
        [sys.executable, "bench/bench_processes.py", "--jobs", "8", "--latency", "0.05",
         "--pause", "0.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    for row in (
        "1 process: most requests at once",
        "2 processes: wall time",
        "requests started in the 0.5 s pause",
        "slot release after SIGKILL",
    ):
        assert row in run.stdout
    assert "target" in run.stdout and "8/8" in run.stdout
