"""Drive a real discord.py bot against FakeDiscord, with no gateway and no network.

``BotHarness.start`` logs the bot in (real ``Client.login``: GET /users/@me, GET
/oauth2/applications/@me, ``setup_hook``), then feeds READY and GUILD_CREATE through the
connection state's own parsers. Each injection (slash, click, message...) builds a payload shaped
like Discord's, runs the parser, then waits until every task the event started has finished or
is parked waiting for the user (``bot.wait_for``, ``view.wait()``); timers such as view timeouts
and ``delete_after`` are not waited for.

    async with FakeDiscord() as discord_fake:
        harness = await BotHarness.start(make_bot(), discord_fake)
        try:
            record = await harness.slash("imagine", {"prompt": "a fox", "n": 2})
            assert record.callback_type == 5
            (followup,) = record.followups
            assert followup.files[0].kind == "png"
        finally:
            await harness.close()
"""

from __future__ import annotations

import asyncio
import copy
import io
import logging
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.enums import AppCommandOptionType as Opt

from tests.fakes.discord_server import (
    DEFAULT_UPLOAD_LIMIT,
    JSON,
    FakeDiscord,
    FakeError,
    RecordedRequest,
    UploadedFile,
    interaction_token,
    iso,
    reply_fields,
)

ORDINARY_PERMISSIONS = 2248473465835073  # an ordinary member: no Manage Guild, no Manage Messages
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
MODERATOR_PERMISSIONS = ORDINARY_PERMISSIONS | MANAGE_GUILD | MANAGE_MESSAGES
ALL_PERMISSIONS = discord.Permissions.all().value
SELECTS = (3, 5, 6, 7, 8)
# Tasks that only sleep until a timeout (view timeouts, delete_after, ext.tasks loops): settling
# does not wait for them; close() cancels them.
BACKGROUND_MARKERS = (
    "__timeout_task_impl",
    "Loop._loop",
    ".inner_call",
    "Message.delete.<locals>.delete",
)

AttachmentLike = JSON | tuple[str, bytes] | tuple[str, bytes, str]
UserLike = int | discord.abc.Snowflake


class HarnessError(AssertionError):
    """The test asked for something Discord could not send, or the bot never settled."""


class UnhandledBotError(HarnessError):
    """An exception reached discord.py's default handlers (or the fake could not serve a call)."""

    def __init__(self, message: str, record: EventRecord):
        super().__init__(message)
        self.record = record


@dataclass
class EventRecord:
    """What one injected event made the bot do."""

    harness: BotHarness
    event: str
    payload: JSON
    _requests: tuple[int, int | None] = (0, None)
    _errors: tuple[int, int | None] = (0, None)
    _first_id: int = 0

    @property
    def fake(self) -> FakeDiscord:
        return self.harness.fake

    @property
    def requests(self) -> list[RecordedRequest]:
        """API requests the fake received while this event was handled."""
        return self.fake.requests[slice(*self._requests)]

    @property
    def errors(self) -> list[str]:
        """Exceptions that reached discord.py's default handlers while handling this event."""
        return self.harness.errors[slice(*self._errors)]

    @property
    def messages(self) -> list[JSON]:
        """Bot messages created by this event (current state; deleted ones left out)."""
        return [m for m in self.fake.bot_messages() if int(m["id"]) > self._first_id]

    @property
    def files(self) -> list[UploadedFile]:
        """Every file the bot uploaded while handling this event."""
        return [f for r in self.requests for f in r.files]

    @property
    def text(self) -> str:
        """All text the bot got shown to users (content, embeds, text displays), one per line."""
        return "\n".join(
            t for r in self.requests if 200 <= r.status < 300 for t in visible_text(r.json)
        )


