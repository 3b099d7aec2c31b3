"""Which provider a server's jobs go to: the operator's, or the one the server brought.

A server's moderators may connect their own OpenAI-compatible endpoint (``/settings provider``):
its base URL and API key are stored with the key sealed (bot/keys.py). Each distinct provider is
one ``Provider``: its own client, its own model list learnt live, and its own queue with its own
concurrency and rate-limit pause, so one server's slow or throttled provider never holds up the
others. Servers without their own use the operator's, when the operator shares it with them
(``IMAGEBOT_SHARED_PROVIDER``: all, none, or a list of server ids).

A server's provider may not live on a loopback, private or link-local address unless the operator
allows it (``IMAGEBOT_PRIVATE_PROVIDERS``): its requests go out from the operator's machine.
Addresses are checked when the provider is set, and again on every connection by the resolver of
the session servers' providers use (``GuardedResolver``), so a name that later resolves inward
gains nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot.errors import APIError, AuthenticationFailed, NotAllowed, QuotaExhausted
from bot.i18n import N_, Command, Text, lazy
from bot.images.urls import allowed
from bot.keys import KeyBox, KeyUnreadable, last_four
from bot.logs import redact_also
from bot.provider import Provider
from bot.settings import Settings, check_base_url
from bot.store import Store

log = logging.getLogger(__name__)

# Providers' names: English ids, read in the reader's language where a message names one.
OPERATORS = N_("the image service")
OWN = N_("this server's image service")
NO_PROVIDER = lazy(
    "This server has no image service connected yet. A moderator can connect one with {command}.",
    command=Command("settings provider"),
)
UNREADABLE_KEY = lazy(
    "This server's image service key can't be read any more (the bot's secret keys changed). "
    "A moderator can set it again with {command}.",
    command=Command("settings provider"),
)
NO_SECRET_KEYS = lazy(
    "The bot's operator hasn't set IMAGEBOT_SECRET_KEYS, so servers can't store their own key yet."
)
PRIVATE_ADDRESS = lazy(
    "That address is on a private or local network, which the bot doesn't connect to for servers."
)
BAD_URL = lazy(
    "The base URL must be an http(s) address such as {example}, without a user name or password.",
    example="https://api.openai.com/v1",
)
CACHE_SECONDS = 60.0  # how stale another process's change of a server's provider may be

# (display name, base URL, API key, guild id) -> a server's provider with its own client and queue
Build = Callable[[str, str, str, int], Provider]


@dataclass(frozen=True, slots=True)
class Trial:
    """What trying a base URL and key found, in a moderator's words (put in their language
    where it is shown)."""

    saved: bool  # good enough to keep
    text: Text
    models: tuple[str, ...] = ()


class Providers:
    """The operator's provider and every server's own, built once each and kept."""

    def __init__(
        self,
        operator: Provider,
        store: Store,
        settings: Settings,
        build: Build,
        *,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.operator = operator
        self.store = store
        self.settings = settings
        self.keys = KeyBox(settings.secret_keys) if settings.secret_keys else None
        self._build = build
        self._cache_seconds = cache_seconds
        self._of_guild: dict[int, tuple[float, Provider | None]] = {}
        self._built: dict[tuple[str, str], Provider] = {}  # (base URL, key digest) -> provider
        self._retired: list[Provider] = []  # replaced, kept while jobs are still in its queue
        self._locks: dict[int, asyncio.Lock] = {}

    def all(self) -> list[Provider]:
        """Every provider in use: the operator's (unless it serves no server) and every
        server's provider built so far."""
        operator = [] if self.settings.shared_provider == () else [self.operator]
        self._retired = [p for p in self._retired if p.queue.queued or p.queue.running]
        return [*operator, *self._built.values(), *self._retired]

    async def for_guild(self, guild_id: int) -> Provider:
        """The provider a server's jobs go to; NotAllowed when it has none it may use."""
        own = await self.own(guild_id)
        if own is not None:
            return own
        if not self.settings.shares_provider_with(guild_id):
            raise NotAllowed(NO_PROVIDER)
        return self.operator

    async def own(self, guild_id: int) -> Provider | None:
        """The server's own provider, or None when it has none."""
        cached = self._of_guild.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        async with self._locks.setdefault(guild_id, asyncio.Lock()):
            cached = self._of_guild.get(guild_id)
            if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
                return cached[1]
            stored = await self.store.get_guild_provider(guild_id)
            provider = None
            if stored is not None:
                if self.keys is None:
                    raise NotAllowed(UNREADABLE_KEY)
                try:
                    key = self.keys.open(stored.sealed_key)
                except KeyUnreadable:
                    log.warning("guild %s: its stored API key can't be decrypted", guild_id)
                    raise NotAllowed(UNREADABLE_KEY) from None
                provider = await self._provider(stored.base_url, key, guild_id)
            if cached is not None and cached[1] is not None and cached[1] is not provider:
                self._forget(guild_id)  # changed by another process: the old one goes
            self._of_guild[guild_id] = (time.monotonic(), provider)
            return provider

    def _forget(self, guild_id: int) -> None:
        """The server's provider changed here: read it afresh; the old one goes."""
        cached = self._of_guild.pop(guild_id, None)
        if cached is not None and cached[1] is not None:
            self._retire(cached[1])

    def _retire(self, provider: Provider) -> None:
        """No longer built for anyone (unless another server still uses it): neither refreshed
        nor kept, once its queue has drained."""
        if any(entry[1] is provider for entry in self._of_guild.values()):
            return
        for ident, built in list(self._built.items()):
            if built is provider:
                del self._built[ident]
                self._retired.append(provider)

    async def _provider(self, base_url: str, key: str, guild_id: int) -> Provider:
        """The one provider of this URL and key, built and its models read the first time."""
        redact_also(key)
        ident = (base_url, hashlib.sha256(key.encode()).hexdigest())
        provider = self._built.get(ident)
        if provider is None:
            provider = self._build(OWN, base_url, key, guild_id)
            self._built[ident] = provider
            await provider.refresh()
        return provider

    # --- moderators' changes ------------------------------------------------------------------

    async def check_address(self, base_url: str) -> str:
        """The checked base URL; NotAllowed for a bad URL or an address servers may not use."""
        try:
            base_url = check_base_url(base_url.strip())
        except ValueError:
            raise NotAllowed(BAD_URL) from None
        if self.settings.private_providers:
            return base_url
        parts = urlsplit(base_url)
        host, port = parts.hostname or "", parts.port or 443
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise NotAllowed(
                lazy("I couldn't find {host}: check the base URL.", host=host)
            ) from None
        found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not found or not all(allowed(a, internal_ok=False) for a in found):
            raise NotAllowed(PRIVATE_ADDRESS)
        return base_url

    async def try_out(self, guild_id: int, base_url: str, key: str) -> Trial:
        """Read the models ``key`` gets at ``base_url``: whether to save, and what to tell."""
        key = key.strip()
        if len(key) < 8 or any(c.isspace() for c in key):
            return Trial(False, lazy("That doesn't look like an API key. Nothing was saved."))
        base_url = await self.check_address(base_url)
        redact_also(key)
        trial = self._build(OWN, base_url, key, guild_id)
        await trial.refresh()
        err = trial.refresh_error
        host = urlsplit(base_url).hostname or base_url
        if isinstance(err, AuthenticationFailed):
            return Trial(False, lazy("{host} refused this API key. Nothing was saved.", host=host))
        if isinstance(err, QuotaExhausted):
            return Trial(
                False,
                lazy("{host} says this key has no credit left. Nothing was saved.", host=host),
            )
        if isinstance(err, APIError):
            return Trial(
                False,
                lazy("I couldn't reach {host}: {why} Nothing was saved.", host=host, why=err.text),
            )
        names = tuple(spec.name for spec in trial.usable())
        if trial.has_model_route is False or trial.listing is None:
            unverified = (
                N_("Saved, but I couldn't verify it: it has no model list. The key will be tried "
                   "with the first image; members get the bot's usual models meanwhile.")
                if trial.has_model_route is False
                else N_("Saved, but I couldn't verify it: its model list names none of the image "
                        "models. The key will be tried with the first image; members get the "
                        "bot's usual models meanwhile.")
            )  # fmt: skip
            return Trial(True, lazy(unverified), names)
        if not names:
            return Trial(False, lazy("{host} offers no image model I know. Nothing was saved.",
                                     host=host))  # fmt: skip
        return Trial(True, lazy("Connected to {host}.", host=host), names)

    async def set(self, guild_id: int, base_url: str, key: str, actor: int | None) -> str:
        """Seal and store a server's provider (already tried); its hint ("…abcd")."""
        if self.keys is None:
            raise NotAllowed(NO_SECRET_KEYS)
        base_url = await self.check_address(base_url)
        key = key.strip()
        hint = last_four(key)
        await self.store.set_guild_provider(
            guild_id, base_url, self.keys.seal(key), hint, set_by=actor
        )
        self._forget(guild_id)
        return hint

    async def clear(self, guild_id: int) -> bool:
        """Forget a server's provider; whether it had one."""
        had = await self.store.get_guild_provider(guild_id) is not None
        await self.store.clear_guild_provider(guild_id)
        self._forget(guild_id)
        return had

    async def reseal(self) -> int:
        """Re-encrypt every stored key that isn't under the operator's newest key; how many."""
        if self.keys is None:
            return 0
        count = 0
        for stored in await self.store.guild_providers():
            try:
                if not self.keys.needs_rotation(stored.sealed_key):
                    continue
                fresh = self.keys.rotate(stored.sealed_key)
            except KeyUnreadable:
                log.warning("guild %s: its stored API key can't be decrypted", stored.guild_id)
                continue
            await self.store.reseal_guild_provider(stored.guild_id, stored.sealed_key, fresh)
            count += 1
        if count:
            log.info("Re-encrypted %d stored API key%s with the newest secret key",
                     count, "" if count == 1 else "s")  # fmt: skip
        return count


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default, but never to an address servers' providers may not use."""

    def __init__(self, *, private_ok: bool) -> None:
        self._inner = DefaultResolver()
        self._private_ok = private_ok

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [
            entry
            for entry in found
            if allowed(ipaddress.ip_address(entry["host"]), internal_ok=self._private_ok)
        ]
        if not kept:
            raise OSError(f"{host} resolves only to addresses the bot won't connect to")
        return kept

    async def close(self) -> None:
        await self._inner.close()
