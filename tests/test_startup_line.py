"""Once logged in, the owner reads who the bot is, whether its commands are synced, and an invite."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import discord
import pytest

from tests.fakes.bot_env import bot_env

INVITE = (
    "invite: https://discord.com/oauth2/authorize?client_id={}"
    "&scope=bot+applications.commands&permissions=274878024704"
)


def startup_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("logged in as ")]


async def test_first_start_says_commands_are_not_synced_and_how_to_invite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    async with bot_env(tmp_path) as env:
        bot = env.bot
        (line,) = startup_lines(caplog)
        assert line.startswith(f"logged in as {bot.user} in 1 server; ")
        assert "commands not synced (" in line and "run `./scripts/run sync`" in line
        assert line.endswith(INVITE.format(env.harness.application_id))
        # After `./scripts/run sync` (a global sync), the next start says so.
        await bot.tree.sync()
        line = await bot.startup_line()
        assert "commands synced to every server (global)" in line
        # on_ready again (a reconnect) does not repeat the line
        await bot.on_ready()
        assert len(startup_lines(caplog)) == 1


async def test_a_development_server_is_named_once_synced(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        bot, guild_id = env.bot, env.harness.guild_id
        bot.services.settings = dataclasses.replace(env.settings, dev_guild_id=guild_id)
        assert "commands not synced" in await bot.startup_line()
        guild = discord.Object(guild_id)
        bot.tree.copy_global_to(guild=guild)  # what setup_hook does with DEV_GUILD_ID
        await bot.tree.sync(guild=guild)
        assert f"commands synced to the development server {guild_id};" in await bot.startup_line()
        assert env.discord.commands(guild_id)
