"""Result files: what aiohttp sends for them, and that they let go of the image once sent."""

from __future__ import annotations

import os

import aiohttp.payload

from bot import render
from bot.images.types import GeneratedImage

INFO = render.ResultInfo(7, "generate", "gpt-image-1", "a fox", None, None, None, 1, "member")


def test_result_files_are_named_after_the_job_and_upload_their_bytes() -> None:
    data = os.urandom(300_000)  # stands in for an image: only its bytes matter here
    images = [GeneratedImage(data, "png", 1, 1), GeneratedImage(data, "jpeg", 1, 1)]

    files = render.result_files(INFO, images)

    assert [f.filename for f in files] == ["generate-7-1.png", "generate-7-2.jpg"]
    payload = aiohttp.payload.get_payload(files[0].fp, filename=files[0].filename)
    assert payload.size == len(data)
    assert payload.decode("latin-1").encode("latin-1") == data


def test_a_sent_file_lets_go_of_its_image() -> None:
    (file,) = render.result_files(INFO, [GeneratedImage(b"\x89PNG...", "png", 1, 1)])
    file.fp.close()  # discord.py stubs this out while the file may still be re-sent
    assert not file.fp.closed

    file.close()  # what discord.py does once the request is over

    assert file.fp.closed  # the bytes are released now, not at the next full garbage collection
