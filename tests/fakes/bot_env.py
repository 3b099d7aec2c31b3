"""The whole bot, end to end: real ImageBot + fake Discord + fake Images API + a real store.

async with bot_env(tmp_path) as env:
    record = await env.harness.slash("imagine", {"prompt": "a fox"})
    env.api.image_requests      # what the Images API received
    await env.store.get_job(env.harness.guild_id, job_id)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import ImageBot, create_bot
from bot.settings import Settings
from bot.store import Store
from tests.fakes import discord_harness
from tests.fakes.discord_harness import BotHarness
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer

DISCORD_TOKEN = "fake-bot-token-SECRET-0123456789"
# The bot's clock for shutdown dates: the day the fakes' world was recorded, never the real today.
SNAPSHOT_DAY = datetime.date(2026, 12, 1)
# The fake Images API serves from the test's own loop: its idle keep-alive handlers are not bot work.
if "RequestHandler.start" not in discord_harness.BACKGROUND_MARKERS:
    discord_harness.BACKGROUND_MARKERS += ("RequestHandler.start",)


@dataclass
class BotEnv:
    """Handles on everything a test drives or inspects."""

    api: FakeImagesServer
    discord: FakeDiscord
    harness: BotHarness
    bot: ImageBot
    settings: Settings

    @property
    def store(self) -> Store:
        return self.bot.services.store


def make_settings(tmp_path: Path, api: FakeImagesServer, **overrides: Any) -> Settings:
    """Settings for a test bot: fake API, a fresh SQLite file, small limits."""
    base = Settings(
        discord_token=DISCORD_TOKEN,
        openai_api_key=TEST_API_KEY,
        openai_base_url=api.base_url,
        default_model="gpt-image-1",
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'bot.sqlite3'}",
        request_timeout=10.0,
        max_retries=1,
        partial_images=0,  # previews are tested where they matter (tests/test_e2e_stream.py)
    )
    return dataclasses.replace(base, **overrides)


@contextlib.asynccontextmanager
async def bot_env(
    tmp_path: Path,
    *,
    api: FakeImagesServer | None = None,
    discord_fake: FakeDiscord | None = None,
    today: datetime.date = SNAPSHOT_DAY,
    **settings_overrides: Any,
) -> AsyncIterator[BotEnv]:
    """Start the fakes (unless given) and a logged-in ImageBot; tear everything down after."""
    async with contextlib.AsyncExitStack() as stack:
        if api is None:
            api = await stack.enter_async_context(FakeImagesServer())
        if discord_fake is None:
            discord_fake = await stack.enter_async_context(FakeDiscord(token=DISCORD_TOKEN))
        settings = make_settings(tmp_path, api, **settings_overrides)
        bot = await stack.enter_async_context(
            create_bot(settings, attachment_hosts={"127.0.0.1"}, processes=0, today=lambda: today)
        )
        harness = await BotHarness.start(bot, discord_fake)
        stack.push_async_callback(harness.close)
        yield BotEnv(api, discord_fake, harness, bot, settings)
