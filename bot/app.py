"""The Discord bot: composition root, the ImageBot, and the tree's single error handler."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n, views
from bot.core import open_core
from bot.errors import ConfigError, NotAllowed
from bot.fetch import DISCORD_MEDIA_HOSTS, Downloader
from bot.gate import local_gate
from bot.health import HealthServer, health_app
from bot.i18n import N_, server_locale, t
from bot.images.client import ImagesClient
from bot.jobs import JobRunner
from bot.metrics import Metrics
from bot.models import Catalog
from bot.offload import Offloader
from bot.provider import utc_today
from bot.providers import Providers
from bot.quotas import QuotaEngine
from bot.service import ImageService
from bot.settings import Settings
from bot.shutdown import on_signals, stop_jobs
from bot.store import Store, open_store
from bot.store.gates import SharedGates
from bot.store.lease import ProcessLease
from bot.store.models import GuildSettings, Job
from bot.store.processes import HEARTBEAT_SECONDS
from cogs.common import report
from cogs.translator import CommandTranslator

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.images",
    "cogs.context",
    "cogs.reply",
    "cogs.buttons",
    "cogs.quota",
    "cogs.settings",
    "cogs.usage",
    "cogs.presets",
    "cogs.preferences",
    "cogs.blend",
    "cogs.library",
)
SWEEP_SECONDS = 5.0  # how soon what a dead process left is made good, once its lease lapsed
INTERRUPTED = N_(
    "Your image job was interrupted by a restart; nothing was charged. Try again with the button."
)
NOTICE_TITLE = N_("Models")
INTERACTION_LIFETIME = 15 * 60.0
MAX_RESTART_NOTICES = 25  # bounds the start-up delay after a crash with many jobs in flight
# View Channels, Send Messages (and in threads), Embed Links, Attach Files, Read Message History.
INVITE_URL = (
    "https://discord.com/oauth2/authorize?client_id={app_id}"
    "&scope=bot+applications.commands&permissions=274878024704"
)
NOTICE_COLOUR = discord.Colour.orange()


@dataclass
class Services:
    """Everything the cogs use, built once by the composition root."""

    settings: Settings
    catalog: Catalog
    session: aiohttp.ClientSession
    client: ImagesClient  # the operator's
    providers: Providers  # the operator's and every server's own
    service: ImageService
    store: Store
    quotas: QuotaEngine
    jobs: JobRunner
    offload: Offloader
    downloader: Downloader
    metrics: Metrics


class ImageTree(app_commands.CommandTree["ImageBot"]):
    """Turns every error of every command into one short, true, ephemeral reply."""

    async def on_error(
        self,
        interaction: discord.Interaction[ImageBot],
        error: app_commands.AppCommandError,
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await report(interaction, error, f"Command {command}")

    async def interaction_check(self, interaction: discord.Interaction[ImageBot]) -> bool:
        """Every command notes its server's Discord language first, so what a moderator's
        command posts to the moderation log already reads in it."""
        interaction.client.note_guild_locale(interaction)
        return True


async def tell_interrupted(bot: ImageBot, jobs: Sequence[Job]) -> None:
    """Tell members whose recent jobs a restart cut short, in the job's channel.

    Interaction tokens are secrets and never stored, so the "thinking" reply can't be edited: a
    channel message mentioning only the member is the honest way. Jobs older than an interaction's
    15 minutes are left alone; their members stopped waiting long ago.
    """
    now = time.time()
    latest: dict[tuple[int, int], Job] = {}  # one notice per member and channel: their last job
    for job in sorted(jobs, key=lambda j: j.id):
        if (job.interaction_expires_at or job.created_at + INTERACTION_LIFETIME) > now:
            latest[(job.channel_id, job.user_id)] = job
    for (channel_id, user_id), job in sorted(latest.items())[:MAX_RESTART_NOTICES]:
        locale = await bot.server_locale(job.guild_id)  # the channel's readers, not only theirs
        try:
            await bot.get_partial_messageable(channel_id).send(
                f"<@{user_id}> {t(locale, INTERRUPTED)}",
                view=views.failure_view(job.id, has_prompt=bool(job.prompt), locale=locale),
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(user_id)]
                ),
            )
        except discord.HTTPException as exc:
            log.info("Could not tell a member about an interrupted job (%s)", exc.status)


class ImageBot(commands.Bot):
    """The bot: cogs from an explicit list, services injected, no prefix commands."""

    def __init__(self, services: Services, **options: Any) -> None:
        # An image bot never joins voice: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()  # mentions carry content without the privileged intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ImageTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.services = services
        self._lease = ProcessLease(services.store, services.settings.data_dir)
        self._background: list[asyncio.Task[None]] = []
        self._announced = False  # on_ready runs again after every reconnect
        self._http: HealthServer | None = None
        # Each server's Discord language, as the latest interaction there carried it.
        self.guild_locales: dict[int, str] = {}

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        # Every catalog read now, off the loop, not on some member's first reply.
        await asyncio.to_thread(i18n.every)
        await self.tree.set_translator(CommandTranslator())
        # The lease first: jobs this process writes from now on must never look orphaned.
        await self._lease.start()
        self._background = [
            asyncio.create_task(self._keep_lease(), name="imagebot-lease"),
            asyncio.create_task(self._sweep(), name="imagebot-sweeper"),
            asyncio.create_task(self._watch_models(), name="imagebot-models"),
            asyncio.create_task(self.services.metrics.watch_loop(), name="imagebot-loop-lag"),
        ]
        self.services.jobs.notice_listeners.append(self.post_notice)
        await self.services.providers.reseal()
        await tell_interrupted(self, await self._recover())
        guild_id = self.services.settings.dev_guild_id
        if guild_id:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("Synced commands to the development server %s", guild_id)

    async def _recover(self) -> list[Job]:
        """Settle the credits and close the jobs of processes that are gone; return those jobs.

        Gone: its lock file in the data folder is free (it crashed on this machine), or its lease
        lapsed. Delivered jobs are charged; the rest refunded. Live processes are left alone.
        """
        await self._lease.bury_dead()
        settled = await self.services.quotas.recover(self.services.jobs.settlement.recovered)
        stale = await self.services.jobs.recover()
        if settled or stale:
            log.info("Recovery: settled %d reservations, closed %d jobs", settled, len(stale))
        return stale

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self._lease.renew()
            except Exception:
                log.warning("Renewing this process's lease failed; will try again", exc_info=True)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await tell_interrupted(self, await self._recover())
            except Exception:
                log.warning("Periodic recovery failed; will try again", exc_info=True)

    async def on_ready(self) -> None:
        """Tell the owner, once per start, who logged in, whether commands are synced, the invite."""
        if not self._announced:
            self._announced = True
            log.info("%s", await self.startup_line())

    async def startup_line(self) -> str:
        """ "logged in as NAME in N servers; commands synced to ... / not synced: ...; invite: URL"."""
        count = len(self.guilds)
        servers = f"{count} server{'' if count == 1 else 's'}"
        invite = INVITE_URL.format(app_id=self.application_id)
        return (
            f"logged in as {self.user} in {servers}; {await self._sync_state()}; invite: {invite}"
        )

    async def _sync_state(self) -> str:
        """Whether Discord has every command of the tree, compared by name (one request)."""
        guild_id = self.services.settings.dev_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        # A development server gets the global commands copied to it (see setup_hook).
        wanted = {c.name for g in {None, guild} for c in self.tree.get_commands(guild=g)}
        try:
            published = {c.name for c in await self.tree.fetch_commands(guild=guild)}
        except discord.HTTPException as exc:
            return f"commands: could not check whether they are synced (Discord said {exc.status})"
        where = f"the development server {guild_id}" if guild_id else "every server (global)"
        if wanted <= published:
            return f"commands synced to {where}"
        return f"commands not synced ({len(wanted - published)} missing): run `./scripts/run sync`"

    async def open_http(self) -> None:
        """Serve /healthz and /metrics when the operator set IMAGEBOT_HTTP_PORT."""
        settings, services = self.services.settings, self.services
        host, port = settings.http_host, settings.http_port
        if port is None or self._http is not None:
            return
        app = health_app(self.connected, services.store.ping, services.metrics.registry)
        server = HealthServer(app, host, port)
        try:
            await server.start()
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise ConfigError(
                [f"IMAGEBOT_HTTP_PORT: can't listen on {host}:{port} ({why})"]
            ) from exc
        self._http = server

    def connected(self) -> bool:
        """Logged in, ready and not closed: what /healthz calls connected to Discord."""
        return self.is_ready() and not self.is_closed()

    async def shutdown(self, grace: float) -> None:
        """Stop gracefully (bot/shutdown.py): no new jobs, the queued refunded and told, the
        running given ``grace`` seconds, then close."""
        jobs = self.services.jobs
        try:
            await stop_jobs(jobs.drain, jobs.cancel, grace)
        finally:
            await self.close()

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        background, self._background = self._background, []
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            await self._lease.stop()
        except Exception:
            log.warning("Could not end this process's lease; it lapses by itself", exc_info=True)
        await super().close()

    async def _watch_models(self) -> None:
        """Re-read every provider's models every few hours; announce shutdowns that come near."""
        providers, every = self.services.providers, self.services.settings.models_refresh_hours
        refresh = False  # the first read happened when each provider was built
        while True:
            try:
                if refresh:
                    for provider in providers.all():
                        await provider.refresh()
                await self.announce_shutdowns()
            except Exception:
                log.warning("Could not check the provider's models; will try again", exc_info=True)
            refresh = True
            await asyncio.sleep(every * 3600)

    async def announce_shutdowns(self) -> None:
        """Tell each server with a moderation log, once, of allowed models its provider shuts
        down soon."""
        store = self.services.store
        for guild_id in await store.mod_log_channels():
            try:
                provider = await self.services.providers.for_guild(guild_id)
            except NotAllowed:
                continue  # no provider it may use: nothing shuts down for it
            allowed = (await store.get_guild_settings(guild_id)).allowed_models
            for state in provider.soon_shut():
                if (allowed is not None and state.name not in allowed) or state.shutdown is None:
                    continue
                instead = provider.replacement(state.spec, "generate")
                text = (N_("{model} shuts down on {day}. Use {instead} instead.") if instead
                        else N_("{model} shuts down on {day}."))  # fmt: skip
                day = state.shutdown.isoformat()
                values = {"model": state.name, "day": day, "instead": instead}
                await self.post_notice(guild_id, f"shutdown:{state.name}:{day}", text, values)

    async def post_notice(
        self, guild_id: int, key: str, text: str, values: Mapping[str, object]
    ) -> None:
        """Post ``text`` (an id marked with N_, filled in with ``values``) to the server's
        moderation log in its language, once per ``key`` (across restarts)."""
        locale = await self.server_locale(guild_id)
        embed = discord.Embed(
            title=t(locale, NOTICE_TITLE), description=t(locale, text, **values),
            colour=NOTICE_COLOUR,
        )  # fmt: skip
        await self.mod_log(guild_id, embed, once=key)

    def note_guild_locale(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the server's Discord language, which every interaction in a server carries
        (what ``server_locale`` falls back on)."""
        if interaction.guild_id and interaction.guild_locale is not None:
            self.guild_locales[interaction.guild_id] = interaction.guild_locale.value

    async def server_locale(self, guild_id: int) -> str:
        """What posts to a server's channels for several people read in (the moderation log,
        notices): ``locale_of`` its settings."""
        return self.locale_of(await self.services.store.get_guild_settings(guild_id))

    def locale_of(self, settings: GuildSettings) -> str:
        """A server's language: its /settings language, else its Discord language (as its
        latest interaction carried it, else as the gateway said), else the operator's. The one
        place this chain is decided; a member's own language comes before it."""
        discord_locale = self.guild_locales.get(settings.guild_id)
        guild = self.get_guild(settings.guild_id)
        if discord_locale is None and guild is not None:
            discord_locale = guild.preferred_locale.value
        return server_locale(settings.language, discord_locale, self.services.settings.locale)

    async def mod_log(
        self,
        guild_id: int,
        embed: discord.Embed,
        *,
        once: str | None = None,
        channel_id: int | None = None,
    ) -> bool:
        """Post ``embed`` to the server's moderation log, if it has one, pinging nobody.

        With ``once``, only the first post under that key is made (across restarts and
        processes); ``channel_id`` names the log when it is no longer in the settings (the
        post saying it was turned off). Every post to a moderation log goes through here. True
        when it was posted.
        """
        store = self.services.store
        channel_id = channel_id or (await store.get_guild_settings(guild_id)).mod_log_channel_id
        if channel_id is None or (
            once is not None and not await store.claim_notice(guild_id, once)
        ):
            return False
        channel = self.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("guild %s: could not post to the moderation log (HTTP %s)",
                        guild_id, exc.status)  # fmt: skip
            return False
        return True

    async def on_message(self, message: discord.Message) -> None:
        """Prefix commands are not used; the reply cog listens for mentions itself."""


