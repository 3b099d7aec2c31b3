"""Runs CPU-heavy work (Pillow; JSON and base64 of unusual answers) away from the event loop.

Threads are not enough: json and base64 hold the GIL, and with hundreds of jobs the loop still stalls
for tenths of a second. A small process pool keeps the worst stall short. (Images in the usual
answer shape skip the pool: the client decodes them on the loop a slice at a time, which costs less
than pickling them through a pipe both ways.) With ``processes=0`` work runs in a thread instead,
which suits tests and tiny deployments.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


class Offloader:
    """Runs a picklable function with picklable arguments in a worker process (or a thread)."""

    def __init__(self, processes: int | None = None) -> None:
        if processes is None:
            # One worker: Pillow's preparation of edit inputs is all that usually comes here, and
            # each worker holds tens of MB once it has decoded a large photo.
            processes = 1
        self._pool: Executor | None = None
        self._processes = processes
        if processes > 0:
            # forkserver: workers start clean, without a copy of the bot's loop, sockets or threads.
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=processes, mp_context=context, initializer=keep_freed_memory
            )

    async def start(self) -> None:
        """Start every worker now, from a thread, and warm it up (imports Pillow and the code).

        A process pool starts its workers on the first job that needs one: forking the server
        and the worker then blocks the event loop for tens to hundreds of ms, and that job also
        pays the imports. Started here, at start-up and off the loop, neither happens later.
        """
        pool = self._pool
        if pool is None:
            return

        def warm() -> None:
            # One task per worker at once: an idle worker would take the next task instead.
            for done in [pool.submit(warm_up) for _ in range(self._processes)]:
                done.result()

        await asyncio.to_thread(warm)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` computed off the event loop."""
        call = functools.partial(fn, *args, **kwargs)
        if self._pool is None:
            return await asyncio.to_thread(call)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def warm_up() -> int:
    """Runs in a fresh worker: import what image jobs use, so the first job does not wait."""
    import bot.images.processing  # noqa: F401

    return os.getpid()


def keep_freed_memory() -> None:
    """Make glibc keep freed multi-MB buffers for reuse instead of handing them back to the OS.

    Every image passes through as several MB of bytes (body, text, decoded, pickled). By default
    glibc unmaps each such buffer when it is freed, and the next one page-faults fresh memory: on a
    VM that costs more CPU than decoding the image. The peak stays the same; memory freed after one
    job simply serves the next. Does nothing where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # the largest value every glibc accepts
    mallopt(_M_TRIM_THRESHOLD, 256 * 1024 * 1024)
