"""Waiting for what the bot does in the background: poll a condition, never a fixed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_until(condition: Callable[[], Any], seconds: float = 5.0) -> Any:
    """The first true value of ``condition``, polled every 10 ms for at most ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not (value := condition()):
        assert loop.time() < deadline, f"the condition never came true within {seconds} s"
        await asyncio.sleep(0.01)
    return value
