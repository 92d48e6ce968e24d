"""Jobs whose workflow task keeps failing: found through Temporal, for operators and alerts.

A workflow task that fails (non-determinism after a bad deploy, a bug in the workflow code) is retried by
Temporal for ever: no event is written, the job's state never changes and, from outside, it just looks
slow. The server itself notices: after a few consecutive failed (or timed out) workflow tasks it sets the
``TemporalReportedProblems`` search attribute on the execution (``category=WorkflowTaskFailed``,
``cause=...``; server 1.28 and later, the embedded dev server included) and clears it when a task
completes again. So one visibility query finds every stuck job whatever the number of running ones, and
only those are described (attempt count) and their short history read (since when).

Used by housekeeping (reports them, terminates the ones stuck past a threshold so their credit holds are
released) and by the API's ``/ops/stuck-jobs`` and ``/metrics`` (``infrai_stuck_jobs``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey

from workflows.video_job import WORKFLOW_NAME

logger = logging.getLogger(__name__)

REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")


def stuck_query(task_queue: str) -> str:
    # The task queue too: deployments (and test stacks) may share a namespace, each judging its own jobs.
    return (
        f"WorkflowType = '{WORKFLOW_NAME}' AND TaskQueue = '{task_queue}' "
        f"AND ExecutionStatus = 'Running' AND {REPORTED_PROBLEMS.name} IS NOT NULL"
    )


MAX_LISTED = 500  # more than that is an incident whatever the exact number; keep the round bounded

_TASK_ENDED_BADLY = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


@dataclass(frozen=True)
class StuckJob:
    job_id: str
    run_id: str
    task_queue: str
    attempts: int  # the pending workflow task's attempt: how many times it has been tried
    problems: tuple[str, ...]  # as the server reports them, e.g. "cause=WorkflowTaskFailedCause..."
    failing_since: datetime  # the first failed task after the last one that completed

    def failing_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.failing_since).total_seconds()

    def as_json(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "run_id": self.run_id,
            "task_queue": self.task_queue,
            "workflow_task_attempts": self.attempts,
            "problems": list(self.problems),
            "failing_since": self.failing_since.isoformat(),
            "failing_seconds": round(self.failing_seconds()),
        }


async def find_stuck_jobs(client: Client, task_queue: str, *, limit: int = MAX_LISTED) -> list[StuckJob]:
    """Every running job on ``task_queue`` whose workflow task the server reports failing, longest-failing
    first. Raises what the client raises (an unreachable Temporal included): callers decide what that
    means."""
    found: list[StuckJob] = []
    async for execution in client.list_workflows(stuck_query(task_queue), limit=limit):
        problems = execution.typed_search_attributes.get(REPORTED_PROBLEMS) or []
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        stuck = await _described(handle, tuple(problems))
        if stuck is not None:
            found.append(stuck)
    return sorted(found, key=lambda job: job.failing_since)


async def _described(handle: WorkflowHandle[object, object], problems: tuple[str, ...]) -> StuckJob | None:
    description = await handle.describe()
    raw = description.raw_description
    if not raw.HasField("pending_workflow_task"):
        return None  # a task completed since the listing: not stuck any more
    pending = raw.pending_workflow_task
    since = await _failing_since(handle) or pending.scheduled_time.ToDatetime(tzinfo=UTC)
    return StuckJob(
        job_id=description.id,
        run_id=description.run_id or "",
        task_queue=description.task_queue,
        attempts=pending.attempt,
        problems=problems,
        failing_since=since,
    )


async def _failing_since(handle: WorkflowHandle[object, object]) -> datetime | None:
    # Only the first failure of a run of failed attempts is written to history (later attempts are
    # transient until one succeeds), so this is the first failed task after the last completed one.
    # A job's history is a few dozen events.
    since: datetime | None = None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            since = None
        elif event.event_type in _TASK_ENDED_BADLY and since is None:
            since = event.event_time.ToDatetime(tzinfo=UTC)
    return since


class StuckJobWatch:
    """The stuck jobs as of at most ``max_age`` seconds ago, so every scrape of ``/metrics`` by every
    API replica does not become a visibility query: one query per replica per ``max_age``."""

    def __init__(
        self, client: Client, task_queue: str, *, max_age: float = 30.0, timeout: float = 5.0
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._max_age = max_age
        self._timeout = timeout
        self._jobs: list[StuckJob] = []
        self._checked_at = 0.0  # time.time() of the last successful check; 0: never
        self._attempted_at = 0.0  # of the last check, successful or not
        self._lock = asyncio.Lock()

    @property
    def checked_at(self) -> float:
        return self._checked_at

    async def current(self) -> list[StuckJob]:
        """Fresh enough stuck jobs; raises when Temporal cannot be asked right now."""
        async with self._lock:
            if time.time() - self._checked_at > self._max_age:
                self._attempted_at = time.time()
                async with asyncio.timeout(self._timeout):
                    self._jobs = await find_stuck_jobs(self._client, self._task_queue)
                self._checked_at = time.time()
            return self._jobs

    async def current_or_last(self) -> list[StuckJob]:
        """For the metrics: the last known answer when Temporal cannot be asked (the check's timestamp
        gauge then goes stale, which an alert can watch). After a failed check, scrapes do not try
        again for ``max_age``: an unreachable Temporal must not slow every scrape by the timeout."""
        if time.time() - self._attempted_at <= self._max_age:
            return self._jobs
        try:
            return await self.current()
        except Exception as error:
            logger.info("stuck-job check failed, metrics keep the last answer: %s", error)
            return self._jobs
