"""Servers that bring their own image service: each server's jobs on its own provider, with its
own key, learnt and queued on their own; the key sealed and never shown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.keys import KeyBox, new_secret_key
from bot.logs import setup_logging
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.openai_server import FakeImagesServer
from tests.waiting import wait_until

KEY_A = "sk-server-a-SECRET-a1b2c3d4e5f6-1111"
KEY_B = "sk-server-b-SECRET-f6e5d4c3b2a1-2222"
SHARED_GUILD = 900000000000000001  # may use the operator's provider
LONE_GUILD = 900000000000000002  # may not, and has none of its own
SECOND_GUILD = 900000000000000003  # brings its own


@contextlib.asynccontextmanager
async def servers(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[BotEnv, Any, Any]]:
    """The bot with the operator's fake API, and two servers' own fakes (their own keys)."""
    async with (
        FakeImagesServer(api_key=KEY_A, world="openai") as own_a,
        FakeImagesServer(api_key=KEY_B, world="gateway") as own_b,
    ):
        options: dict[str, Any] = {
            "secret_keys": (new_secret_key(),),
            "private_providers": True,  # the fakes live on 127.0.0.1
            "shared_provider": (SHARED_GUILD,),
            **settings,
        }
        async with bot_env(tmp_path, **options) as env:
            yield env, own_a, own_b


async def connect(env: BotEnv, base_url: str, key: str) -> str:
    """Connect the test server's provider through the form, as a moderator does; the reply."""
    harness = env.harness
    opened = await harness.slash("settings provider", user=harness.moderator_id)
    record = await harness.submit_modal(
        opened.modal["custom_id"], {"base_url": base_url, "api_key": key}, user=harness.moderator_id
    )
    return record.text


async def imagine(env: BotEnv, prompt: str, guild: int | None = None) -> Any:
    return await env.harness.slash("imagine", {"prompt": prompt}, guild=guild)


async def test_each_server_gets_its_own_provider_and_key(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, own_b):
        reply = await connect(env, own_a.base_url, KEY_A)
        assert "Connected" in reply and "…1111" in reply and KEY_A not in reply
        assert "gpt-image-2" in reply  # the models that provider offers
        await env.bot.services.providers.set(SECOND_GUILD, own_b.base_url, KEY_B, None)

        first = await imagine(env, "a fox")
        second = await imagine(env, "an owl", guild=SECOND_GUILD)
        assert first.result["attachments"] and second.result["attachments"]

        assert [r.json["prompt"] for r in own_a.image_requests] == ["a fox"]
        assert [r.json["prompt"] for r in own_b.image_requests] == ["an owl"]
        assert env.api.image_requests == []  # the operator's key paid for neither

        # Each provider's model list was learnt on its own: OpenAI's world lists what the
        # gateway's doesn't, and the reverse.
        providers = env.bot.services.providers
        a = await providers.for_guild(env.harness.guild_id)
        b = await providers.for_guild(SECOND_GUILD)
        assert a is not b and a is not providers.operator
        names_a = {spec.name for spec in a.usable()}
        names_b = {spec.name for spec in b.usable()}
        assert names_a != names_b


async def test_servers_without_one_follow_the_operators_choice(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, _, _):
        served = await imagine(env, "a shared fox", guild=SHARED_GUILD)
        assert served.result["attachments"]
        assert [r.json["prompt"] for r in env.api.image_requests] == ["a shared fox"]

        refused = await imagine(env, "a lone fox", guild=LONE_GUILD)
        assert "no image service connected" in refused.failure_text
        assert "/settings provider" in refused.failure_text
        assert len(env.api.image_requests) == 1  # nothing was sent for it


async def test_every_server_shares_by_default(tmp_path: Path) -> None:
    async with servers(tmp_path, shared_provider=None) as (env, _, _):
        served = await imagine(env, "a fox anywhere", guild=LONE_GUILD)
        assert served.result["attachments"]


async def test_a_refused_key_is_not_saved(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, _):
        reply = await connect(env, own_a.base_url, "sk-wrong-key-000000000000")
        assert "refused this API key" in reply and "Nothing was saved" in reply
        assert await env.store.get_guild_provider(env.harness.guild_id) is None


async def test_private_addresses_are_refused_unless_the_operator_allows(tmp_path: Path) -> None:
    async with servers(tmp_path, private_providers=False) as (env, own_a, _):
        reply = await connect(env, own_a.base_url, KEY_A)
        assert "private or local network" in reply
        assert own_a.requests == []  # not even the model list was asked for
        assert await env.store.get_guild_provider(env.harness.guild_id) is None


