"""The optional HTTP port: ``/healthz`` for a process supervisor, ``/metrics`` for Prometheus.

It runs in the bot's own event loop (aiohttp's ``AppRunner``), so a blocked loop shows as a
health check that times out, which is what it is. Healthy means connected to Discord and the
store answering within ``PING_SECONDS``; anything else answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

PING_SECONDS = 2.0  # a store slower than this is as good as down to whoever asks


async def health(connected: Callable[[], bool], ping: Callable[[], Awaitable[None]]) -> str:
    """Why the bot is unhealthy, or "" when it is connected and its store answers."""
    if not connected():
        return "not connected to Discord"
    try:
        await asyncio.wait_for(ping(), PING_SECONDS)
    except Exception as exc:  # the reason is for the operator, never the store's own text
        log.warning("Health check: the store did not answer (%s)", type(exc).__name__)
        return "the store does not answer"
    return ""


def health_app(
    connected: Callable[[], bool],
    ping: Callable[[], Awaitable[None]],
    registry: CollectorRegistry,
) -> web.Application:
    """``/healthz`` (200 "ok" or 503 with the reason) and ``/metrics`` (the text format)."""

    async def healthz(request: web.Request) -> web.Response:
        why = await health(connected, ping)
        return web.Response(status=503 if why else 200, text=f"{why or 'ok'}\n")

    async def metrics(request: web.Request) -> web.Response:
        # On the loop: collecting reads the providers' queues, which only the loop may touch.
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


class HealthServer:
    """``health_app`` served on ``host:port`` until ``close``."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=PING_SECONDS + 1)

    async def start(self) -> None:
        """Listen; an address already in use raises OSError, named for the operator."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError:
            await self._runner.cleanup()
            raise
        log.info("Health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        await self._runner.cleanup()
