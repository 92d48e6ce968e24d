"""A project's jobs from Temporal visibility, newest (or oldest) first, a page at a time.

Every query is ``WorkflowType = 'VideoJob' AND InfraiProject = '<the caller's project>'`` plus the filters,
so another project's jobs can never appear. The dev server's SQLite visibility answers such queries but
cannot ``ORDER BY`` (it returns running jobs first, then closed ones by close time), so the order by start
time is ours: a page is cut from a position (start time, job id) that is strictly before the previous
page's last job.

How many rows that reads: one ``count`` of what lies beyond the position; when that is small, one listing
of all of it; otherwise listings of widening time windows (10 minutes, then x4) until a page is full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from core.models import JobSnapshot, JobState
from jobs.reads import translate_rpc_error
from jobs.service import JobService
from jobs.snapshots import CLOSED_STATUSES, listed_snapshot
from workflows import search_attributes as sa
from workflows.video_job import WORKFLOW_NAME

_SAFE_LITERAL = re.compile(r"^[A-Za-z0-9._:/\-]{1,100}$")
_FETCH_ALL_BELOW = 500
_FIRST_WINDOW = timedelta(minutes=10)
_WINDOW_GROWTH = 4
_CLOCK_SKEW = timedelta(hours=1)
# Older than this is beyond any retention we configure (30 days); windows stop widening here.
_OLDEST = timedelta(days=400)
_ONE_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class JobFilter:
    project_id: str
    state: JobState | None = None
    vendor: str | None = None

    def query(self) -> str:
        clauses = [f"WorkflowType = '{WORKFLOW_NAME}'", f"{sa.PROJECT.name} = '{_literal(self.project_id)}'"]
        if self.state is not None:
            clauses.append(f"{sa.STATE.name} = '{self.state.value}'")
        if self.vendor is not None:
            clauses.append(f"{sa.VENDOR.name} = '{_literal(self.vendor)}'")
        return " AND ".join(clauses)


@dataclass(frozen=True, order=True)
class Position:
    """Where a job sits in a listing: start time, then job id to break ties."""

    started: datetime
    job_id: str


@dataclass(frozen=True)
class JobPage:
    jobs: list[JobSnapshot]
    has_more: bool
    last: Position | None


def _literal(value: str) -> str:
    if not _SAFE_LITERAL.match(value):
        raise ValueError(f"not a safe visibility literal: {value!r}")
    return value


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _position(execution: WorkflowExecution) -> Position:
    return Position(execution.start_time, execution.id)


class JobLister:
    def __init__(self, client: Client, jobs: JobService, *, fetch_all_below: int = _FETCH_ALL_BELOW) -> None:
        self._client = client
        self._jobs = jobs  # knows which jobs were deleted
        self._fetch_all_below = fetch_all_below

    async def page(
        self, where: JobFilter, *, after: Position | None, limit: int, newest_first: bool = True
    ) -> JobPage:
        rows = await self._beyond(where.query(), after, limit + 1, newest_first)
        rows.sort(key=_position, reverse=newest_first)
        page = rows[:limit]
        return JobPage(
            jobs=[await listed_snapshot(row) for row in page],
            has_more=len(rows) > limit,
            last=_position(page[-1]) if page else None,
        )

    async def _beyond(
        self, query: str, after: Position | None, need: int, newest_first: bool
    ) -> list[WorkflowExecution]:
        """At least ``need`` rows strictly beyond ``after`` (all of them if fewer), in no particular order."""

        async def beyond(rows: list[WorkflowExecution]) -> list[WorkflowExecution]:
            if after is not None:
                rows = [r for r in rows if (_position(r) < after if newest_first else _position(r) > after)]
            deleted = await self._jobs.deleted_among([r.id for r in rows if r.status in CLOSED_STATUSES])
            return [r for r in rows if r.id not in deleted]

        if after is None:
            bound = ""
        elif newest_first:  # + one tick: the server keeps nanoseconds, Python only microseconds
            bound = f" AND StartTime < '{_time(after.started + _ONE_TICK)}'"
        else:
            bound = f" AND StartTime >= '{_time(after.started)}'"
        remaining = await self._count(query + bound)
        if remaining <= self._fetch_all_below:
            return await beyond(await self._list(query + bound)) if remaining else []
        now = datetime.now(UTC)
        if newest_first:
            edge = after.started + _ONE_TICK if after else now + _CLOCK_SKEW
        else:
            edge = after.started if after else now - _OLDEST
        found: list[WorkflowExecution] = []
        span = _FIRST_WINDOW
        while len(found) < min(need, remaining) and now - _OLDEST <= edge <= now + _CLOCK_SKEW:
            low, high = (edge - span, edge) if newest_first else (edge, edge + span)
            window = f" AND StartTime >= '{_time(low)}' AND StartTime < '{_time(high)}'"
            found += await beyond(await self._list(query + window))
            edge = low if newest_first else high
            span *= _WINDOW_GROWTH
        return found

    async def _count(self, query: str) -> int:
        try:
            return (await self._client.count_workflows(query)).count
        except RPCError as err:
            raise translate_rpc_error(err) from err

    async def _list(self, query: str) -> list[WorkflowExecution]:
        try:
            return [row async for row in self._client.list_workflows(query, page_size=1000)]
        except RPCError as err:
            raise translate_rpc_error(err) from err