@dataclass
class InteractionRecord(EventRecord):
    """An injected interaction and every response the bot made to it (read live from the fake)."""

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def callbacks(self) -> list[RecordedRequest]:
        """Every callback request, including failed and injected ones."""
        return self.fake.callbacks(self.id)

    @property
    def callback(self) -> RecordedRequest:
        """The callback Discord accepted."""
        accepted = [r for r in self.callbacks if 200 <= r.status < 300]
        if not accepted:
            raise HarnessError(
                f"interaction {self.id} was never acknowledged; callbacks: {self.callbacks}"
            )
        return accepted[-1]

    @property
    def callback_type(self) -> int | None:
        """4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal; None."""
        accepted = [r for r in self.callbacks if 200 <= r.status < 300]
        return accepted[-1].json["type"] if accepted else None

    @property
    def followups(self) -> list[RecordedRequest]:
        return self.fake.followups(self.token)

    @property
    def edits(self) -> list[RecordedRequest]:
        """PATCH requests to this interaction's @original."""
        return [
            r
            for r in self.fake.webhook_requests(self.token)
            if r.method == "PATCH" and r.path.endswith("@original")
        ]

    @property
    def original(self) -> JSON | None:
        """The original response message as it is now (None if never created or deleted)."""
        state = self.fake.interactions.get(self.token)
        return self.fake.messages.get(state.original_id or 0) if state else None

    @property
    def responses(self) -> list[JSON]:
        """The original response and followup messages, as they are now."""
        state = self.fake.interactions[self.token]
        ids = dict.fromkeys([state.original_id, *state.message_ids])
        return [self.fake.messages[i] for i in ids if i in self.fake.messages]

    def _own(self, messages: list[JSON]) -> list[JSON]:
        """Messages answering this interaction, else (posted to the channel) any of them."""
        mine = str(self.id)
        own = [m for m in messages if (m.get("interaction_metadata") or {}).get("id") == mine]
        return own or [m for m in messages if "interaction_metadata" not in m]

    @property
    def result(self) -> JSON:
        """The public message that carries this interaction's images (a followup that pings)."""
        found = self._own([m for m in self.messages if not m["flags"] & 64 and m["attachments"]])
        if not found:
            raise HarnessError(f"interaction {self.id} delivered no result; said: {self.text!r}")
        return found[-1]

    @property
    def private(self) -> list[JSON]:
        """The messages only the member sees (ephemeral), as they are now."""
        mine = str(self.id)
        return [
            m
            for m in self.messages
            if m["flags"] & 64 and (m.get("interaction_metadata") or {}).get("id") == mine
        ]

    @property
    def failure(self) -> JSON:
        """The private message telling the member what went wrong; no one else may have seen it."""
        found = [m for m in self.private if m["embeds"] and "⚠️" in m["embeds"][0]["description"]]
        if not found:
            raise HarnessError(f"interaction {self.id} told no failure privately: {self.text!r}")
        message = found[-1]
        reason = message["embeds"][0]["description"].splitlines()[0]
        if any(reason in text for text in self.fake.seen_by_others()):
            raise HarnessError(f"a failure was shown to everyone: {reason!r}")
        return message

    @property
    def failure_text(self) -> str:
        return str(self.failure["embeds"][0]["description"])

    @property
    def private_text(self) -> str:
        return "\n".join(t for m in self.private for t in visible_text(m))

    @property
    def ephemeral(self) -> bool:
        message = self.original
        return bool(message and message["flags"] & 64)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices the bot answered with."""
        if self.callback_type != 8:
            raise HarnessError(f"no autocomplete result for interaction {self.id}")
        return list(self.callback.json["data"]["choices"])

    @property
    def modal(self) -> JSON:
        """The modal the bot opened (callback data)."""
        if self.callback_type != 9:
            raise HarnessError(f"interaction {self.id} was not answered with a modal")
        return dict(self.callback.json["data"])

    @property
    def text(self) -> str:
        """All user-visible text sent for this interaction (callbacks, followups, edits)."""
        requests = self.callbacks + self.fake.webhook_requests(self.token)
        return "\n".join(t for r in requests if 200 <= r.status < 300 for t in visible_text(r.json))


class FakeGateway:
    """Stands in for ``bot.ws``: records gateway commands (presence, member chunks, voice)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, JSON]] = []
        self.latency = 0.0
        self.open = True
        self.shard_id: int | None = None

    async def change_presence(
        self, *, activity: Any = None, status: Any = None, since: float = 0.0
    ) -> None:
        self.sent.append(("presence", {"activity": activity, "status": status}))

    async def request_chunks(self, guild_id: int, query: str | None = None, **kwargs: Any) -> None:
        self.sent.append(("request_chunks", {"guild_id": guild_id, "query": query, **kwargs}))

    async def voice_state(self, guild_id: int, channel_id: int | None, *args: Any) -> None:
        self.sent.append(("voice_state", {"guild_id": guild_id, "channel_id": channel_id}))

    def is_ratelimited(self) -> bool:
        return False

    async def close(self, code: int = 4000) -> None:
        self.open = False


class _ErrorLog(logging.Handler):
    def __init__(self, sink: list[str]):
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.sink.append(text)


