"""A bot process without Discord: the real composition (``create_bot``, never logged in) with its
JobRunner driven directly, so several processes can share one database and one fake Images API.

In this process::

    async with headless_bot(database_url, api.base_url, tmp_path) as bot:
        delivered, failed = await run_jobs(bot, 10)

As a child process (``HeadlessProcess.start(...)``), run as
``python -m tests.fakes.headless DATABASE_URL BASE_URL DATA_DIR [--concurrency 4]``: it prints
``ready`` once built, then answers each line of its input: ``run N`` runs N jobs at once and
prints ``done DELIVERED FAILED``. The end of its input ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.app import ImageBot, create_bot
from bot.images.types import PartialImage
from bot.jobs import Refused, Requester
from bot.service import JobSpec, Outcome
from bot.settings import Settings
from bot.settlement import Delivered
from bot.store.models import Job, QuotaPolicy
from tests.fakes.openai_server import TEST_API_KEY

ROOT = Path(__file__).resolve().parents[2]
GUILD, CHANNEL = 4242, 4343
READY_TIMEOUT = 60.0
_users = itertools.count(os.getpid() * 100_000)  # unique members across processes


def headless_settings(
    database_url: str, base_url: str, data_dir: Path, **overrides: Any
) -> Settings:
    """A bot's settings for load: the fake API, no retries, a roomy queue, threads not processes."""
    values: dict[str, Any] = {
        "discord_token": "headless-never-logs-in",
        "openai_api_key": TEST_API_KEY,
        "openai_base_url": base_url,
        "default_model": "gpt-image-1",
        "data_dir": data_dir,
        "database_url": database_url,
        "request_timeout": 120.0,
        "max_retries": 0,  # a 429 reaches the JobRunner at once, which pauses the provider
        "queue_size": 1000,
        "partial_images": 0,
        **overrides,
    }
    return Settings(**values)


@contextlib.asynccontextmanager
async def headless_bot(
    database_url: str, base_url: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[ImageBot]:
    """The bot built as ``python -m bot`` builds it, never logged in; members may run any number."""
    settings = headless_settings(database_url, base_url, data_dir, **overrides)
    async with create_bot(settings, processes=0) as bot:
        await allow_everything(bot, GUILD)
        yield bot


async def allow_everything(bot: ImageBot, guild_id: int) -> None:
    """No credit limit and no cap on a member's jobs at a time in ``guild_id``."""
    policy = QuotaPolicy(guild_id, user_limit=None, max_in_flight=None)
    await bot.services.store.save_quota_policy(policy)


class _Quiet:
    """Progress nobody watches."""

    async def queued(self, job: Job, position: int) -> None:
        pass

    async def running(self, job: Job) -> None:
        pass

    async def partial(self, job: Job, image: PartialImage) -> None:
        pass


async def _deliver(job: Job, outcome: Outcome, credits: int) -> Delivered:
    return Delivered(CHANNEL, job.id)


async def run_job(bot: ImageBot, prompt: str = "a fox", *, guild_id: int = GUILD) -> bool:
    """One member's /imagine through the JobRunner; whether its image was delivered."""
    jobs = bot.services.jobs
    who = Requester(guild_id, CHANNEL, next(_users))
    try:
        admitted = await jobs.admit(who, JobSpec("generate", "gpt-image-1", prompt))
        await jobs.execute(admitted, progress=_Quiet(), deliver=_deliver)
    except Refused:
        return False
    return True


async def run_jobs(bot: ImageBot, count: int, *, tag: str = "job") -> tuple[int, int]:
    """``count`` members' jobs at once: (delivered, failed)."""
    done = await asyncio.gather(*(run_job(bot, f"{tag} {i}") for i in range(count)))
    return sum(done), count - sum(done)


class HeadlessProcess:
    """A headless bot in a child process of its own, driven through its input."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child

    @classmethod
    async def start(
        cls, database_url: str, base_url: str, data_dir: Path, *, concurrency: int = 4
    ) -> HeadlessProcess:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fakes.headless", database_url, base_url, str(data_dir),
            "--concurrency", str(concurrency),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        process = cls(child)
        try:
            line = await asyncio.wait_for(process._line(), READY_TIMEOUT)
        except BaseException:
            process.kill()
            raise
        if line != "ready":
            process.kill()
            raise RuntimeError(f"the headless bot didn't start: {line!r}")
        return process

    @property
    def pid(self) -> int:
        return self.child.pid

    def send(self, count: int) -> None:
        """Start ``count`` jobs at once (``done()`` waits for them)."""
        assert self.child.stdin is not None
        self.child.stdin.write(f"run {count}\n".encode())

    async def done(self) -> tuple[int, int]:
        """(delivered, failed) of the jobs last sent."""
        words = (await self._line()).split()
        if not words or words[0] != "done":
            raise RuntimeError(f"the headless bot answered {words!r}")
        return int(words[1]), int(words[2])

    async def run(self, count: int) -> tuple[int, int]:
        self.send(count)
        return await self.done()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no clean-up; the kernel closes its sockets."""
        if self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """End it by closing its input; kill it if it doesn't end soon."""
        if self.child.returncode is None and self.child.stdin is not None:
            self.child.stdin.close()
        try:
            await asyncio.wait_for(self.child.wait(), 15)
        except TimeoutError:
            self.kill()
            await self.child.wait()

    async def _line(self) -> str:
        assert self.child.stdout is not None
        return (await self.child.stdout.readline()).decode().strip()


async def _serve(args: argparse.Namespace) -> None:
    async with headless_bot(
        args.database_url, args.base_url, Path(args.data_dir),
        max_concurrent_requests=args.concurrency,
    ) as bot:  # fmt: skip
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print("ready", flush=True)
        while line := (await reader.readline()).split():
            delivered, failed = await run_jobs(bot, int(line[1]), tag=f"process {os.getpid()}")
            print(f"done {delivered} {failed}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("base_url")
    parser.add_argument("data_dir")
    parser.add_argument("--concurrency", type=int, default=4)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
