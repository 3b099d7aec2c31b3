"""The worker pool starts with the core, off the event loop, warmed up before the first job."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.core import open_core
from bot.settings import Settings


def processing_was_imported() -> tuple[int, bool]:
    """Runs in a worker: its pid, and whether the image code was loaded before this job came."""
    return os.getpid(), "bot.images.processing" in sys.modules


async def test_the_pool_is_started_and_warm_before_the_first_job(tmp_path: Path) -> None:
    settings = Settings(discord_token="", openai_api_key="sk-test-offload", data_dir=tmp_path)
    async with open_core(settings, processes=1) as core:
        pool = core.offload._pool
        assert pool is not None
        # The worker exists before any job asked for one (ProcessPoolExecutor keeps its workers
        # by pid; it starts them lazily, on the event loop, unless they were started already).
        workers = set(pool._processes)  # type: ignore[attr-defined]
        assert len(workers) == 1
        pid, warm = await core.offload.run(processing_was_imported)
        assert pid in workers and pid != os.getpid()
        assert warm, "the first job paid for importing Pillow and the image code"


async def test_threads_need_no_start(tmp_path: Path) -> None:
    settings = Settings(discord_token="", openai_api_key="sk-test-offload", data_dir=tmp_path)
    async with open_core(settings, processes=0) as core:
        assert core.offload._pool is None
        pid, _ = await core.offload.run(processing_was_imported)
        assert pid == os.getpid()
