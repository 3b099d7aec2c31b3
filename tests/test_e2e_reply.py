"""Reply-to-edit end to end: a member replies to an image and mentions the bot with a prompt."""

from __future__ import annotations

import asyncio
import copy
import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import EventRecord

JSON = dict[str, Any]
ATTACH_FILES = 1 << 15


def image_bytes(color: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


def sends(record: EventRecord) -> list[JSON]:
    """Every message body the bot sent or edited while handling the event."""
    return [
        r.json
        for r in record.requests
        if r.method in ("POST", "PATCH") and "/messages" in r.path and 200 <= r.status < 300
    ]


async def wait_for(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def reply_to(env: BotEnv, target: JSON, text: str, **options: Any) -> EventRecord:
    h = env.harness
    return await h.message(
        f"{h.bot_mention} {text}", reference=target["id"], mentions=[h.bot_id], **options
    )


async def test_reply_with_a_prompt_edits_the_image_and_answers_the_original(
    tmp_path: Path,
) -> None:
    cat = image_bytes("orange", (60, 40))
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("my cat", author=h.moderator_id, attachments=[("cat.png", cat)])

        record = await reply_to(env, target, "add a hat")

        (request,) = env.api.image_requests
        assert request.endpoint == "edits"
        assert request.form["prompt"] == "add a hat"
        (sent,) = request.files("image")
        assert pixels(sent.data) == pixels(cat)
        (result,) = record.messages  # the progress line became the result: one message
        assert result["message_reference"]["message_id"] == target["id"]
        (embed,) = result["embeds"]
        assert embed["title"] == "Edited with gpt-image-1"
        assert embed["description"] == "add a hat"
        (uploaded,) = env.discord.files_of(result)
        size = {f["name"]: f["value"] for f in embed["fields"]}["Size"]
        assert "x".join(map(str, uploaded.image().size)) == size
        (job,) = await env.store.recent_jobs(h.guild_id)
        ids = [c["custom_id"] for row in result["components"] for c in row["components"]]
        assert f"img:reroll:{job.id}" in ids and f"img:delete:{job.id}" in ids
        assert (job.status, job.user_id, job.prompt) == ("succeeded", h.user_id, "add a hat")
        assert job.result_message_id == int(result["id"])
        progress, posted = sends(record)
        assert progress["embeds"][0]["title"] == "🎨 Making your image…"
        assert progress["allowed_mentions"] == {"parse": []}
        # The result is a new reply that pings the member (and only them); the progress is gone.
        assert posted["content"].startswith(f"<@{h.user_id}>")
        assert posted["allowed_mentions"]["users"] == [h.user_id]
        assert len(env.discord.deleted_messages) == 1


async def test_member_mask_is_the_mask_and_own_images_follow_the_referenced_one(
    tmp_path: Path,
) -> None:
    base, extra = image_bytes("orange", (48, 48)), image_bytes("teal", (48, 48))
    mask = image_bytes("white", (48, 48))
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("base.png", base)])

        await reply_to(
            env, target, "blend these", attachments=[("mask.png", mask), ("extra.png", extra)]
        )

        (request,) = env.api.image_requests
        assert [pixels(p.data) for p in request.files("image[]")] == [pixels(base), pixels(extra)]
        (sent_mask,) = request.files("mask")
        assert pixels(sent_mask.data)[0] == (48, 48)


async def test_own_attachment_without_a_reference_is_edited_in_a_reply_to_the_member(
    tmp_path: Path,
) -> None:
    drawing = image_bytes("navy", (32, 32))
    async with bot_env(tmp_path) as env:
        h = env.harness

        record = await h.message(
            f"make it night {h.bot_mention}",
            mentions=[h.bot_id],
            attachments=[("drawing.png", drawing)],
        )

        (request,) = env.api.image_requests
        assert request.form["prompt"] == "make it night"
        (result,) = record.messages
        assert result["message_reference"]["message_id"] == record.payload["id"]
        assert env.discord.files_of(result)


async def test_everyone_and_role_mentions_in_the_prompt_ping_no_one(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])

        record = await reply_to(env, target, f"@everyone <@&{h.moderator_role_id}> add a crown")

        assert env.api.image_requests[0].form["prompt"].endswith("add a crown")
        bodies = sends(record)
        assert bodies
        for body in bodies:
            mentions = body["allowed_mentions"]
            assert mentions["parse"] == []
            assert mentions.get("roles", []) == []
            assert mentions.get("users", []) in ([], [h.user_id])
            assert not mentions.get("replied_user")


