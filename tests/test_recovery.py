"""Crash recovery on real databases: leases, lock files, and delivered jobs that are never refunded.

A "process" here is a Store (+ QuotaEngine) with its lease; it dies by being closed without
retiring its lease, which is what a killed process leaves behind (one test really kills one).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from bot.quotas import QuotaEngine
from bot.store import QuotaPolicy, Reservation, Store
from bot.store.lease import ProcessLease
from bot.store.ledger import Charge
from bot.store.lockfile import folder_token
from bot.store.processes import LEASE_SECONDS
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    StoreTarget,
    clock_fixture,
    held_job,
    store_fixture,
    store_target_fixture,
)

GUILD, CHANNEL, USER, OTHER_USER = 1000, 11, 21, 22
REPO = Path(__file__).resolve().parents[1]


async def start_job(
    store: Store, clock: ManualClock | None = None, user_id: int = USER
) -> Reservation:
    """What JobRunner does before the API call: a running job with its credits held (4)."""
    return await held_job(store, GUILD, CHANNEL, user_id, clock=clock)


async def recover(store: Store, lease: ProcessLease | None = None) -> tuple[int, list[int]]:
    """What the bot's start-up and sweep do: bury the dead, settle their credits, close jobs."""
    if lease is not None:
        await lease.bury_dead()
    else:
        await store.forget_expired_processes()
    settled = await QuotaEngine(store).recover()  # the store's clock decides what is orphaned
    return settled, [job.id for job in await store.fail_stale_jobs()]


async def member_state(
    store: Store, clock: ManualClock | None = None, user_id: int = USER
) -> tuple[int, int]:
    """(credits used today, jobs in flight) of a member."""
    engine = QuotaEngine(store, clock=clock) if clock else QuotaEngine(store)
    usage = await engine.member_usage(GUILD, user_id, ())
    return usage.member.used, usage.in_flight


