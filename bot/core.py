"""The Discord-free core, composed once from settings: shared by the bot and the command line."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from bot.gate import GateFactory, local_gate
from bot.images.client import ImagesClient
from bot.images.preview import PREVIEW_SIDE
from bot.models import Catalog
from bot.offload import Offloader
from bot.provider import Provider, utc_today
from bot.providers import OPERATORS, GuardedResolver
from bot.scheduler import Scheduler
from bot.service import ImageService
from bot.settings import Settings


@dataclass
class Core:
    """Catalog, the operator's provider (Images API client + what it offers + its queue) and the
    image service, on one HTTP session and one worker pool."""

    settings: Settings
    catalog: Catalog
    session: aiohttp.ClientSession
    offload: Offloader
    client: ImagesClient
    provider: Provider
    service: ImageService
    today: Callable[[], datetime.date] = utc_today
    # Servers' own providers connect through this session: its resolver refuses inward addresses.
    guarded: aiohttp.ClientSession | None = None
    gates: GateFactory = local_gate  # each provider's gate: local, or shared by processes

    def build_provider(self, name: str, base_url: str, api_key: str, guild_id: int) -> Provider:
        """A server's provider: its own client and queue under the operator's limits, connecting
        only where servers' providers may (the guarded session)."""
        return _provider(
            self.settings, self.guarded or self.session, self.offload, self.catalog, self.today,
            name, base_url, api_key, guild_id, self.gates,
        )  # fmt: skip


def _provider(
    settings: Settings,
    session: aiohttp.ClientSession,
    offload: Offloader,
    catalog: Catalog,
    today: Callable[[], datetime.date],
    name: str,
    base_url: str,
    api_key: str,
    guild_id: int | None,
    gates: GateFactory,
) -> Provider:
    client = ImagesClient(
        session,
        base_url=base_url,
        api_key=api_key,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        max_wait=settings.max_wait,
        offload=offload,
        preview_side=PREVIEW_SIDE,
    )
    queue = Scheduler(settings.max_concurrent_requests, queue_size=settings.queue_size)
    gate = gates(base_url, api_key, queue)
    return Provider(
        name, client, catalog, today=today, queue=queue, gate=gate, own=guild_id is not None
    )


@contextlib.asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    processes: int | None = 0,
    today: Callable[[], datetime.date] = utc_today,
    gates: GateFactory = local_gate,
) -> AsyncIterator[Core]:
    """Build the core (``processes`` worker processes; 0 = threads); close everything on exit.

    The provider's model list is read once here; ``today`` is the clock of its shutdown dates.
    ``gates`` makes each provider's gate: shared with the other processes on PostgreSQL
    (``bot.store.gates``), else local.
    """
    catalog = Catalog.load(settings.models_file)
    offload = Offloader(processes)
    try:
        await offload.start()  # the worker processes start now, off the loop, not in a job
        resolver = GuardedResolver(private_ok=settings.private_providers)
        async with (
            aiohttp.ClientSession() as session,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver)) as guarded,
        ):
            # No key: only servers' own providers serve (IMAGEBOT_SHARED_PROVIDER=none), and this
            # placeholder is never sent (Providers never hands the operator's provider out).
            key = settings.openai_api_key or "unset"
            provider = _provider(
                settings, session, offload, catalog, today,
                OPERATORS, settings.openai_base_url, key, None, gates,
            )  # fmt: skip
            client = provider.client
            if settings.shared_provider != ():  # shared with no server: never asked
                await provider.refresh()
            service = ImageService(
                provider,
                offload,
                max_input_bytes=settings.max_input_bytes,
                safety_salt=settings.safety_key(),
                partial_images=settings.partial_images,
            )
            yield Core(
                settings, catalog, session, offload, client, provider, service, today, guarded,
                gates,
            )  # fmt: skip
    finally:
        offload.close()
