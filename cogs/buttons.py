"""Placeholder: filled in by its own change."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import ImageBot


async def setup(bot: ImageBot) -> None:
    """Nothing to register yet."""
