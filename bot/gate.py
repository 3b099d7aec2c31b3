"""The last step before a provider is asked: a slot for the request, and the pause after a 429.

A provider's queue (``bot.scheduler``) already holds its concurrency limit and its rate-limit
pause, fairly, inside one process. When several bot processes (each serving a range of shards)
send to one provider, the limit and the pause have to hold for all of them together: the job that
got a slot of its own process's queue then takes one of the provider's shared slots before it
calls the API. That is this small interface, used by the JobRunner around the one API call:

    async with provider.queue.slot(...), provider.gate.slot():
        ...  # ask the provider
    await provider.gate.pause(seconds)  # it answered 429

``LocalGate`` is one process on its own (SQLite): the queue is all there is, so its slot costs
nothing and its pause is the queue's. ``bot.store.gates.SharedGates`` is the PostgreSQL one.
Which one a provider gets is decided once, from the store's dialect, where providers are built.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.scheduler import Scheduler


class Gate(Protocol):
    """Where a provider's requests pass: ``slot()`` around each request, ``pause()`` after 429."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Hold one of the provider's slots while the request runs (waiting for one if needed)."""
        ...

    async def pause(self, seconds: float) -> None:
        """The provider asked to slow down: start no request to it for ``seconds``."""
        ...


# (base URL, API key, the provider's queue) -> its gate
GateFactory = Callable[[str, str, Scheduler], Gate]

_OPEN: contextlib.nullcontext[None] = contextlib.nullcontext()


class LocalGate:
    """One process alone: the provider's queue already limits and pauses it."""

    def __init__(self, queue: Scheduler) -> None:
        self.queue = queue

    def slot(self) -> AbstractAsyncContextManager[None]:
        return _OPEN

    async def pause(self, seconds: float) -> None:
        self.queue.backoff(seconds)


def local_gate(base_url: str, api_key: str, queue: Scheduler) -> Gate:
    """The gate of a provider when this process is the only one sending to it."""
    return LocalGate(queue)


def provider_key(base_url: str, api_key: str) -> int:
    """A stable signed 32-bit number naming a provider: its base URL and a digest of its key.

    The same in every process and across restarts (no Python ``hash``), so processes meet on it;
    the key itself never leaves the process, only a digest of a digest. The operator's provider
    and a server's own are different providers unless both URL and key are the same.
    """
    key_digest = hashlib.sha256(api_key.encode()).hexdigest()
    ident = hashlib.sha256(f"{base_url.rstrip('/')}\n{key_digest}".encode()).digest()
    return int.from_bytes(ident[:4], "big", signed=True)