async def test_mention_without_any_image_gets_a_hint_and_costs_nothing(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("just text")

        record = await reply_to(env, target, "add a hat")

        (hint,) = record.messages
        text = hint["embeds"][0]["description"]
        assert "/imagine" in text and "mention me" in text
        assert env.discord.channels[int(hint["channel_id"])]["type"] == 1  # by DM: private
        (body,) = sends(record)
        assert body["allowed_mentions"] == {"parse": []}
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(h.guild_id) == []


async def test_bare_mention_on_an_image_gets_the_hint(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])

        record = await reply_to(env, target, "")

        (hint,) = record.messages
        assert "say what to change" in hint["embeds"][0]["description"]
        assert env.api.image_requests == []


async def test_bots_dms_and_unaddressed_messages_are_ignored(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        other_bot = h.build_message(
            f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id]
        )
        other_bot["author"] = {**other_bot["author"], "bot": True}
        itself = h.build_message(
            f"{h.bot_mention} add a hat", author=h.bot_id, reference=target["id"]
        )
        reply_ping_only = h.build_message("nice!", reference=target["id"], mentions=[h.bot_id])

        records = [
            await h.inject("MESSAGE_CREATE", other_bot),
            await h.inject("MESSAGE_CREATE", itself),
            await h.inject("MESSAGE_CREATE", reply_ping_only),
            await h.message(f"{h.bot_mention} add a hat", dm=True, mentions=[h.bot_id]),
        ]

        assert [r.requests for r in records] == [[], [], [], []]
        assert env.api.image_requests == []


async def test_api_refusal_turns_the_progress_reply_into_the_error_and_refunds(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        env.api.fail_next("content_policy_violation")

        record = await reply_to(env, target, "something rejected")

        (told,) = record.messages  # the progress reply went away; the member was told by DM
        assert env.discord.channels[int(told["channel_id"])]["type"] == 1
        assert "safety" in told["embeds"][0]["description"].lower()
        assert "something rejected" in told["embeds"][0]["description"]  # the prompt, quoted
        assert not any("safety" in t for t in env.discord.seen_by_others())
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert (job.status, job.error_kind) == ("failed", "content_rejected")
        reservation = await env.store.get_reservation(h.guild_id, 1)  # the fresh ledger's first
        assert reservation is not None and reservation.job_id == job.id
        assert reservation.status == "refunded" and reservation.charged == 0
        assert await env.store.charges(h.guild_id, 0, 2**40) == []
        usage = await env.bot.services.quotas.member_usage(h.guild_id, h.user_id, ())
        assert usage.member.used == 0 and usage.in_flight == 0


async def test_referenced_message_missing_from_the_event_is_fetched(tmp_path: Path) -> None:
    cat = image_bytes("orange", (40, 40))
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", cat)])
        payload = copy.deepcopy(
            h.build_message(
                f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id]
            )
        )
        del payload["referenced_message"]  # Discord may leave it out

        record = await h.inject("MESSAGE_CREATE", payload)

        assert env.discord.requests_to("GET", f"/channels/*/messages/{target['id']}")
        (sent,) = env.api.image_requests[0].files("image")
        assert pixels(sent.data) == pixels(cat)
        assert env.discord.files_of(record.messages[0])