class ShardedImageBot(ImageBot, commands.AutoShardedBot):
    """The bot on some of the shards (``IMAGEBOT_SHARD_COUNT``, ``IMAGEBOT_SHARD_IDS``).

    Each process of several runs its own range of shards; one database (PostgreSQL, for the
    providers' shared limits) makes them one bot.
    """

    def __init__(self, services: Services) -> None:
        ids = services.settings.shard_ids
        super().__init__(
            services,
            shard_count=services.settings.shard_count,
            shard_ids=list(ids) if ids is not None else None,
        )

    async def close(self) -> None:
        try:
            await super().close()
        except AttributeError as exc:
            # discord.py's sharded client makes its event queue when it logs in and, closed
            # before that, fails on its very last step, after everything else was closed.
            if "_AutoShardedClient__queue" not in str(exc):
                raise


def make_bot(services: Services) -> ImageBot:
    """The sharded bot when shards are set, else discord.py's plain one."""
    if services.settings.shard_count is None:
        return ImageBot(services)
    return ShardedImageBot(services)


@contextlib.asynccontextmanager
async def create_bot(
    settings: Settings,
    *,
    attachment_hosts: Collection[str] = DISCORD_MEDIA_HOSTS,
    processes: int | None = None,
    today: Callable[[], datetime.date] = utc_today,
) -> AsyncIterator[ImageBot]:
    """Build the bot and its services without connecting; close everything on exit.

    ``processes`` overrides ``settings.worker_processes`` (tests use 0: threads).
    """
    if settings.database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(settings.database_url)
    gates: SharedGates | None = None
    try:
        if store.dialect == "postgres":  # several processes may share it: so do their providers
            gates = await SharedGates.open(settings.database_url)
        elif settings.other_shards:
            log.warning("Several processes on SQLite each keep their own provider limits; "
                        "use PostgreSQL to share them")  # fmt: skip
        workers = settings.worker_processes if processes is None else processes
        async with open_core(
            settings, processes=workers, today=today, gates=gates.gate if gates else local_gate
        ) as core:
            catalog, session, offload = core.catalog, core.session, core.offload
            client, service = core.client, core.service
            quotas = QuotaEngine(store)
            providers = Providers(core.provider, store, settings, core.build_provider)
            jobs = JobRunner(
                service, store, quotas, providers, default_model=settings.default_model
            )
            metrics = Metrics(providers.all)
            jobs.finished_listeners.append(metrics.job_finished)
            jobs.call_listeners.append(metrics.api_call)
            jobs.settlement.listeners.append(metrics.job_settled)
            services = Services(
                settings,
                catalog,
                session,
                client,
                providers,
                service,
                store,
                quotas,
                jobs,
                offload,
                Downloader(session, attachment_hosts),
                metrics,
            )
            bot = make_bot(services)
            try:
                await bot.open_http()  # answers 503 until logged in and ready
                yield bot
            finally:
                await bot.close()
    finally:
        if gates is not None:
            await gates.close()
        await store.close()


