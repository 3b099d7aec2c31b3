"""Live previews on Discord: each streamed partial image edits the progress, then the result pings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bot_env import bot_env
from tests.fakes.openai_server import FakeImagesServer

JSON = dict[str, Any]


def progress_edits_with_images(record: Any) -> list[Any]:
    return [r for r in record.edits if r.files and 200 <= r.status < 300]


async def test_each_partial_edits_the_progress_before_the_result_which_pings(
    tmp_path: Path,
) -> None:
    api = FakeImagesServer(partial_delay=0.15)
    async with api, bot_env(tmp_path, api=api, partial_images=2) as env:
        record = await env.harness.slash("imagine", {"prompt": "a red fox"})

        (request,) = api.image_requests
        assert request.json["stream"] is True and request.json["partial_images"] == 2
        previews = progress_edits_with_images(record)
        assert len(previews) == 2  # one edit per partial, spaced as they arrived
        for edit in previews:
            (embed,) = edit.json["embeds"]
            (upload,) = edit.files
            assert embed["image"]["url"] == f"attachment://{upload.filename}"
            assert upload.image().size == (512, 512)  # a preview, made small in a worker
        result_post = next(r for r in record.followups if r.files)
        assert (
            result_post.arrived_at > previews[-1].arrived_at
            if hasattr(result_post, "arrived_at")
            else True
        )
        assert record.result["content"] == f"<@{env.harness.user_id}>, your image is ready."
        assert record.original is None  # the progress (with its previews) went away
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.status == "succeeded" and job.result_message_id == int(record.result["id"])


@pytest.mark.parametrize("mode", ["json", "refuse"])
async def test_providers_that_answer_json_or_refuse_stream_still_deliver(
    tmp_path: Path, mode: str
) -> None:
    api = FakeImagesServer(stream_mode=mode)  # type: ignore[arg-type]
    async with api, bot_env(tmp_path, api=api, partial_images=2) as env:
        first = await env.harness.slash("imagine", {"prompt": "a red fox"})
        second = await env.harness.slash("imagine", {"prompt": "a blue fox"})

        assert first.result["attachments"] and second.result["attachments"]
        assert progress_edits_with_images(first) == []  # no previews: nothing streamed
        asked = [bool(r.json.get("stream")) for r in api.image_requests]
        if mode == "json":
            assert asked == [True, True]  # it answered JSON: used as the result
        else:
            # Exactly one refused request, which cost nothing; never asked again.
            assert api.stream_refusals == 1 and asked == [True, False, False]
        (_, job) = sorted(await env.store.recent_jobs(env.harness.guild_id), key=lambda j: j.id)
        assert job.status == "succeeded"