async def test_reply_to_a_deleted_message_says_so(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        payload = h.build_message(
            f"{h.bot_mention} add a hat", reference=target["id"], mentions=[h.bot_id]
        )
        del payload["referenced_message"]
        del env.discord.messages[int(target["id"])]

        record = await h.inject("MESSAGE_CREATE", payload)

        (reply,) = record.messages
        assert "was deleted" in reply["embeds"][0]["description"]
        assert env.api.image_requests == []


async def test_result_too_large_for_discord_is_sent_again_smaller(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        env.api.latency = 0.2
        record = await reply_to(env, target, "add a hat", settle=False)
        await wait_for(lambda: env.api.image_requests)  # the progress reply is posted by now
        env.discord.fail_next("POST", "/channels/*/messages", status=413, code=40005)
        await h.settle()

        posts = [r for r in record.requests if r.method == "POST" and r.files]
        assert [r.status for r in posts] == [413, 200]
        (result,) = record.messages
        assert env.discord.files_of(result)
        (job,) = await env.store.recent_jobs(h.guild_id)
        assert job.status == "succeeded"


async def test_no_permission_to_attach_files_is_said_before_spending(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        for role_id in (h.guild_id, h.bot_role_id):  # @everyone and the bot's own role
            role = h.roles[role_id]
            role["permissions"] = str(int(role["permissions"]) & ~ATTACH_FILES)
            await h.inject("GUILD_ROLE_UPDATE", {"guild_id": str(h.guild_id), "role": role})
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])

        record = await reply_to(env, target, "add a hat")

        (reply,) = record.messages
        assert "Attach Files" in reply["embeds"][0]["description"]
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(h.guild_id) == []


async def test_queued_reply_shows_its_place_then_becomes_the_result(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        h = env.harness
        env.api.latency = 0.2
        first = h.build_message("", attachments=[("a.png", image_bytes("red", (32, 32)))])
        second = h.build_message("", attachments=[("b.png", image_bytes("blue", (32, 32)))])

        await reply_to(env, first, "add a hat", author=h.moderator_id, settle=False)
        await asyncio.sleep(0.05)  # the first job holds the only slot
        record = await reply_to(env, second, "add a scarf")

        waiting = next(
            p for p in sends(record) if p["embeds"][0]["title"] == "⏳ In the queue — position 1"
        )
        (job,) = await env.store.recent_jobs(h.guild_id, user_id=h.user_id)
        assert [c["custom_id"] for row in waiting["components"] for c in row["components"]] == [
            f"img:cancel:{job.id}"
        ]
        result = env.discord.messages[job.result_message_id or 0]
        assert result["message_reference"]["message_id"] == second["id"]
        assert result["embeds"][0]["description"] == "add a scarf"
        assert f"img:cancel:{job.id}" not in str(result["components"])
        assert job.status == "succeeded"


async def test_cancelling_a_queued_reply_job_refunds_and_never_calls_the_api(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        h = env.harness
        env.api.latency = 0.2
        first = h.build_message("", attachments=[("a.png", image_bytes("red", (32, 32)))])
        second = h.build_message("", attachments=[("b.png", image_bytes("blue", (32, 32)))])
        await reply_to(env, first, "add a hat", author=h.moderator_id, settle=False)
        await asyncio.sleep(0.05)
        await reply_to(env, second, "add a scarf", settle=False)
        await asyncio.sleep(0.05)
        (job,) = await env.store.recent_jobs(h.guild_id, user_id=h.user_id)

        clicked = await h.click(f"img:cancel:{job.id}")

        assert clicked.ephemeral and "Cancelled" in clicked.text
        await h.settle()
        assert int(clicked.payload["message"]["id"]) in env.discord.deleted_messages
        assert [r.form["prompt"] for r in env.api.image_requests] == ["add a hat"]
        cancelled = await env.store.get_job(h.guild_id, job.id)
        assert cancelled is not None and cancelled.status == "cancelled"
        usage = await env.bot.services.quotas.member_usage(h.guild_id, h.user_id, ())
        assert usage.member.used == 0 and usage.in_flight == 0


# --- in the server's language (a message carries no member language) -------------------------

EMBED_LINKS = 1 << 14


async def german_server(env: BotEnv) -> None:
    """The test server's Discord language becomes German, as a GUILD_UPDATE says."""
    h = env.harness
    h.guild_payload["preferred_locale"] = "de"
    await h.inject("GUILD_UPDATE", h.guild_payload)


async def test_a_reply_in_a_german_server_gets_its_hint_in_german(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await german_server(env)
        target = env.harness.build_message("just text")

        record = await reply_to(env, target, "add a hat")

        (hint,) = record.messages
        (embed,) = hint["embeds"]
        assert embed["description"].startswith(
            "Antworte auf eine Nachricht mit Bild (oder häng eins an), erwähne mich und sag, was "
            "sich ändern soll, z. B. `@"
        )
        assert embed["description"].endswith("Um ein Bild aus Worten zu erstellen, nimm /imagine.")
        assert embed["footer"]["text"] == (
            "Um es nochmal zu versuchen, antworte auf das Bild und erwähne mich erneut."
        )


async def test_a_failed_reply_in_a_german_server_is_told_in_german(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await german_server(env)
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])
        payload = h.build_message(
            f"{h.bot_mention} füg einen Hut hinzu", reference=target["id"], mentions=[h.bot_id]
        )
        del payload["referenced_message"]
        del env.discord.messages[int(target["id"])]

        record = await h.inject("MESSAGE_CREATE", payload)

        (reply,) = record.messages
        text = reply["embeds"][0]["description"]
        assert text.startswith("⚠️ Die Nachricht, auf die du geantwortet hast, wurde gelöscht.")
        assert "**Dein Prompt**\n```\nfüg einen Hut hinzu\n```" in text
        assert text.endswith("Dafür wurde nichts berechnet.")
        assert reply["embeds"][0]["footer"]["text"].startswith("Um es nochmal zu versuchen")


async def test_missing_permissions_in_a_german_server_are_named_as_discord_does(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await german_server(env)
        for role_id in (h.guild_id, h.bot_role_id):
            role = h.roles[role_id]
            role["permissions"] = str(int(role["permissions"]) & ~ATTACH_FILES & ~EMBED_LINKS)
            await h.inject("GUILD_ROLE_UPDATE", {"guild_id": str(h.guild_id), "role": role})
        target = h.build_message("", attachments=[("cat.png", image_bytes("red", (32, 32)))])

        record = await reply_to(env, target, "add a hat")

        (reply,) = record.messages
        assert reply["embeds"][0]["description"].startswith(
            "⚠️ Ich brauche in diesem Kanal die Berechtigungen Dateien anhängen und Links "
            "einbetten, um Bilder zu posten."
        )
        assert env.api.image_requests == []
