"""The job scheduler: caps, fairness, positions, cancel, back-off."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import Busy
from bot.scheduler import JobCancelled, Scheduler


async def _job(
    scheduler: Scheduler,
    guild: int,
    member: int,
    log: list[str],
    gate: asyncio.Event,
    name: str,
    positions: list[int] | None = None,
) -> None:
    async def on_position(place: int) -> None:
        if positions is not None:
            positions.append(place)

    async with scheduler.slot(guild, member, ticket=name, on_position=on_position):
        log.append(name)
        await gate.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_members_burst_does_not_starve_another() -> None:
    scheduler = Scheduler(1, queue_size=50)
    gate = asyncio.Event()
    order: list[str] = []
    tasks = [asyncio.create_task(_job(scheduler, 1, 100, order, gate, f"a{i}")) for i in range(5)]
    await _settle()
    tasks.append(asyncio.create_task(_job(scheduler, 1, 200, order, gate, "b0")))
    tasks.append(asyncio.create_task(_job(scheduler, 2, 300, order, gate, "c0")))
    await _settle()
    gate.set()
    await asyncio.gather(*tasks)
    # a0 was running; the others of member 100 waited behind one turn each of guild 2 and member 200.
    assert order == ["a0", "a1", "c0", "b0", "a2", "a3", "a4"]


async def test_a_full_queue_refuses_politely() -> None:
    # How many jobs one member may have is the server's policy (the store enforces it at
    # reservation); the scheduler only bounds its queue, the same for everyone.
    scheduler = Scheduler(1, queue_size=1)
    gate = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(_job(scheduler, 1, 1, log, gate, "x1"))
    second = asyncio.create_task(_job(scheduler, 1, 1, log, gate, "x2"))
    await _settle()
    for member in (1, 2):
        with pytest.raises(Busy, match="queue is full") as caught:
            async with scheduler.slot(1, member):
                pass
    assert caught.value.render("ja") == (
        "ボットは現在とても混み合っていて、順番待ちがいっぱいです。"
        "1 分ほどしてからもう一度お試しください。"
    )
    gate.set()
    await asyncio.gather(first, second)
    assert log == ["x1", "x2"]
    assert scheduler.jobs_of(1, 1) == 0 and scheduler.running == 0 and scheduler.queued == 0


async def test_positions_are_reported_as_the_queue_moves_and_cancel_works() -> None:
    scheduler = Scheduler(1, queue_size=10, position_every=0)
    gates = [asyncio.Event() for _ in range(3)]
    log: list[str] = []
    positions: list[int] = []
    running = asyncio.create_task(_job(scheduler, 1, 1, log, gates[0], "r"))
    await _settle()
    ahead = asyncio.create_task(_job(scheduler, 1, 2, log, gates[1], "ahead"))
    await _settle()
    mine = asyncio.create_task(_job(scheduler, 1, 3, log, gates[2], "mine", positions))
    await _settle()
    assert scheduler.position("mine") == 2 and positions == [2]
    assert scheduler.cancel("ahead") is True
    await _settle()
    assert positions == [2, 1]
    with pytest.raises(JobCancelled):
        await ahead
    gates[0].set()
    await _settle()
    assert log == ["r", "mine"]
    assert scheduler.cancel("mine") is False  # already running
    gates[2].set()
    await asyncio.gather(running, mine)


async def test_backoff_pauses_dispatch_for_everyone() -> None:
    scheduler = Scheduler(2, queue_size=10)
    scheduler.backoff(0.2)
    gate = asyncio.Event()
    gate.set()
    log: list[str] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(_job(scheduler, 1, m, log, gate, f"j{m}") for m in range(3)))
    assert loop.time() - started >= 0.19
    assert sorted(log) == ["j0", "j1", "j2"]


async def test_a_task_cancelled_while_waiting_leaves_no_trace() -> None:
    scheduler = Scheduler(1, queue_size=10)
    gate = asyncio.Event()
    log: list[str] = []
    running = asyncio.create_task(_job(scheduler, 1, 1, log, gate, "r"))
    await _settle()
    waiting = asyncio.create_task(_job(scheduler, 1, 2, log, gate, "w"))
    await _settle()
    waiting.cancel()
    await _settle()
    assert scheduler.queued == 0 and scheduler.jobs_of(1, 2) == 0
    gate.set()
    await running
    assert log == ["r"] and scheduler.running == 0


async def test_a_waiter_cancelled_as_a_slot_frees_is_skipped_not_admitted() -> None:
    """The waiter's task is cancelled (its future too) but hasn't run its clean-up when the
    running job ends in the same turn of the loop: the slot goes to the next waiter."""
    scheduler = Scheduler(1, queue_size=10)
    gate = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(_job(scheduler, 1, 100, log, gate, "first"))
    await _settle()
    gone = asyncio.create_task(_job(scheduler, 1, 200, log, gate, "gone"))
    later = asyncio.create_task(_job(scheduler, 1, 300, log, gate, "later"))
    await _settle()
    gate.set()  # first wakes first and ends, freeing its slot ...
    gone.cancel()  # ... after gone's future was cancelled, before gone's clean-up runs
    await asyncio.gather(first, later)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert log == ["first", "later"]
    assert scheduler.running == 0 and scheduler.queued == 0