async def test_the_key_is_never_stored_logged_or_shown(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = logging.getLogger().handlers[:], logging.getLogger().level
    async with servers(tmp_path) as (env, own_a, _):
        setup_logging("DEBUG", env.settings.secrets)
        try:
            await connect(env, own_a.base_url, KEY_A)
            await imagine(env, "a fox")
            own_a.fail_next("invalid_api_key")  # an error from the provider, logged and told
            await imagine(env, "another fox")
            show = await env.harness.slash("settings show", user=env.harness.moderator_id)
            assert "…1111" in show.text
        finally:
            logging.getLogger().handlers[:], level = before
            logging.getLogger().setLevel(level)
        logged = capfd.readouterr().err
        assert "POST" in logged or "job" in logged  # DEBUG logging was really on
        shown = [r.json for r in env.discord.requests if r.json is not None]
        files = b"".join(f.data for r in env.discord.requests for f in r.files)
        database = Path(env.settings.data_dir, "bot.sqlite3")
        stored = b"".join(p.read_bytes() for p in database.parent.glob("bot.sqlite3*"))
    for form in (KEY_A, KEY_A[3:], KEY_A[:-4]):
        assert form not in logged
        assert form not in str(shown)
        assert form.encode() not in stored
        assert form.encode() not in files


async def test_rotating_the_secret_keys_keeps_stored_keys_readable(tmp_path: Path) -> None:
    old, new = new_secret_key(), new_secret_key()
    async with FakeImagesServer(api_key=KEY_A, world="openai") as own_a:
        options: dict[str, Any] = {"private_providers": True, "shared_provider": ()}
        async with bot_env(tmp_path, secret_keys=(old,), **options) as env:
            await connect(env, own_a.base_url, KEY_A)
            guild = env.harness.guild_id
        # The operator puts a new key first and keeps the old one; the bot re-seals at start.
        async with bot_env(tmp_path, secret_keys=(new, old), **options) as env:
            stored = await env.store.get_guild_provider(guild)
            assert stored is not None
            assert KeyBox((new,)).open(stored.sealed_key) == KEY_A
            served = await imagine(env, "a fox after rotation", guild=guild)
            assert served.result["attachments"]
        # Once every key is re-sealed, the old key can go.
        async with bot_env(tmp_path, secret_keys=(new,), **options) as env:
            served = await imagine(env, "a fox with the new key only", guild=guild)
            assert served.result["attachments"]
        assert [r.json["prompt"] for r in own_a.image_requests] == [
            "a fox after rotation",
            "a fox with the new key only",
        ]


async def test_a_slow_provider_does_not_hold_up_another_server(tmp_path: Path) -> None:
    async with servers(tmp_path, max_concurrent_requests=1) as (env, own_a, own_b):
        await connect(env, own_a.base_url, KEY_A)
        await env.bot.services.providers.set(SECOND_GUILD, own_b.base_url, KEY_B, None)
        own_a.latency = 3.0
        harness = env.harness
        for n in range(2):  # one slot: the second waits behind the first
            await harness.slash("imagine", {"prompt": f"slow {n}"}, settle=False)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        fast = await harness.slash(
            "imagine", {"prompt": "quick owl"}, guild=SECOND_GUILD, settle=False
        )
        await wait_until(lambda: fast.followups, seconds=10)
        took = time.monotonic() - started
        assert [r.json["prompt"] for r in own_b.image_requests] == ["quick owl"]
        assert took < 2.0, f"the other server's job waited {took:.1f} s behind a slow provider"
        await harness.settle(15)
        assert len(own_a.image_requests) == 2


async def test_a_refused_key_tells_the_moderators_and_the_member(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, _):
        log_channel = env.harness.other_channel_id
        harness = env.harness
        await harness.slash(
            "settings log-channel", {"channel": log_channel}, user=harness.moderator_id
        )
        await connect(env, own_a.base_url, KEY_A)
        own_a.fail_next("invalid_api_key", times=3)
        first = await imagine(env, "a fox")
        second = await imagine(env, "a fox again")
        for record in (first, second):
            assert "This server's image service refused its API key" in record.failure_text
        # A Russian member reads it in Russian, the command as their Discord names it.
        russian = await harness.slash("imagine", {"prompt": "лиса"}, locale="ru")
        assert russian.failure_text.startswith(
            "⚠️ Сервис изображений этого сервера отклонил его API-ключ. Модераторам уже "
            "сообщили; любой из них может задать новый ключ через /настройки сервис."
        )
        posts = [
            m for m in env.discord.bot_messages(log_channel) if "refused its API key" in str(m)
        ]
        assert len(posts) == 1  # told once, not at every job
        assert "/settings provider" in str(posts[0])


async def test_removing_the_provider_goes_back_to_the_operators(tmp_path: Path) -> None:
    async with servers(tmp_path, shared_provider=None) as (env, own_a, _):
        await connect(env, own_a.base_url, KEY_A)
        removed = await env.harness.slash("settings provider-remove", user=env.harness.moderator_id)
        assert "removed" in removed.text
        await imagine(env, "a fox")
        assert own_a.image_requests == []
        assert len(env.api.image_requests) == 1


async def test_provider_changes_are_audited_without_the_key(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, _):
        harness = env.harness
        await harness.slash(
            "settings log-channel", {"channel": harness.other_channel_id}, user=harness.moderator_id
        )
        await connect(env, own_a.base_url, KEY_A)
        await harness.slash("settings provider-remove", user=harness.moderator_id)
        changes = await env.store.recent_changes(harness.guild_id)
        removed, added = changes[0], changes[1]
        assert (added.what, added.after) == ("image service", f"{own_a.base_url} (key …1111)")
        assert (removed.before, removed.after) == (added.after, "none")
        assert added.actor_id == harness.moderator_id
        posts = str(env.discord.bot_messages(harness.other_channel_id))
        assert "image service" in posts and "…1111" in posts and KEY_A not in posts


async def test_a_bot_without_a_key_of_its_own_serves_servers_that_bring_one(
    tmp_path: Path,
) -> None:
    async with servers(tmp_path, openai_api_key="", shared_provider=()) as (env, own_a, _):
        await connect(env, own_a.base_url, KEY_A)
        served = await imagine(env, "a fox on its own key")
        assert served.result["attachments"]
        refused = await imagine(env, "a fox without one", guild=LONE_GUILD)
        assert "no image service connected" in refused.failure_text
        assert env.api.requests == []  # the operator's provider was never even asked its models
        assert env.bot.services.providers.operator not in env.bot.services.providers.all()


async def test_a_replaced_key_is_no_longer_asked_anything(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, own_b):
        providers = env.bot.services.providers
        gid = env.harness.guild_id
        await connect(env, own_a.base_url, KEY_A)
        await imagine(env, "a fox on the first key")
        old = await providers.for_guild(gid)
        await connect(env, own_b.base_url, KEY_B)  # a moderator replaces the provider
        await imagine(env, "a fox on the second key")
        assert old not in providers.all()  # its queue is idle: not refreshed, not kept
        asked = len(own_a.requests)
        for provider in providers.all():  # what the model watch does every few hours
            await provider.refresh()
        assert len(own_a.requests) == asked  # the old key is never used again
        assert [r.json["prompt"] for r in own_b.image_requests] == ["a fox on the second key"]


# --- in the moderator's language ----------------------------------------------------------------


async def connect_as(env: BotEnv, base_url: str, key: str, locale: str) -> Any:
    """Connect through the form from a moderator whose Discord is in ``locale``: the record."""
    harness = env.harness
    opened = await harness.slash("settings provider", user=harness.moderator_id, locale=locale)
    return await harness.submit_modal(
        opened.modal["custom_id"], {"base_url": base_url, "api_key": key}, user=harness.moderator_id
    )


def modal_labels(modal: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for row in modal["components"]:
        for item in (row, *row.get("components", ()), row.get("component") or {}):
            if isinstance(item, dict) and "label" in item:
                found.append(item["label"])
    return found


async def test_a_russian_moderator_connects_a_provider_in_russian(tmp_path: Path) -> None:
    async with servers(tmp_path) as (env, own_a, _):
        harness = env.harness
        opened = await harness.slash("settings provider", user=harness.moderator_id, locale="ru")
        assert opened.modal["title"] == "Подключение сервиса изображений"
        assert modal_labels(opened.modal) == [
            "Базовый URL",
            "API-ключ (шифруется, показан как …abcd)",
        ]

        refused = await connect_as(env, own_a.base_url, "sk-wrong-key-000000000000", "ru")
        assert "127.0.0.1 отклонил этот API-ключ. Ничего не сохранено." in refused.text
        assert await env.store.get_guild_provider(harness.guild_id) is None

        connected = await connect_as(env, own_a.base_url, KEY_A, "ru")
        (embed,) = connected.edits[-1].json["embeds"]
        assert embed["title"] == "Сервис изображений"
        assert embed["description"].startswith("✅ Подключено к 127.0.0.1.\n\n**Базовый URL:** ")
        assert "**Ключ:** …1111\n**Доступные модели:** " in embed["description"]
        assert KEY_A not in connected.text

        show = await harness.slash("settings show", user=harness.moderator_id, locale="ru")
        assert "**Сервис изображений:** собственный, " in show.text
        assert f"(ключ …1111, задал <@{harness.moderator_id}> <t:" in show.text
        removed = await harness.slash(
            "settings provider-remove", user=harness.moderator_id, locale="ru"
        )
        assert removed.text.startswith("✅ Сервис изображений этого сервера и его ключ удалены.")
        assert "пока модератор не подключит новый через /настройки сервис." in removed.text
        # The audit trail records its label and values in English, whoever asked; the list
        # reads the label in the moderator's language, the values as recorded.
        changes = await env.store.recent_changes(harness.guild_id)
        assert {c.what for c in changes} == {"image service"}
        listed = await harness.slash("settings changes", user=harness.moderator_id, locale="ru")
        assert f" сервис изображений: {own_a.base_url} (key …1111) → none" in listed.text


async def test_a_chinese_member_of_a_server_without_a_provider_is_told_in_chinese(
    tmp_path: Path,
) -> None:
    async with servers(tmp_path) as (env, _, _):
        refused = await env.harness.slash(
            "imagine", {"prompt": "a lone fox"}, guild=LONE_GUILD, locale="zh-CN"
        )
        text = refused.failure_text
        assert text.startswith(
            "⚠️ 本服务器还没有连接图片服务。管理员可以用 /设置 图片服务 连接一个。"
        )
        assert text.endswith("本次没有扣除任何点数。")
        assert env.api.image_requests == []
