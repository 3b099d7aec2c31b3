"""The jobs part of the repository: the audit log of every request."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, cast

from bot.store import queries as q
from bot.store.db import Database, Row, Steps
from bot.store.models import (
    Job,
    JobOperation,
    JobStatus,
    NewJob,
    TokenUsage,
    UsageLike,
    token_usage,
)
from bot.store.processes import LEASE_SECONDS, UNOWNED_STALE_AFTER


def job_from_row(row: Row) -> Job:
    """Build a ``Job`` from a ``jobs`` row of either backend."""
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        operation=cast(JobOperation, row["operation"]),
        model=row["model"],
        prompt=row["prompt"],
        params=MappingProxyType(json.loads(row["params"])),
        status=cast(JobStatus, row["status"]),
        created_at=row["created_at"],
        revised_prompt=row["revised_prompt"],
        error_kind=row["error_kind"],
        credits=row["credits"],
        usage=TokenUsage(row["input_tokens"], row["output_tokens"], row["total_tokens"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result_channel_id=row["result_channel_id"],
        result_message_id=row["result_message_id"],
        interaction_expires_at=row["interaction_expires_at"],
        reservation_id=row["reservation_id"],
        requester_name=row["requester_name"],
    )


def _job_or_none(row: Row | None) -> Job | None:
    return None if row is None else job_from_row(row)


class JobsRepository:
    """Create jobs and move them through queued -> running -> succeeded/failed/cancelled."""

    _db: Database
    _clock: Callable[[], float]
    process_id: str

    async def create_job(self, new: NewJob) -> Job:
        """Store a queued job and return it with its id."""
        row = await self._db.run(_one(
            q.INSERT_JOB,
            new.guild_id,
            new.channel_id,
            new.user_id,
            new.operation,
            new.model,
            json.dumps(dict(new.params), sort_keys=True),
            new.prompt,
            new.credits,
            new.reservation_id,
            new.interaction_expires_at,
            float(self._clock()),
            new.requester_name,
            self.process_id,
        ))  # fmt: skip
        assert row is not None
        return job_from_row(row)

    async def get_job(self, guild_id: int, job_id: int) -> Job | None:
        """Return the guild's job, or None (also when the id belongs to another guild)."""
        return _job_or_none(await self._db.fetchrow(q.GET_JOB, guild_id, job_id))

    async def mark_running(self, guild_id: int, job_id: int) -> Job | None:
        """Move a queued job to running; None if it was not queued any more."""
        row = await self._db.fetchrow(q.MARK_JOB_RUNNING, guild_id, job_id, float(self._clock()))
        return _job_or_none(row)

    async def mark_succeeded(
        self,
        guild_id: int,
        job_id: int,
        *,
        revised_prompt: str | None = None,
        usage: UsageLike | None = None,
        credits: int = 0,
        result_channel_id: int | None = None,
        result_message_id: int | None = None,
    ) -> Job | None:
        """Record a finished job's outcome; None if it had already ended."""
        tokens = token_usage(usage)
        row = await self._db.fetchrow(
            q.MARK_JOB_SUCCEEDED,
            guild_id,
            job_id,
            float(self._clock()),
            revised_prompt,
            credits,
            tokens.input_tokens,
            tokens.output_tokens,
            tokens.total_tokens,
            result_channel_id,
            result_message_id,
        )
        return _job_or_none(row)

    async def mark_failed(self, guild_id: int, job_id: int, error_kind: str) -> Job | None:
        """End a job as failed with an error kind (``BotError.kind``); None if already ended."""
        return await self._end_job(guild_id, job_id, "failed", error_kind)

    async def mark_cancelled(self, guild_id: int, job_id: int) -> Job | None:
        """End a queued or running job as cancelled; None if it had already ended."""
        return await self._end_job(guild_id, job_id, "cancelled", None)

    async def _end_job(
        self, guild_id: int, job_id: int, status: JobStatus, error_kind: str | None
    ) -> Job | None:
        row = await self._db.fetchrow(
            q.MARK_JOB_ENDED, guild_id, job_id, status, error_kind, float(self._clock())
        )
        return _job_or_none(row)

    async def set_result_message(
        self, guild_id: int, job_id: int, channel_id: int, message_id: int
    ) -> Job | None:
        """Remember where a job's images were posted (for buttons and the mod log)."""
        row = await self._db.fetchrow(
            q.SET_JOB_RESULT_MESSAGE, guild_id, job_id, channel_id, message_id
        )
        return _job_or_none(row)

    async def recent_jobs(
        self, guild_id: int, limit: int = 20, user_id: int | None = None
    ) -> list[Job]:
        """The guild's latest jobs, newest first, optionally only one member's."""
        rows = await self._db.fetch(q.RECENT_JOBS, guild_id, user_id, limit)
        return [job_from_row(row) for row in rows]

    async def requester_names(self, guild_id: int, start: float, end: float) -> dict[int, str]:
        """user id -> the display name each member last asked under in ``[start, end)``."""
        rows = await self._db.fetch(q.REQUESTER_NAMES, guild_id, float(start), float(end))
        return {row["user_id"]: row["requester_name"] for row in rows}

    async def fail_stale_jobs(self) -> list[Job]:
        """Fail ('interrupted') the queued/running jobs of processes that are gone; return them.

        Gone: no process row renewed within the lease (``bot.store.processes``), so the jobs of
        live processes, this one included, are never touched.
        """
        now = float(self._clock())
        rows = await self._db.fetch(
            q.FAIL_STALE_JOBS, now, now - UNOWNED_STALE_AFTER, now - LEASE_SECONDS, self.process_id
        )
        return [job_from_row(row) for row in rows]


def _one(sql: str, *args: Any) -> Steps[Row | None]:
    """One statement as a transaction of its own (SQLite runs it with others waiting)."""
    rows = yield sql, args
    return rows[0] if rows else None
