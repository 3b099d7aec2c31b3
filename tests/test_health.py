"""The optional HTTP port: /healthz for supervisors, /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_bot
from bot.errors import ConfigError
from bot.health import health
from bot.metrics import Metrics
from bot.settings import Settings
from tests.fakes.bot_env import DISCORD_TOKEN, SNAPSHOT_DAY, bot_env, make_settings
from tests.fakes.discord_harness import BotHarness
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer
from tests.fakes.stores import StoreTarget, store_target_fixture  # noqa: F401
from tests.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def get(port: int, path: str) -> tuple[int, str, str]:
    """Status, content type and text of ``GET http://127.0.0.1:port/path``."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, resp.headers["Content-Type"], await resp.text()


async def scrape(port: int) -> tuple[Samples, str]:
    """Every sample of /metrics as read by prometheus_client's own parser, and the raw text."""
    status, content_type, text = await get(port, "/metrics")
    assert status == 200 and content_type == CONTENT_TYPE_LATEST
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_healthz_follows_discord_and_the_store(tmp_path: Path) -> None:
    port = free_port()
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        settings = make_settings(tmp_path, api, http_port=port)
        async with create_bot(
            settings, attachment_hosts={"127.0.0.1"}, processes=0, today=lambda: SNAPSHOT_DAY
        ) as bot:
            assert await get(port, "/healthz") == (
                503, "text/plain; charset=utf-8", "not connected to Discord\n"
            )  # fmt: skip

            harness = await BotHarness.start(bot, fake)
            try:
                status, _, text = await get(port, "/healthz")
                assert (status, text) == (200, "ok\n")

                await bot.services.store.close()
                status, _, text = await get(port, "/healthz")
                assert (status, text) == (503, "the store does not answer\n")
            finally:
                await harness.close()
            # A closed bot stops listening.
            with pytest.raises(aiohttp.ClientConnectionError):
                await get(port, "/healthz")


async def test_the_health_check_asks_the_store_on_both_databases(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        assert await health(lambda: True, store.ping) == ""
        assert await health(lambda: False, store.ping) == "not connected to Discord"
    finally:
        await store.close()
    assert await health(lambda: True, store.ping) == "the store does not answer"


async def test_metrics_parse_and_count_the_jobs_that_ran(tmp_path: Path) -> None:
    port = free_port()
    async with bot_env(tmp_path, http_port=port) as env:
        h, api = env.harness, env.api
        await h.slash("imagine", {"prompt": "a red fox"})
        await h.slash("imagine", {"prompt": "a blue fox", "n": 2})
        api.fail_next("content_policy_violation")
        assert "safety" in (await h.slash("imagine", {"prompt": "a grey fox"})).failure_text
        api.fail_next("rate_limit", times=2, retry_after=0.01)
        await h.slash("imagine", {"prompt": "a busy fox"})
        await h.slash("imagine", {"prompt": "a tiny fox", "size": "7x7"})  # refused: no such size

        samples, text = await scrape(port)

        jobs = "imagebot_jobs_total"
        generate = {"operation": "generate", "model": "gpt-image-1"}
        assert value(samples, jobs, **generate, outcome="delivered") == 2
        assert value(samples, jobs, **generate, outcome="failed_content_rejected") == 1
        assert value(samples, jobs, **generate, outcome="failed_rate_limited") == 1
        assert value(samples, jobs, **generate, outcome="refused") == 1
        assert sum(v for (name, _), v in samples.items() if name == jobs) == 5
        assert value(samples, "imagebot_api_seconds_count", **generate) == 4  # the refused: none
        assert value(samples, "imagebot_rate_limited_total") == 1
        charged = [await env.store.get_job(h.guild_id, job_id) for job_id in (1, 2)]
        credits = sum(job.credits for job in charged if job is not None)
        assert credits > 0 and value(samples, "imagebot_credits_spent_total") == credits
        assert value(samples, "imagebot_money_spent_usd_total") == 0
        assert value(samples, "imagebot_queue_depth", provider="operator") == 0
        assert ("imagebot_event_loop_lag_seconds", frozenset()) in samples
        # Nothing secret or identifying in what anyone on the port may read.
        for secret in (TEST_API_KEY, api.base_url, DISCORD_TOKEN, str(h.user_id)):
            assert secret not in text


async def test_queue_depth_shows_the_jobs_waiting_and_running(tmp_path: Path) -> None:
    port = free_port()
    async with bot_env(tmp_path, http_port=port, max_concurrent_requests=1) as env:
        env.api.latency = 0.5
        h = env.harness
        other = await h.add_member("second member")
        await h.slash("imagine", {"prompt": "first"}, settle=False)
        await wait_until(lambda: env.api.image_requests)
        await h.slash("imagine", {"prompt": "second"}, settle=False)
        await h.slash("imagine", {"prompt": "third"}, user=other, settle=False)
        await wait_until(lambda: env.bot.services.providers.operator.queue.queued == 2)

        samples, _ = await scrape(port)

        assert value(samples, "imagebot_queue_depth", provider="operator") == 2
        assert value(samples, "imagebot_jobs_running", provider="operator") == 1
        assert value(samples, "imagebot_queue_depth", provider="server") == 0
        await h.settle(10)
        samples, _ = await scrape(port)
        assert value(samples, "imagebot_queue_depth", provider="operator") == 0
        delivered = {"operation": "generate", "model": "gpt-image-1", "outcome": "delivered"}
        assert value(samples, "imagebot_jobs_total", **delivered) == 3


async def test_a_blocked_event_loop_shows_as_lag() -> None:
    metrics = Metrics(list)
    watcher = asyncio.create_task(metrics.watch_loop(every=0.05))
    try:
        await asyncio.sleep(0.01)  # the watcher is asleep now
        time.sleep(0.2)  # noqa: ASYNC251 - the point: a blocked loop
        read = metrics.registry.get_sample_value
        await wait_until(lambda: (read("imagebot_event_loop_lag_seconds") or 0) > 0.1)
        assert (read("imagebot_event_loop_lag_histogram_seconds_sum") or 0) > 0.1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_a_port_in_use_is_named_for_the_operator(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeImagesServer() as api:
            settings = make_settings(tmp_path, api, http_port=port)
            with pytest.raises(ConfigError) as raised:
                async with create_bot(settings, processes=0):
                    pass
    assert f"IMAGEBOT_HTTP_PORT: can't listen on 127.0.0.1:{port}" in str(raised.value)


def test_the_port_is_off_unless_set_and_binds_to_this_machine() -> None:
    base = {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k"}
    defaults = Settings.from_env(base)
    assert (defaults.http_port, defaults.http_host, defaults.shutdown_grace) == (
        None, "127.0.0.1", 60.0
    )  # fmt: skip
    assert Settings.from_env({**base, "IMAGEBOT_HTTP_PORT": "0"}).http_port is None
    chosen = Settings.from_env(
        {**base, "IMAGEBOT_HTTP_PORT": "9108", "IMAGEBOT_HTTP_HOST": "0.0.0.0",
         "IMAGEBOT_SHUTDOWN_GRACE": "5"}
    )  # fmt: skip
    assert (chosen.http_port, chosen.http_host, chosen.shutdown_grace) == (9108, "0.0.0.0", 5.0)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**base, "IMAGEBOT_HTTP_PORT": "70000", "IMAGEBOT_SHUTDOWN_GRACE": "-1"})
    assert raised.value.problems == (
        "IMAGEBOT_HTTP_PORT must be a port number from 1 to 65535 (0 or empty: off)",
        "IMAGEBOT_SHUTDOWN_GRACE must be a number of at least 0",
    )