def run_bot(settings: Settings, *, sync_only: bool = False) -> int:
    """Log in and serve until stopped (or, with ``sync_only``, publish the commands and exit)."""

    async def sync() -> None:
        # Publishing the commands takes seconds: no HTTP port (the running bot may hold it).
        async with create_bot(dataclasses.replace(settings, http_port=None)) as bot:
            await bot.login(settings.discord_token)
            commands_ = await bot.tree.sync()
            print(f"Published {len(commands_)} commands globally (may take up to an hour).")

    async def serve() -> None:
        async with (
            create_bot(settings) as bot,
            on_signals(functools.partial(bot.shutdown, settings.shutdown_grace)),
        ):
            await bot.start(settings.discord_token)

    try:
        asyncio.run(sync() if sync_only else serve())
    except discord.LoginFailure:
        print("Discord refused the token: check DISCORD_TOKEN (Developer Portal -> Bot).")
        return 2
    except ConfigError as exc:  # e.g. a bad models file, reported in full
        print(exc)
        return 2
    except discord.PrivilegedIntentsRequired:
        print("Discord refused the intents this bot asked for.")
        return 2
    except (aiohttp.ClientError, OSError) as exc:
        # No traceback for an operator whose network is down; the reason is enough.
        print(f"Couldn't reach Discord ({type(exc).__name__}): check the network and try again.")
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
