"""Fixture modules shared by the whole suite, and a suite that ignores the owner's configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.stores"]
# What a developer's shell or `.env` may set for their own bot; TEST_DATABASE_URL is the suite's.
_OWNER_VARIABLES = ("IMAGEBOT_", "OPENAI_", "DISCORD_", "DATABASE_URL", "DEV_GUILD_ID", "LOG_LEVEL")


@pytest.fixture(autouse=True)
def _no_owner_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Every test sees none of the owner's settings: no variables, and `.env` only from an empty home.

    Subprocesses the tests start inherit this too (IMAGEBOT_HOME points away from the checkout).
    """
    for name in list(os.environ):
        if name.startswith(_OWNER_VARIABLES):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("imagebot-home")
    monkeypatch.setenv("IMAGEBOT_HOME", str(home))
    return home