class BotHarness:
    """A logged-in bot in a fake guild, driven by injected gateway events."""

    def __init__(
        self, bot: discord.Client, fake: FakeDiscord, *, settle_timeout: float = 5.0
    ) -> None:
        if isinstance(bot, discord.AutoShardedClient):
            raise HarnessError("AutoShardedClient is not supported: use a plain Client or Bot")
        self.bot, self.fake = bot, fake
        self.settle_timeout = settle_timeout
        self.raise_on_error = True
        self.errors: list[str] = []
        self.gateway = FakeGateway()
        self.background_markers = list(BACKGROUND_MARKERS)
        snow = fake.snowflake
        self.guild_id, self.channel_id, self.other_channel_id = snow(), snow(), snow()
        self.moderator_role_id, self.bot_role_id = snow(), snow()
        self.application_id = fake.application_id
        self.bot_id = int(fake.bot_user["id"])
        self.owner_id = int(fake.owner_user["id"])
        self.roles: dict[int, JSON] = {}
        self.members: dict[int, JSON] = {}
        self._tracked: set[asyncio.Task[Any]] = set()
        self._command_ids: dict[tuple[str, int, bool], int] = {}
        self._log = _ErrorLog(self.errors)
        self._build_guild()

    @classmethod
    async def start(
        cls, bot: discord.Client, fake: FakeDiscord, *, settle_timeout: float = 5.0
    ) -> BotHarness:
        """Log the bot in against the fake, run setup_hook, deliver READY + GUILD_CREATE."""
        harness = cls(bot, fake, settle_timeout=settle_timeout)
        logging.getLogger("discord").addHandler(harness._log)
        try:
            await harness._connect()
        except BaseException:
            await harness.close()
            raise
        return harness

    async def _connect(self) -> None:
        bot = self.bot
        fake_errors_at = len(self.fake.errors)
        await bot.login(self.fake.token)
        bot.ws = self.gateway  # type: ignore[assignment]
        state = bot._connection
        state._chunk_guilds = False  # no gateway to answer chunk requests
        # discord.py waits guild_ready_timeout after the last GUILD_CREATE before on_ready
        saved_timeout, state.guild_ready_timeout = state.guild_ready_timeout, 0.01
        before = asyncio.all_tasks()
        try:
            self._parse("READY", self._ready_payload())
            self._parse("GUILD_CREATE", self.guild_payload)
            await asyncio.wait_for(bot.wait_until_ready(), self.settle_timeout)
        finally:
            state.guild_ready_timeout = saved_timeout
        await self._settle(before)
        self._raise_new_errors(0, fake_errors_at, EventRecord(self, "READY", {}))

    def assert_clean(self) -> None:
        """Fail if the bot left an exception to discord.py or the fake produced any error."""
        assert not self.errors, "unhandled in the bot:\n" + "\n".join(self.errors)
        self.fake.assert_no_errors()

    async def close(self) -> None:
        """Cancel leftover timers (view timeouts...), close the bot, stop capturing its log."""
        leftovers = [t for t in self._tracked if not t.done()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await self.bot.close()
        logging.getLogger("discord").removeHandler(self._log)

    # the guild ---------------------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        """An ordinary member (no Manage Guild)."""
        return self._ordinary_id

    @property
    def moderator_id(self) -> int:
        """A member with the Moderator role (Manage Guild, Manage Messages)."""
        return self._moderator_id

    @property
    def guild(self) -> discord.Guild:
        guild = self.bot.get_guild(self.guild_id)
        assert guild is not None
        return guild

    @property
    def channel(self) -> discord.TextChannel:
        channel = self.guild.get_channel(self.channel_id)
        assert isinstance(channel, discord.TextChannel)
        return channel

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot_id}>"

    def _build_guild(self) -> None:
        gid = str(self.guild_id)
        self._add_role_payload(self.guild_id, "@everyone", ORDINARY_PERMISSIONS, 0)
        self._add_role_payload(self.moderator_role_id, "Moderator", MODERATOR_PERMISSIONS, 1)
        self._add_role_payload(
            self.bot_role_id, self.fake.bot_user["username"], ORDINARY_PERMISSIONS, 2
        )
        self.roles[self.bot_role_id].update(managed=True, tags={"bot_id": str(self.bot_id)})
        self._member_payload(self.fake.bot_user, [self.bot_role_id])
        self._member_payload(self.fake.owner_user, [])
        self._ordinary_id = int(
            self._member_payload(self.fake.add_user("member"), [])["user"]["id"]
        )
        moderator = self.fake.add_user("moderator")
        self._moderator_id = int(
            self._member_payload(moderator, [self.moderator_role_id])["user"]["id"]
        )
        channels = [
            _text_channel(self.channel_id, gid, "general", 0),
            _text_channel(self.other_channel_id, gid, "other", 1),
        ]
        self.guild_payload: JSON = {
            "id": gid, "name": "Test Guild", "icon": None, "splash": None, "discovery_splash": None,
            "banner": None, "description": None, "owner_id": str(self.owner_id),
            "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "features": [],
            "mfa_level": 0, "application_id": None, "system_channel_id": str(self.channel_id),
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
            "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "roles": list(self.roles.values()), "emojis": [], "stickers": [],
            "joined_at": iso(self.guild_id), "large": False, "unavailable": False,
            "member_count": len(self.members), "members": list(self.members.values()),
            "channels": channels, "threads": [], "presences": [], "voice_states": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }  # fmt: skip
        self.fake.add_guild(self.guild_payload)

    def _add_role_payload(self, role_id: int, name: str, permissions: int, position: int) -> JSON:
        role = {
            "id": str(role_id), "name": name, "color": 0, "hoist": False, "icon": None,
            "unicode_emoji": None, "position": position, "permissions": str(permissions),
            "managed": False, "mentionable": False, "flags": 0,
        }  # fmt: skip
        self.roles[role_id] = role
        return role

    def _member_payload(self, user: JSON, roles: Sequence[int]) -> JSON:
        member = {
            "user": user, "roles": [str(r) for r in roles], "nick": None, "avatar": None,
            "premium_since": None, "joined_at": iso(int(user["id"])), "pending": False,
            "mute": False, "deaf": False, "flags": 0, "communication_disabled_until": None,
        }  # fmt: skip
        self.members[int(user["id"])] = member
        return member

    def _ready_payload(self) -> JSON:
        return {
            "v": 10,
            "user": self.fake.bot_user,
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "private_channels": [],
            "session_id": "fake-session",
            "resume_gateway_url": "wss://gateway.invalid",
            "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
        }

    async def add_role(self, name: str, permissions: int = 0) -> int:
        """Create a role (GUILD_ROLE_CREATE) and return its id."""
        role = self._add_role_payload(self.fake.snowflake(), name, permissions, len(self.roles))
        await self.inject("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role})
        return int(role["id"])

    async def add_member(self, username: str, *, roles: Iterable[int] = ()) -> int:
        """Create a member (GUILD_MEMBER_ADD) and return the user id."""
        member = self._member_payload(self.fake.add_user(username), list(roles))
        self.fake.add_member(self.guild_id, member)
        await self.inject("GUILD_MEMBER_ADD", {**member, "guild_id": str(self.guild_id)})
        return int(member["user"]["id"])

    async def add_channel(self, name: str, *, nsfw: bool = False) -> int:
        """Create a text channel (CHANNEL_CREATE), age-restricted when ``nsfw``; return its id."""
        channel = _text_channel(self.fake.snowflake(), str(self.guild_id), name, 2)
        channel["nsfw"] = nsfw
        channel = self.fake.add_channel(self.guild_id, channel)
        await self.inject("CHANNEL_CREATE", channel)
        return int(channel["id"])

    async def add_thread(self, parent: int, name: str = "thread", *, cached: bool = True) -> int:
        """Create a public thread of ``parent`` and return its id. Thread payloads carry no
        ``nsfw``: a thread is age-restricted when its parent is. With ``cached=False`` the bot
        never heard of it (no THREAD_CREATE): interactions in it bring the thread's payload."""
        tid = self.fake.snowflake()
        thread = {
            "id": str(tid), "type": 11, "guild_id": str(self.guild_id), "parent_id": str(parent),
            "owner_id": str(self.user_id), "name": name, "last_message_id": None,
            "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0,
            "total_message_sent": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": iso(tid), "locked": False},
        }  # fmt: skip
        thread = self.fake.add_channel(self.guild_id, thread)
        if cached:
            await self.inject("THREAD_CREATE", {**thread, "newly_created": True})
        return tid

    def permissions_of(self, user: UserLike) -> int:
        """Guild-level permissions of a member, computed from its roles as Discord does."""
        uid = _id(user)
        if uid == self.owner_id:
            return ALL_PERMISSIONS
        value = int(self.roles[self.guild_id]["permissions"])
        for role_id in self._member(uid)["roles"]:
            value |= int(self.roles[int(role_id)]["permissions"])
        return ALL_PERMISSIONS if value & 8 else value

    def _member(self, user: UserLike) -> JSON:
        uid = _id(user)
        if uid not in self.members:
            raise HarnessError(
                f"{uid} is not a member of the test guild; known: {list(self.members)}"
            )
        return self.members[uid]

    def _attachment(
        self, value: AttachmentLike, channel_id: int, *, ephemeral: bool = False
    ) -> JSON:
        if isinstance(value, dict):
            return value
        filename, data, *content_type = value
        return self.fake.add_attachment(
            filename,
            data,
            content_type[0] if content_type else None,
            channel_id=channel_id,
            ephemeral=ephemeral,
        )

    # payload builders --------------------------------------------------------------------------

    def interaction_payload(
        self,
        type: int,
        data: JSON,
        *,
        user: UserLike | None = None,
        channel: int | None = None,
        message: JSON | None = None,
        locale: str = "en-US",
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        dm: bool = False,
        guild: int | None = None,
        guild_locale: str = "en-US",
    ) -> JSON:
        """An INTERACTION_CREATE payload shaped like the examples Discord documents.

        ``guild``: another server's id (one the bot is in but hasn't cached: it has no roles,
        and the test channel stands in for its channel), to drive several servers at once.
        """
        guild_id = guild or self.guild_id
        iid = self.fake.snowflake()
        member = self._member(user or self.user_id)
        uid = int(member["user"]["id"])
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type,
            "token": interaction_token(iid),
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": attachment_size_limit,
            "data": data,
        }
        if dm:
            dm_channel = self._dm_channel(member["user"])
            payload.update(
                channel_id=dm_channel["id"],
                channel=dm_channel,
                user=member["user"],
                app_permissions=str(ORDINARY_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        else:
            permissions = str(self.permissions_of(uid))
            channel_id = channel or self.channel_id
            if channel_id not in self.fake.channels:
                raise HarnessError(f"no channel {channel_id} in the test guild")
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": guild_locale, "features": []},
                channel_id=str(channel_id),
                channel={**self.fake.channels[channel_id], "permissions": permissions},
                member={**member, "permissions": permissions},
                app_permissions=str(self.permissions_of(self.bot_id)),
                guild_locale=guild_locale,
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        if message is not None:
            payload["message"] = message
        return payload

    def _dm_channel(self, user: JSON) -> JSON:
        for channel in self.fake.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel = {
            "id": str(self.fake.snowflake()),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user],
        }
        self.fake.channels[int(channel["id"])] = channel
        return channel

    def build_message(
        self,
        content: str = "",
        *,
        author: UserLike | None = None,
        channel: int | None = None,
        attachments: Sequence[AttachmentLike] = (),
        reference: int | JSON | None = None,
        mentions: Sequence[UserLike] = (),
        embeds: Sequence[JSON] = (),
        dm: bool = False,
    ) -> JSON:
        """A user's message payload, stored in the fake (fetchable, repliable), not dispatched."""
        member = self._member(author or self.user_id)
        mid = self.fake.snowflake()
        channel_id = (
            int(self._dm_channel(member["user"])["id"]) if dm else (channel or self.channel_id)
        )
        message: JSON = {
            "id": str(mid), "type": 0, "channel_id": str(channel_id), "author": member["user"],
            "content": content, "timestamp": iso(mid), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [self._attachment(a, channel_id) for a in attachments],
            "embeds": list(embeds), "components": [], "pinned": False, "flags": 0,
        }  # fmt: skip
        for mentioned in mentions:
            target = self._member(mentioned)
            entry = {**target["user"]}
            if not dm:
                entry["member"] = {k: v for k, v in target.items() if k != "user"}
            message["mentions"].append(entry)
        if not dm:
            message["guild_id"] = str(self.guild_id)
            message["member"] = {k: v for k, v in member.items() if k != "user"}
        if reference is not None:
            message.update(reply_fields(self._message(reference)))
        return self.fake.store_message(message)

    def _message(self, message: int | str | JSON) -> JSON:
        if isinstance(message, dict):
            stored = self.fake.messages.get(int(message["id"]))
            return stored if stored is not None else self.fake.store_message(message)
        stored = self.fake.messages.get(int(message))
        if stored is None:
            raise HarnessError(f"no stored message {message}")
        return stored

    # injecting events --------------------------------------------------------------------------

    async def inject(self, event: str, payload: JSON, *, settle: bool = True) -> EventRecord:
        """Run ``payload`` through the bot's parser for ``event``; wait for the work it started."""
        record_type = EventRecord
        if event == "INTERACTION_CREATE":
            self.fake.register_interaction(payload)
            record_type = InteractionRecord
        record = record_type(self, event, payload, _first_id=self.fake.snowflake())
        requests_at, errors_at = len(self.fake.requests), len(self.errors)
        fake_errors_at = len(self.fake.errors)
        before = asyncio.all_tasks()
        self._parse(event, payload)
        if not settle:
            self._tracked |= asyncio.all_tasks() - before - {asyncio.current_task()}  # type: ignore[arg-type]
            record._requests, record._errors = (requests_at, None), (errors_at, None)
            return record
        await self._settle(before)
        record._requests = (requests_at, len(self.fake.requests))
        record._errors = (errors_at, len(self.errors))
        self._raise_new_errors(errors_at, fake_errors_at, record)
        return record

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: UserLike | None = None,
        attachments: Mapping[str, AttachmentLike] | None = None,
        resolved: JSON | None = None,
        validate: bool = True,
        settle: bool = True,
        **payload_options: Any,
    ) -> InteractionRecord:
        """Invoke ``/name`` (``"group sub"`` for subcommands) with typed options.

        Option values: str/int/float/bool as declared; attachments as a dict from
        ``fake.add_attachment`` or ``(filename, bytes[, content_type])``; users, roles, channels as
        ids (resolved data is filled in). Raises HarnessError for options Discord would refuse
        (unknown, missing required, outside choices/min/max) unless ``validate=False``.
        ``payload_options``: channel, locale, attachment_size_limit, dm (see interaction_payload).
        """
        payload = self.slash_payload(
            name, options, user=user, attachments=attachments, resolved=resolved,
            validate=validate, **payload_options,
        )  # fmt: skip
        return await self._interaction(payload, settle)

    def slash_payload(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: UserLike | None = None,
        attachments: Mapping[str, AttachmentLike] | None = None,
        resolved: JSON | None = None,
        validate: bool = True,
        **payload_options: Any,
    ) -> JSON:
        """The INTERACTION_CREATE payload ``slash`` would send (same arguments), not sent."""
        root, command, scoped = self._find(name, discord.AppCommandType.chat_input)
        channel_id = payload_options.get("channel") or self.channel_id
        merged = {**(options or {}), **(attachments or {})}
        extra: JSON = {}
        values = self._options(command, merged, extra, channel_id, focused=None, validate=validate)
        data = self._command_data(root, name, values, extra, resolved, scoped)
        return self.interaction_payload(2, data, user=user, **payload_options)

    def dispatch(self, event: str, payload: JSON) -> None:
        """Run ``payload`` through the bot's parser and return at once, tracking nothing.

        For load generators that wait on the bot's tasks themselves: ``inject`` looks at every
        live task twice per event, which with a thousand jobs in flight costs more than the bot's
        own handling of the event. An interaction must be registered with the fake first
        (``fake.register_interaction``).
        """
        self._parse(event, payload)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user: UserLike | None = None,
        **payload_options: Any,
    ) -> list[JSON]:
        """Ask for autocomplete while the user types ``options[focused]``; returns the choices."""
        root, command, scoped = self._find(name, discord.AppCommandType.chat_input)
        channel_id = payload_options.get("channel") or self.channel_id
        values = {focused: "", **options}
        extra: JSON = {}
        opts = self._options(command, values, extra, channel_id, focused=focused, validate=False)
        data = self._command_data(root, name, opts, extra, None, scoped)
        payload = self.interaction_payload(4, data, user=user, **payload_options)
        record = await self._interaction(payload, True)
        return record.choices

    async def context_menu(
        self,
        name: str,
        *,
        message: int | JSON | None = None,
        target: UserLike | None = None,
        user: UserLike | None = None,
        settle: bool = True,
        **payload_options: Any,
    ) -> InteractionRecord:
        """Invoke a message (``message=``) or user (``target=``) context menu command."""
        kind = (
            discord.AppCommandType.message if message is not None else discord.AppCommandType.user
        )
        root, _, scoped = self._find(name, kind)
        resolved: JSON = {}
        if message is not None:
            target_message = self._message(message)
            target_id = target_message["id"]
            resolved["messages"] = {target_id: copy.deepcopy(target_message)}
        elif target is not None:
            target_id = str(_id(target))
            self._resolve_user(resolved, int(target_id))
        else:
            raise HarnessError("context_menu needs message= or target=")
        data = {
            "id": str(self._command_id(root.name, kind.value, scoped)),
            "name": root.name,
            "type": kind.value,
            "target_id": target_id,
            "resolved": resolved,
        }
        if scoped:
            data["guild_id"] = str(self.guild_id)
        payload = self.interaction_payload(2, data, user=user, **payload_options)
        return await self._interaction(payload, settle)

    async def click(
        self,
        custom_id: str,
        *,
        message: int | JSON | None = None,
        values: Sequence[str] | None = None,
        user: UserLike | None = None,
        settle: bool = True,
        **payload_options: Any,
    ) -> InteractionRecord:
        """Press the button (or choose ``values`` in the select) with this custom_id.

        Without ``message=`` the newest stored message carrying the component is used.
        """
        if message is None:
            found = [
                m
                for m in self.fake.messages.values()
                if _find_component(m.get("components", []), custom_id)
            ]
            if not found:
                raise HarnessError(
                    f"no stored message has a component with custom_id={custom_id!r}"
                )
            source = found[-1]
        else:
            source = self._message(message)
        component = _find_component(source.get("components", []), custom_id)
        if component is None:
            raise HarnessError(f"message {source['id']} has no component {custom_id!r}")
        if component.get("disabled"):
            raise HarnessError(f"component {custom_id!r} is disabled: a user cannot use it")
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in SELECTS:
            data["values"] = self._select_values(component, list(values or []))
        elif values is not None:
            raise HarnessError(f"{custom_id!r} is not a select; values= makes no sense")
        channel = payload_options.pop("channel", None) or int(source["channel_id"])
        payload = self.interaction_payload(
            3, data, user=user, channel=channel, message=copy.deepcopy(source), **payload_options
        )
        return await self._interaction(payload, settle)

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        user: UserLike | None = None,
        settle: bool = True,
    ) -> InteractionRecord:
        """Submit the modal the bot opened most recently with this custom_id (from the same
        Discord language as the interaction that opened it, as a member's client does)."""
        opened = [
            r
            for r in self.fake.requests_to("POST", "/interactions/*/callback")
            if 200 <= r.status < 300
            and r.json["type"] == 9
            and r.json["data"]["custom_id"] == custom_id
        ]
        if not opened:
            raise HarnessError(f"the bot never opened a modal with custom_id={custom_id!r}")
        modal = opened[-1].json["data"]
        source = self.fake.interactions[opened[-1].path.split("/")[3]].payload
        unknown = set(values) - {c.get("custom_id") for _, c in _walk(modal["components"])}
        if unknown:
            raise HarnessError(f"modal {custom_id!r} has no fields {sorted(unknown)}")
        components = [_submitted(top, values) for top in modal["components"]]
        data = {"custom_id": custom_id, "components": components}
        channel = int(source["channel_id"])
        dm = "guild_id" not in source
        payload = self.interaction_payload(
            5,
            data,
            user=user,
            channel=None if dm else channel,
            message=source.get("message"),
            dm=dm,
            locale=source.get("locale", "en-US"),
            guild_locale=source.get("guild_locale", "en-US"),
        )
        return await self._interaction(payload, settle)

    async def message(
        self, content: str = "", *, settle: bool = True, **options: Any
    ) -> EventRecord:
        """A user sends a message (MESSAGE_CREATE); options as in build_message."""
        return await self.inject(
            "MESSAGE_CREATE", self.build_message(content, **options), settle=settle
        )

    async def settle(self, seconds: float | None = None) -> None:
        """Wait for every task earlier injections started (needed after ``settle=False``)."""
        await self._settle(asyncio.all_tasks(), seconds)

    # internals ---------------------------------------------------------------------------------

    def _parse(self, event: str, payload: JSON) -> None:
        self.bot._connection.parsers[event](payload)

    async def _interaction(self, payload: JSON, settle: bool) -> InteractionRecord:
        record = await self.inject("INTERACTION_CREATE", payload, settle=settle)
        assert isinstance(record, InteractionRecord)
        return record

    def _is_background(self, task: asyncio.Task[Any]) -> bool:
        qualname = getattr(task.get_coro(), "__qualname__", "")
        return any(
            marker in qualname or marker in task.get_name() for marker in self.background_markers
        )

    def _awaits_user(self, task: asyncio.Task[Any]) -> bool:
        """Whether the task is parked in ``bot.wait_for(...)`` or ``view.wait()``: user's move."""
        listeners = {
            id(future) for entries in self.bot._listeners.values() for future, _ in entries
        }
        coro: Any = task.get_coro()
        while coro is not None and getattr(coro, "cr_frame", None) is not None:
            frame = coro.cr_frame
            owner = frame.f_locals.get("self")
            if frame.f_code.co_name == "wait" and isinstance(owner, discord.ui.view.BaseView):
                return not owner.is_finished()
            if any(id(value) in listeners for value in frame.f_locals.values()):
                return True
            coro = coro.cr_await
        return False

    async def _settle(self, before: set[asyncio.Task[Any]], seconds: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (seconds or self.settle_timeout)
        current = asyncio.current_task()
        while True:
            await asyncio.sleep(0)  # let call_soon callbacks start their tasks
            self._tracked |= {
                t for t in asyncio.all_tasks() if t not in before and t is not current
            }
            pending = [
                t
                for t in self._tracked
                if not (t.done() or self._is_background(t) or self._awaits_user(t))
            ]
            if not pending:
                break
            if loop.time() >= deadline:
                stacks = []
                for task in pending:
                    out = io.StringIO()
                    task.print_stack(limit=6, file=out)
                    stacks.append(out.getvalue())
                raise HarnessError("the bot did not settle; still running:\n" + "\n".join(stacks))
            # poll: a task that parks in wait_for()/view.wait() changes state without finishing
            await asyncio.wait(
                pending,
                timeout=min(0.005, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        for task in [t for t in self._tracked if t.done()]:
            self._tracked.discard(task)
            # An exception an awaiter already took (gather's children, TaskGroup) was handled.
            unclaimed = not task.cancelled() and getattr(task, "_log_traceback", True)
            exc = task.exception() if unclaimed else None
            if exc is not None:
                self.errors.append(
                    f"task {task.get_name()} crashed:\n" + "".join(traceback.format_exception(exc))
                )

    def _raise_new_errors(self, errors_at: int, fake_errors_at: int, record: EventRecord) -> None:
        if not self.raise_on_error:
            return
        problems = self.errors[errors_at:]
        problems += [
            str(e) for e in self.fake.errors[fake_errors_at:] if e.kind in ("unsupported", "bug")
        ]
        if problems:
            raise UnhandledBotError(
                "unhandled while the bot handled the event:\n" + "\n".join(problems), record
            )

    def _find(self, name: str, kind: discord.AppCommandType) -> tuple[Any, Any, bool]:
        tree = getattr(self.bot, "tree", None) or self.bot._connection._command_tree
        if tree is None:
            raise HarnessError("the bot has no CommandTree")
        # context menu names may hold spaces; only slash command paths split into subcommands
        root_name, *path = name.split() if kind is discord.AppCommandType.chat_input else [name]
        here = discord.Object(self.guild_id)
        scopes = ((here, True), (None, False))
        found = [
            (c, scoped)
            for g, scoped in scopes
            if (c := tree.get_command(root_name, guild=g, type=kind))
        ]
        if not found:
            known = {c.name for g in (here, None) for c in tree.get_commands(guild=g, type=kind)}
            raise HarnessError(
                f"no {kind.name} command {root_name!r}; the tree has {sorted(known)}"
            )
        root, scoped = found[0]
        command = root
        for part in path:
            child = command.get_command(part) if isinstance(command, app_commands.Group) else None
            if child is None:
                raise HarnessError(f"{command.qualified_name!r} has no subcommand {part!r}")
            command = child
        if isinstance(command, app_commands.Group):
            raise HarnessError(f"{name!r} is a group; name a subcommand")
        return root, command, scoped

    def _command_id(self, name: str, kind: int, scoped: bool) -> int:
        synced = self.fake.command_id(name, guild_id=self.guild_id if scoped else None, type=kind)
        if synced is not None:
            return synced
        return self._command_ids.setdefault((name, kind, scoped), self.fake.snowflake())

    def _command_data(
        self,
        root: Any,
        name: str,
        options: list[JSON],
        extra: JSON,
        resolved: JSON | None,
        scoped: bool,
    ) -> JSON:
        for part in reversed(name.split()[1:]):
            kind = 1 if not options or options[0].get("type") not in (1, 2) else 2
            options = [{"name": part, "type": kind, "options": options}]
        data: JSON = {
            "id": str(self._command_id(root.name, 1, scoped)),
            "name": root.name,
            "type": 1,
            "options": options,
        }
        for key, value in (resolved or {}).items():
            extra.setdefault(key, {}).update(value)
        if extra:
            data["resolved"] = extra
        if scoped:
            data["guild_id"] = str(self.guild_id)
        return data

    def _options(
        self,
        command: Any,
        values: Mapping[str, Any],
        resolved: JSON,
        channel_id: int,
        *,
        focused: str | None,
        validate: bool,
    ) -> list[JSON]:
        params = {p.name: p for p in command.parameters} | {
            p.display_name: p for p in command.parameters
        }
        options = []
        for key, value in values.items():
            param = params.get(key)
            if param is None:
                raise HarnessError(
                    f"/{command.qualified_name} has no option {key!r};"
                    f" it has {[p.display_name for p in command.parameters]}"
                )
            if key == focused or param.display_name == focused:
                options.append(
                    {
                        "name": param.display_name,
                        "type": param.type.value,
                        "value": value,
                        "focused": True,
                    }
                )
                continue
            if isinstance(value, app_commands.Choice):
                value = value.value
            option_value = self._option_value(param, value, resolved, channel_id)
            if validate:
                _check_option(command, param, option_value)
            options.append(
                {"name": param.display_name, "type": param.type.value, "value": option_value}
            )
        if validate:
            given = {o["name"] for o in options}
            missing = [
                p.display_name
                for p in command.parameters
                if p.required and p.display_name not in given
            ]
            if missing:
                raise HarnessError(f"/{command.qualified_name} requires {missing}")
        return options

    def _option_value(self, param: Any, value: Any, resolved: JSON, channel_id: int) -> Any:
        kind = param.type
        if kind is Opt.attachment:
            attachment = self._attachment(value, channel_id, ephemeral=True)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        if kind in (Opt.user, Opt.role, Opt.channel, Opt.mentionable):
            target = _id(value)
            if target in self.roles and kind is not Opt.user:
                resolved.setdefault("roles", {})[str(target)] = self.roles[target]
            elif target in self.fake.channels and kind is Opt.channel:
                channel = {
                    **self.fake.channels[target],
                    "permissions": str(self.permissions_of(self.user_id)),
                }
                resolved.setdefault("channels", {})[str(target)] = channel
            elif kind is not Opt.channel:
                self._resolve_user(resolved, target)
            else:
                raise HarnessError(f"{target} is not a channel of the test guild")
            return str(target)
        converters = {Opt.string: str, Opt.integer: int, Opt.number: float, Opt.boolean: bool}
        return converters[kind](value)

    def _resolve_user(self, resolved: JSON, user_id: int) -> None:
        member = self._member(user_id)
        resolved.setdefault("users", {})[str(user_id)] = member["user"]
        partial = {k: v for k, v in member.items() if k != "user"}
        resolved.setdefault("members", {})[str(user_id)] = {
            **partial,
            "permissions": str(self.permissions_of(user_id)),
        }

    def _select_values(self, component: JSON, values: list[str]) -> list[str]:
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise HarnessError(
                f"select {component['custom_id']!r} takes {low}..{high} values, got {values}"
            )
        if component["type"] == 3:
            allowed = {o["value"] for o in component.get("options", [])}
            if set(values) - allowed:
                raise HarnessError(
                    f"select {component['custom_id']!r} offers {sorted(allowed)}, not {values}"
                )
        return values


def _id(value: UserLike | str) -> int:
    return int(value.id) if isinstance(value, discord.abc.Snowflake) else int(value)


def _text_channel(channel_id: int, guild_id: str, name: str, position: int) -> JSON:
    return {
        "id": str(channel_id), "type": 0, "guild_id": guild_id, "name": name, "position": position,
        "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
        "rate_limit_per_user": 0, "last_message_id": None, "flags": 0,
    }  # fmt: skip


def _check_option(command: Any, param: Any, value: Any) -> None:
    where = f"/{command.qualified_name} {param.display_name}"
    if param.choices and value not in [c.value for c in param.choices]:
        raise HarnessError(f"{where}: {value!r} is not one of {[c.value for c in param.choices]}")
    # for strings Discord's min/max bound the length
    measured = len(value) if param.type is Opt.string else value
    if param.type in (Opt.string, Opt.integer, Opt.number):
        if param.min_value is not None and measured < param.min_value:
            raise HarnessError(f"{where}: {value!r} is below the minimum {param.min_value}")
        if param.max_value is not None and measured > param.max_value:
            raise HarnessError(f"{where}: {value!r} is above the maximum {param.max_value}")


def _walk(components: list[JSON], parent: JSON | None = None) -> Iterator[tuple[JSON | None, JSON]]:
    for component in components:
        yield parent, component
        children = list(component.get("components") or [])
        children += [
            component[k] for k in ("component", "accessory") if isinstance(component.get(k), dict)
        ]
        yield from _walk(children, component)


def _find_component(components: list[JSON], custom_id: str) -> JSON | None:
    return next((c for _, c in _walk(components) if c.get("custom_id") == custom_id), None)


def _submitted(component: JSON, values: Mapping[str, Any]) -> JSON:
    """One modal component as the client submits it, filled from ``values``."""
    kind = component["type"]
    if kind == 1:
        return {"type": 1, "components": [_submitted(c, values) for c in component["components"]]}
    if kind == 18:
        return {
            "type": 18,
            "id": component.get("id", 0),
            "component": _submitted(component["component"], values),
        }
    custom_id = component.get("custom_id")
    if kind == 4:
        value = str(values.get(custom_id, component.get("value") or ""))
        if component.get("required", True) and not value:
            raise HarnessError(f"modal field {custom_id!r} is required")
        if len(value) > component.get("max_length", 4000) or len(value) < component.get(
            "min_length", 0
        ):
            raise HarnessError(f"modal field {custom_id!r}: length {len(value)} outside its bounds")
        return {"type": 4, "custom_id": custom_id, "value": value}
    if kind in SELECTS:
        return {"type": kind, "custom_id": custom_id, "values": list(values.get(custom_id, []))}
    return {"type": kind, "id": component.get("id", 0)}


def visible_text(payload: Any) -> list[str]:
    """Content, embed text and text-display content of a message or callback payload."""
    if not isinstance(payload, dict):
        return []
    body = (
        payload["data"] if isinstance(payload.get("data"), dict) and "type" in payload else payload
    )
    texts = [body.get("content")]
    for embed in body.get("embeds") or []:
        texts += [embed.get("title"), embed.get("description")]
        texts += [(embed.get("author") or {}).get("name"), (embed.get("footer") or {}).get("text")]
        for embed_field in embed.get("fields") or []:
            texts += [embed_field.get("name"), embed_field.get("value")]
    texts += [
        c.get("content") for _, c in _walk(body.get("components") or []) if c.get("type") == 10
    ]
    return [t for t in texts if t]


__all__ = [
    "MODERATOR_PERMISSIONS",
    "ORDINARY_PERMISSIONS",
    "BotHarness",
    "EventRecord",
    "FakeError",
    "FakeGateway",
    "HarnessError",
    "InteractionRecord",
    "UnhandledBotError",
    "visible_text",
]
