"""The result buttons end to end: Re-roll, Vary n, Edit, Delete and Cancel, also after a restart."""

from __future__ import annotations

import copy
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import tell_interrupted
from bot.store.models import GuildSettings, NewJob
from cogs.buttons import ALREADY_RUNNING, GONE, ONLY_CANCEL, ONLY_DELETE
from cogs.common import UNEXPECTED
from tests.fakes.bot_env import DISCORD_TOKEN, BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeImagesServer
from tests.waiting import wait_until

JSON = dict[str, Any]


def png(colour: str, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def embed_text(message: JSON) -> str:
    parts = []
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


def centre(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((rgb.width // 2, rgb.height // 2))  # type: ignore[return-value]


async def imagine(env: BotEnv, **options: Any) -> JSON:
    """Run /imagine and return the finished result message."""
    record = await env.harness.slash("imagine", {"prompt": "a red fox", **options})
    result = record.result
    assert result is not None and "img:reroll:" in " ".join(custom_ids(result)), record.text
    return result


async def test_reroll_runs_the_same_job_again_and_the_clicker_pays(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        first = await imagine(env, n=2, size="1024x1536", quality="low")
        record = await env.harness.click("img:reroll:1", user=env.harness.moderator_id)

        assert record.callback_type == 4 and not record.ephemeral
        original, again = (r.json for r in env.api.image_requests)
        # The same request, but for the member who clicked: each member has their own identifier.
        assert again.pop("safety_identifier") != original.pop("safety_identifier")
        assert again == original
        assert again["prompt"] == "a red fox" and again["model"] == "gpt-image-1"
        result = record.result
        assert result is not None and result["id"] != first["id"]
        assert "job 2" in embed_text(result)
        assert {"img:reroll:2", "img:edit:2", "img:delete:2", "img:vary:2:1"} <= set(
            custom_ids(result)
        )
        sizes = [f.image().size for f in env.discord.files_of(result)]
        assert sizes == [(1024, 1536), (1024, 1536)]
        # The result is a new message that pings the clicker, and only them.
        patch = [r for r in record.followups if r.files][-1].json
        assert patch["content"].startswith(f"<@{env.harness.moderator_id}>")
        assert patch["allowed_mentions"]["parse"] == []
        assert [int(u) for u in patch["allowed_mentions"]["users"]] == [env.harness.moderator_id]
        assert int(first["id"]) in env.discord.messages  # the first result stays

        before, job = await env.store.get_job(env.harness.guild_id, 1), None
        job = await env.store.get_job(env.harness.guild_id, 2)
        assert before is not None and job is not None
        assert (job.operation, job.model, job.prompt) == ("generate", "gpt-image-1", "a red fox")
        assert dict(job.params) == dict(before.params)
        assert job.user_id == env.harness.moderator_id and job.status == "succeeded"
        assert job.credits > 0 and job.result_message_id == int(result["id"])


async def test_vary_sends_the_chosen_image_of_the_result(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        first = await imagine(env, n=2)
        images = env.discord.files_of(first)
        assert centre(images[0].data) != centre(images[1].data)

        record = await env.harness.click("img:vary:1:1")

        assert record.callback_type == 4
        request = env.api.image_requests[-1]
        # A GPT result varies with its own model, through its edits endpoint.
        assert request.endpoint == "edits" and request.form["model"] == "gpt-image-1"
        assert request.form["prompt"].startswith("Make a subtle variation")
        (sent,) = request.files("image")
        assert centre(sent.data) == centre(images[1].data)
        result = record.result
        assert result is not None and "Variations with gpt-image-1" in embed_text(result)
        job = await env.store.get_job(env.harness.guild_id, 2)
        assert job is not None and job.operation == "variation" and job.status == "succeeded"
        assert job.params["image_urls"] == [first["attachments"][1]["url"]]


async def test_vary_on_a_dall_e_2_result_uses_its_variations_endpoint(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        first = await imagine(env, model="dall-e-2", size="512x512")
        record = await env.harness.click("img:vary:1:0")
        request = env.api.image_requests[-1]
        assert request.endpoint == "variations" and request.form["model"] == "dall-e-2"
        (sent,) = request.files("image")
        with Image.open(io.BytesIO(sent.data)) as image:
            assert image.format == "PNG" and image.width == image.height
        assert centre(sent.data) == centre(env.discord.files_of(first)[0].data)
        assert record.result
        assert "Variations with dall-e-2" in embed_text(record.result)


async def test_edit_opens_a_form_then_edits_the_chosen_image(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        first = await imagine(env, n=2)
        second_image = env.discord.files_of(first)[1]

        opened = await env.harness.click("img:edit:1")
        assert opened.callback_type == 9
        fields = [c["components"][0] for c in opened.modal["components"]]
        assert [f["custom_id"] for f in fields] == ["prompt", "image"]
        assert fields[1]["value"] == "1" and "1-2" in fields[1]["label"]
        assert env.api.image_requests[-1].endpoint == "generations"  # nothing sent yet

        record = await env.harness.submit_modal(
            opened.modal["custom_id"], {"prompt": "give it a hat", "image": "2"}
        )

        assert record.callback_type == 4
        request = env.api.image_requests[-1]
        assert request.endpoint == "edits"
        assert request.form["prompt"] == "give it a hat" and request.form["model"] == "gpt-image-1"
        (sent,) = request.files()
        assert centre(sent.data) == centre(second_image.data)
        result = record.result
        assert result is not None and "Edited with gpt-image-1" in embed_text(result)
        assert "img:reroll:2" in custom_ids(result)
        job = await env.store.get_job(env.harness.guild_id, 2)
        assert job is not None and job.operation == "edit" and job.status == "succeeded"


async def test_edit_of_a_model_that_cannot_edit_uses_the_default_edit_model(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env, model="dall-e-3")
        opened = await env.harness.click("img:edit:1")
        fields = [c["components"][0]["custom_id"] for c in opened.modal["components"]]
        assert fields == ["prompt"]  # one image: nothing to choose

        await env.harness.submit_modal(opened.modal["custom_id"], {"prompt": "at night"})

        request = env.api.image_requests[-1]
        assert request.endpoint == "edits" and request.form["model"] == "gpt-image-1"
        (sent,) = request.files()
        assert centre(sent.data) == centre(env.discord.files_of(result)[0].data)


async def test_edit_with_an_image_number_out_of_range_is_refused_kindly(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await imagine(env, n=2)
        opened = await env.harness.click("img:edit:1")

        record = await env.harness.submit_modal(
            opened.modal["custom_id"], {"prompt": "hat", "image": "7"}
        )

        assert record.ephemeral and "between 1 and 2" in record.text
        assert len(env.api.image_requests) == 1
        assert await env.store.get_job(env.harness.guild_id, 2) is None


async def test_requester_deletes_the_result_and_the_job_stays(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)

        asked = await env.harness.click("img:delete:1")
        assert asked.ephemeral and "can't be undone" in asked.text
        assert int(result["id"]) in env.discord.messages  # nothing happens before Yes
        record = await env.harness.click(f"img:delete-yes:1:{result['id']}")

        assert int(result["id"]) not in env.discord.messages
        assert int(result["id"]) in env.discord.deleted_messages
        assert record.ephemeral and "Deleted." in record.text
        job = await env.store.get_job(env.harness.guild_id, 1)
        assert job is not None and job.status == "succeeded"


async def test_another_member_cannot_delete_someone_elses_result(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)
        other = await env.harness.add_member("bystander")

        record = await env.harness.click("img:delete:1", user=other)

        assert record.callback_type == 4 and record.ephemeral
        assert ONLY_DELETE in record.text
        assert int(result["id"]) in env.discord.messages
        assert env.discord.requests_to("DELETE", "/channels/*") == []


async def test_moderator_can_delete_anyones_result(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)

        await env.harness.click("img:delete:1", user=env.harness.moderator_id)
        yes = f"img:delete-yes:1:{result['id']}"
        record = await env.harness.click(yes, user=env.harness.moderator_id)

        assert "Deleted." in record.text
        assert int(result["id"]) in env.discord.deleted_messages


async def test_a_moderator_role_named_in_settings_may_delete(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)
        helpers = await env.harness.add_role("Helpers")
        helper = await env.harness.add_member("helper", roles=[helpers])
        await env.store.save_guild_settings(
            GuildSettings(env.harness.guild_id, moderator_role_ids=(helpers,))
        )

        await env.harness.click("img:delete:1", user=helper)
        record = await env.harness.click(f"img:delete-yes:1:{result['id']}", user=helper)

        assert "Deleted." in record.text
        assert int(result["id"]) in env.discord.deleted_messages


async def test_cancel_while_queued_refunds_and_never_calls_the_api(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        env.api.latency = 0.5
        harness = env.harness
        other = await harness.add_member("bystander")
        await harness.slash("imagine", {"prompt": "first"}, settle=False)
        await wait_until(lambda: env.api.image_requests)
        second = await harness.slash("imagine", {"prompt": "second"}, settle=False)
        # Its first answer may say "waiting for a free slot" until the queue tells its place.
        waiting = await wait_until(
            lambda: (m := second.original) and "In the queue" in embed_text(m) and m
        )
        assert "img:cancel:2" in custom_ids(waiting)

        refused = await harness.click("img:cancel:2", user=other, settle=False)
        await wait_until(lambda: refused.callback_type)
        assert refused.ephemeral and ONLY_CANCEL in refused.text

        record = await harness.click("img:cancel:2")

        assert record.ephemeral and "Cancelled. Nothing was charged." in record.text
        await wait_until(lambda: second.original is None)  # the public progress went away
        assert UNEXPECTED not in second.text
        assert [r.json["prompt"] for r in env.api.image_requests] == ["first"]
        first_job = await env.store.get_job(harness.guild_id, 1)
        job = await env.store.get_job(harness.guild_id, 2)
        assert first_job is not None and first_job.status == "succeeded"
        assert job is not None and job.status == "cancelled"
        usage = await env.bot.services.quotas.member_usage(harness.guild_id, harness.user_id, ())
        assert usage.member.used == first_job.credits and usage.in_flight == 0


async def test_cancel_after_the_job_started_says_it_is_too_late(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_concurrent_requests=1) as env:
        env.api.latency = 0.3
        harness = env.harness
        await harness.slash("imagine", {"prompt": "first"}, settle=False)
        await wait_until(lambda: env.api.image_requests)
        second = await harness.slash("imagine", {"prompt": "second"}, settle=False)
        stale = copy.deepcopy(
            await wait_until(
                lambda: (m := second.original) and "img:cancel:2" in custom_ids(m) and m
            )
        )
        await wait_until(lambda: len(env.api.image_requests) == 2)  # the second job is running
        # The member's client still shows the Cancel button of the waiting message.
        payload = harness.interaction_payload(
            3, {"custom_id": "img:cancel:2", "component_type": 2}, message=stale
        )

        record = await harness.inject("INTERACTION_CREATE", payload)

        assert isinstance(record, InteractionRecord)
        assert record.callback_type == 4 and record.ephemeral
        assert ALREADY_RUNNING in record.text
        job = await env.store.get_job(harness.guild_id, 2)
        assert job is not None and job.status == "succeeded"


async def test_buttons_keep_working_after_a_restart(tmp_path: Path) -> None:
    async with FakeImagesServer() as api, FakeDiscord(token=DISCORD_TOKEN) as fake:
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            result = await imagine(env, quality="low")
            old = env.harness
        async with bot_env(tmp_path, api=api, discord_fake=fake) as env:
            # The new process hears about the same server again, then a member clicks.
            await env.harness.inject("GUILD_CREATE", old.guild_payload)
            payload = old.interaction_payload(
                3, {"custom_id": "img:reroll:1", "component_type": 2}, message=copy.deepcopy(result)
            )

            record = await env.harness.inject("INTERACTION_CREATE", payload)

            assert len(api.image_requests) == 2
            assert api.image_requests[1].json == api.image_requests[0].json
            assert api.image_requests[1].json["quality"] == "low"
            new = await wait_until(lambda: [m for m in record.messages if "job 2" in embed_text(m)])
            assert "img:reroll:2" in custom_ids(new[0])
            job = await env.store.get_job(old.guild_id, 2)
            assert job is not None and job.status == "succeeded" and job.prompt == "a red fox"


def _pointing_at(env: BotEnv, result: JSON, job_id: int) -> JSON:
    """A copy of a result message whose buttons name another job id."""
    message = json.loads(json.dumps(result).replace("img:reroll:1", f"img:reroll:{job_id}"))
    message["id"] = str(env.discord.snowflake())
    return env.discord.store_message(message)


@pytest.mark.parametrize("where", ["missing", "other guild"])
async def test_a_button_whose_job_is_gone_says_so(tmp_path: Path, where: str) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)
        job_id = 999
        if where == "other guild":
            foreign = await env.store.create_job(
                NewJob(guild_id=1234, channel_id=5678, user_id=env.harness.user_id,
                       operation="generate", model="gpt-image-1", prompt="secret")
            )  # fmt: skip
            job_id = foreign.id
        message = _pointing_at(env, result, job_id)

        record = await env.harness.click(f"img:reroll:{job_id}", message=message)

        assert record.callback_type == 4 and record.ephemeral
        assert GONE.format(imagine="/imagine") in record.text
        assert len(env.api.image_requests) == 1


async def test_reroll_of_an_edit_whose_image_link_expired(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.harness.slash(
            "edit", {"prompt": "make it blue"}, attachments={"image": ("cat.png", png("green"))}
        )
        assert env.api.image_requests[-1].endpoint == "edits"
        env.discord.fail_next("GET", "/ephemeral-attachments/*", status=404)

        record = await env.harness.click("img:reroll:1")

        assert "cat.png" in record.text and "/edit" in record.text
        assert "expire" in record.text and UNEXPECTED not in record.text
        assert len(env.api.image_requests) == 1
        job = await env.store.get_job(env.harness.guild_id, 2)
        assert job is not None and (job.status, job.error_kind) == ("failed", "bad_image")
        usage = await env.bot.services.quotas.member_usage(
            env.harness.guild_id, env.harness.user_id, ()
        )
        first = await env.store.get_job(env.harness.guild_id, 1)
        assert first is not None and usage.member.used == first.credits


async def test_reroll_of_an_edit_without_stored_links_is_refused(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        result = await imagine(env)
        old = await env.store.create_job(
            NewJob(guild_id=env.harness.guild_id, channel_id=env.harness.channel_id,
                   user_id=env.harness.user_id, operation="edit", model="gpt-image-1",
                   prompt="a hat", params={"images": ["cat.png"]})
        )  # fmt: skip
        message = _pointing_at(env, result, old.id)

        record = await env.harness.click(f"img:reroll:{old.id}", message=message)

        assert record.ephemeral and "/edit" in record.text
        assert len(env.api.image_requests) == 1
        assert await env.store.get_job(env.harness.guild_id, old.id + 1) is None


async def test_unexpected_errors_are_logged_and_told_briefly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(tmp_path) as env:
        await imagine(env)

        async def broken(guild_id: int, job_id: int) -> None:
            raise RuntimeError("database on fire")

        monkeypatch.setattr(env.store, "get_job", broken)
        with caplog.at_level(logging.ERROR, logger="cogs.buttons"):
            record = await env.harness.click("img:delete:1")

        assert record.ephemeral and UNEXPECTED in record.text
        assert "database on fire" not in record.text
        assert any("DeleteButton on job 1" in r.getMessage() for r in caplog.records)


# --- in the member's language -----------------------------------------------------------------


def labels(message: JSON) -> list[str]:
    return [c["label"] for row in message.get("components", []) for c in row["components"]]


async def test_a_japanese_members_edit_form_is_in_japanese(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await imagine(env, n=2)

        opened = await env.harness.click("img:edit:1", locale="ja")

        assert opened.modal["title"] == "この画像を編集"
        fields = [c["components"][0] for c in opened.modal["components"]]
        assert [f["label"] for f in fields] == ["何を変えますか？", "画像の番号（1〜2）"]
        wrong = await env.harness.submit_modal(
            opened.modal["custom_id"], {"prompt": "帽子をかぶせて", "image": "7"}
        )
        assert wrong.ephemeral and "画像の番号は 1〜2 の間で指定してください。" in wrong.text
        again = await env.harness.click("img:edit:1", locale="ja")
        done = await env.harness.submit_modal(
            again.modal["custom_id"], {"prompt": "帽子をかぶせて", "image": "2"}
        )
        assert done.result["embeds"][0]["title"] == "gpt-image-1 で編集"


async def test_a_russian_member_deletes_in_russian(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        result = (await h.slash("imagine", {"prompt": "рыжая лиса"}, locale="ru")).result
        other = await h.add_member("bystander")

        refused = await h.click("img:delete:1", user=other, locale="ru")
        assert refused.ephemeral
        assert "Удалить эти изображения может только тот, кто их запросил, или модератор." in (
            refused.text
        )
        asked = await h.click("img:delete:1", locale="ru")
        assert "Удалить эти изображения для всех? Это нельзя отменить." in asked.text
        assert labels(asked.callback.json["data"]) == ["Да, удалить", "Оставить"]
        done = await h.click(f"img:delete-yes:1:{result['id']}", locale="ru")
        assert done.callback.json["data"]["embeds"][0]["description"] == "Удалено."
        assert int(result["id"]) in env.discord.deleted_messages


async def test_save_a_gone_job_and_change_prompt_read_in_the_members_language(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        result = await imagine(env)
        saved = await h.click("img:star:1", locale="de")
        assert "In deinen Favoriten gespeichert (/favoriten)." in saved.text
        removed = await h.click("img:star:1", locale="de")
        assert "Aus deinen Favoriten entfernt." in removed.text
        # A job that is gone names the command to start again as a Chinese member's Discord does.
        gone = await h.click(
            "img:reroll:999", message=_pointing_at(env, result, 999), locale="zh-CN"
        )
        assert "该任务已不再保存，所以这个按钮无法重做。请用 /生成 重新开始。" in gone.text
        env.api.fail_next("server_error")
        failed = await h.slash("imagine", {"prompt": "un renard"}, locale="fr")
        assert labels(failed.failure) == ["Réessayer", "Changer le prompt"]
        opened = await h.click("img:reprompt:2", locale="fr")
        assert opened.modal["title"] == "Changer le prompt"
        (field,) = [c["components"][0] for c in opened.modal["components"]]
        assert (field["label"], field["value"]) == ("Prompt", "un renard")


async def test_the_restart_notice_buttons_read_in_the_servers_language(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await h.slash("settings language", {"language": "de"}, user=h.moderator_id)
        await h.slash("imagine", {"prompt": "a fox"}, locale="ja")
        (job,) = await env.store.recent_jobs(h.guild_id)

        await tell_interrupted(env.bot, [job])

        (notice,) = [m for m in env.discord.bot_messages(h.channel_id) if not m.get("embeds")]
        assert labels(notice) == ["Nochmal versuchen", "Prompt ändern"]
