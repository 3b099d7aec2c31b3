"""The Discord-free core, composed once from settings: shared by the bot and the command line."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from bot.images.client import ImagesClient
from bot.images.preview import PREVIEW_SIDE
from bot.models import Catalog
from bot.offload import Offloader
from bot.provider import Provider, utc_today
from bot.service import ImageService
from bot.settings import Settings


@dataclass
class Core:
    """Catalog, provider (Images API client + what it offers) and image service, on one HTTP
    session and one worker pool."""

    settings: Settings
    catalog: Catalog
    session: aiohttp.ClientSession
    offload: Offloader
    client: ImagesClient
    provider: Provider
    service: ImageService


@contextlib.asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    processes: int | None = 0,
    today: Callable[[], datetime.date] = utc_today,
) -> AsyncIterator[Core]:
    """Build the core (``processes`` worker processes; 0 = threads); close everything on exit.

    The provider's model list is read once here; ``today`` is the clock of its shutdown dates.
    """
    catalog = Catalog.load(settings.models_file)
    offload = Offloader(processes)
    try:
        await offload.start()  # the worker processes start now, off the loop, not in a job
        async with aiohttp.ClientSession() as session:
            client = ImagesClient(
                session,
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
                timeout=settings.request_timeout,
                max_retries=settings.max_retries,
                max_wait=settings.max_wait,
                offload=offload,
                preview_side=PREVIEW_SIDE,
            )
            provider = Provider("the image service", client, catalog, today=today)
            await provider.refresh()
            service = ImageService(
                provider,
                offload,
                max_input_bytes=settings.max_input_bytes,
                safety_salt=settings.safety_key(),
                partial_images=settings.partial_images,
            )
            yield Core(settings, catalog, session, offload, client, provider, service)
    finally:
        offload.close()