async def test_a_dead_processes_credits_come_back_when_its_lease_lapses_not_in_30_minutes(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    dead = await store_target.open(clock=clock)
    await dead.register_process()
    await dead.save_quota_policy(QuotaPolicy(GUILD, user_limit=4))
    held = await start_job(dead, clock)
    await dead.close()  # killed: no refund, no retirement, its row stays

    restarted = await store_target.open(clock=clock)
    try:
        await restarted.register_process()
        clock.advance(5)
        assert await recover(restarted) == (0, [])  # it may still be alive: hands off
        assert await member_state(restarted, clock) == (4, 1)
        clock.advance(LEASE_SECONDS - 4)
        await restarted.renew_process()
        assert await recover(restarted) == (1, [held.job_id])
        assert await member_state(restarted, clock) == (0, 0)
        job = await restarted.get_job(GUILD, held.job_id or 0)
        assert job is not None and (job.status, job.error_kind) == ("failed", "interrupted")
        assert await recover(restarted) == (0, [])
    finally:
        await restarted.close()


async def test_recovery_leaves_a_live_processes_running_job_alone(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    live = await store_target.open(clock=clock)
    other = await store_target.open(clock=clock)
    try:
        await live.register_process()
        await other.register_process()
        held = await start_job(live, clock)
        for _ in range(20):  # ten minutes of heartbeats and sweeps
            clock.advance(30)
            await live.renew_process()
            await other.renew_process()
            assert await recover(other) == (0, [])
        assert await member_state(other, clock) == (4, 1)
        # ... and the live process still settles its own job as usual.
        committed = await QuotaEngine(live, clock=clock).commit(held)
        assert committed is not None and committed.status == "committed"
        assert await member_state(other, clock) == (4, 0)
    finally:
        await live.close()
        await other.close()


async def test_a_process_killed_on_this_machine_is_made_good_at_once(
    store_target: StoreTarget, tmp_path: Path
) -> None:
    # A real process, killed with SIGKILL: only the kernel dropping its lock file tells.
    script = """
import asyncio, sys
from pathlib import Path
from bot.store import open_store
from bot.store.lease import ProcessLease
from tests.test_recovery import start_job

async def main(url, schema, folder):
    store = await open_store(url, schema=schema or None)
    await ProcessLease(store, Path(folder)).start()
    await start_job(store)
    print("ready", flush=True)
    await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""
    folder = tmp_path / "data"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, store_target.url, store_target.schema or "", str(folder),
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    store = await store_target.open()
    lease = ProcessLease(store, folder)
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
        await lease.start()
        assert await recover(store, lease) == (0, [])  # alive: its lock is held
        assert await member_state(store) == (4, 1)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        settled, closed = await recover(store, lease)  # no waiting for the lease
        assert (settled, len(closed)) == (1, 1)
        assert await member_state(store) == (0, 0)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await lease.stop()
        await store.close()


async def test_a_live_process_holding_its_lock_file_is_never_buried(
    store_target: StoreTarget, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    live, dead, recoverer = [await store_target.open() for _ in range(3)]
    leases = [ProcessLease(live, folder), ProcessLease(recoverer, folder)]
    try:
        for lease in leases:
            await lease.start()
        # The dead one registered in the same folder but holds no lock any more: it was killed.
        await dead.register_process(await asyncio.to_thread(folder_token, folder))
        await start_job(live)
        gone = await start_job(dead, user_id=OTHER_USER)
        assert await recover(recoverer, leases[1]) == (1, [gone.job_id])
        assert await member_state(recoverer) == (4, 1)
        assert await member_state(recoverer, user_id=OTHER_USER) == (0, 0)
    finally:
        for lease in leases:
            await lease.stop()
        for store in (live, dead, recoverer):
            await store.close()


async def test_a_delivered_job_is_charged_by_recovery_never_refunded_or_interrupted(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    dead = await store_target.open(clock=clock)
    await dead.register_process()
    held = await start_job(dead, clock)
    charge = Charge(charged=4, images=1)
    finished = await dead.record_delivery(
        held, charge, revised_prompt="a red fox", result_channel_id=CHANNEL, result_message_id=7
    )
    assert finished is not None and (finished.status, finished.credits) == ("succeeded", 4)
    # Recording twice (a retry whose first attempt did commit) is the same record.
    assert await dead.record_delivery(
        held, charge, revised_prompt="a red fox", result_channel_id=CHANNEL, result_message_id=7
    ) == await dead.get_job(GUILD, held.job_id or 0)
    await dead.close()  # killed before the charge settled

    restarted = await store_target.open(clock=clock)
    try:
        await restarted.register_process()
        clock.advance(LEASE_SECONDS + 1)
        await restarted.renew_process()
        assert await recover(restarted) == (1, [])  # settled, and no job to announce
        assert await member_state(restarted, clock) == (4, 0)
        (ledger,) = await restarted.charges(GUILD, 0, clock.now + 1)
        assert (ledger.id, ledger.status, ledger.charged, ledger.images) == (
            held.id,
            "committed",
            4,
            1,
        )
        job = await restarted.get_job(GUILD, held.job_id or 0)
        assert job is not None and (job.status, job.result_message_id) == ("succeeded", 7)
    finally:
        await restarted.close()


async def test_a_charge_its_live_process_gave_up_on_is_settled_by_the_sweep(
    store: Store, clock: ManualClock
) -> None:
    await store.register_process()
    held = await start_job(store, clock)
    await store.record_delivery(
        held, Charge(4, 1), revised_prompt=None, result_channel_id=CHANNEL, result_message_id=7
    )
    assert await recover(store) == (0, [])  # its own retries may still be running
    clock.advance(LEASE_SECONDS + 1)
    await store.renew_process()
    assert await recover(store) == (1, [])
    assert await member_state(store, clock) == (4, 0)


async def test_a_delivery_after_recovery_took_over_records_nothing(
    store_target: StoreTarget, clock: ManualClock
) -> None:
    slow = await store_target.open(clock=clock)
    other = await store_target.open(clock=clock)
    try:
        await slow.register_process()
        await other.register_process()
        held = await start_job(slow, clock)
        clock.advance(LEASE_SECONDS + 1)  # the slow process missed its heartbeats
        await other.renew_process()
        assert await recover(other) == (1, [held.job_id])
        recorded = await slow.record_delivery(
            held, Charge(4, 1), revised_prompt=None, result_channel_id=CHANNEL, result_message_id=7
        )
        assert recorded is None
        assert await member_state(other, clock) == (0, 0)
        assert await slow.renew_process() is False  # and it learns it was taken for dead
    finally:
        await slow.close()
        await other.close()
