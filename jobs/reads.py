"""Reading jobs from Temporal: status (describe + the ``status`` query), ownership and deletion checks.

- Status: ``describe`` (it needs no worker and tells whether the job is closed) and, at the same time, the
  ``status`` query, which Temporal rejects for a closed workflow (``QueryRejectCondition.NOT_OPEN``): a
  running job answers from the query, with the vendor's progress from the poll activity's last heartbeat
  in the description; a closed one from the final snapshot the workflow put in its memo, which is then
  kept in memory (``ClosedJobCache``) so the next status of that job needs no Temporal call at all. What
  a running job's description said (its project, the vendor's progress) is kept for a second
  (``jobs/running_cache.py``), so a status polled often makes one call, the query, most of the time.
- A job of another project, or one deleted through the API, is ``JobNotFound`` (never "forbidden").
- Every call carries an ``rpc_timeout``, and an unreachable Temporal is ``TemporalUnavailable``
  (``jobs.outages``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.converter import WorkflowSerializationContext
from temporalio.service import RPCError, RPCStatusCode

from core.ids import is_job_id
from core.models import JobSnapshot, PollProgress, Stage
from jobs.closed_cache import ClosedJobCache
from jobs.errors import JobNotFound
from jobs.outages import is_temporal_outage, temporal_outages_translated, temporal_unavailable
from jobs.running_cache import RUNNING_VIEW_TTL_SECONDS, RunningView, running_views
from jobs.snapshots import CLOSED_STATES, closed_snapshot, memo_text, snapshot_from_description
from observability.http import ApiMetrics
from observability.logs import bind_job
from workflows.video_job import POLL, STATUS_QUERY

logger = logging.getLogger(__name__)


def translate_rpc_error(err: RPCError) -> Exception:
    """Temporal being unreachable is a 503 for the client; any other RPC error is ours to fix (500)."""
    return temporal_unavailable(err) if is_temporal_outage(err) else err


class Tombstones(Protocol):
    """Jobs deleted through the API (``AccountStore`` keeps them): Temporal forgets a deleted execution
    only some seconds later, and until then these ids must already look like no job at all."""

    async def mark_job_deleted(self, project_id: str, job_id: str) -> None: ...

    async def deleted_among(self, job_ids: Collection[str]) -> set[str]: ...


_CLOSED_CODES = frozenset(int(status) for status in CLOSED_STATES)


def _is_closed(raw: DescribeWorkflowExecutionResponse) -> bool:
    return raw.workflow_execution_info.status in _CLOSED_CODES


class ExecutionNotFound(Exception):
    """Temporal has no execution of that id."""


class ClosedMeanwhile(Exception):
    """The workflow closed before its ``status`` query arrived (the query was rejected: NOT_OPEN)."""


async def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` unless done, wait for it, and collect its outcome, whatever it was."""
    if not task.done():  # the usual case on the status path is done: nothing to cancel or wait for
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio never logs it as forgotten


class JobReads:
    """The read side of ``JobService``: status, ownership, deletion checks (one Temporal client)."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        query_timeout: timedelta,
        rpc_timeout: timedelta,
        metrics: ApiMetrics | None = None,
        tombstones: Tombstones | None = None,
        cancel_wait: timedelta = timedelta(seconds=5),
        running_view_seconds: float = RUNNING_VIEW_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._cancel_wait = cancel_wait
        self._task_queue = task_queue
        self._query_timeout = query_timeout
        self._metrics = metrics or ApiMetrics()
        self._tombstones = tombstones
        self._rpc_timeout = rpc_timeout
        self._closed = ClosedJobCache()
        self._running = running_views(running_view_seconds)

    def _outages_translated(self) -> AbstractAsyncContextManager[None]:
        # An operation makes up to two calls and a query: that long, and a Temporal that has not answered
        # is an outage (503), not a request left hanging.
        deadline = 2 * self._rpc_timeout.total_seconds() + self._query_timeout.total_seconds()
        return temporal_outages_translated(deadline)

    # -- status ----------------------------------------------------------------------------------------

    async def status(self, job_id: str, project_id: str) -> JobSnapshot:
        return await self.snapshot(job_id, owner=project_id)

    async def snapshot(self, job_id: str, *, owner: str | None = None) -> JobSnapshot:
        """The job's state whichever project it belongs to (``snapshot.project_id`` says which; callers
        check ownership, as ``status`` does). 404 when there is no such job. ``owner``: the project that
        asks, when it is known, so another project's job is refused before anything about it is read."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        bind_job(job_id)
        async with self._outages_translated():
            cached = self._closed.get(job_id)
            if cached is not None:
                if (owner is not None and cached.project_id != owner) or await self._deleted(job_id):
                    raise JobNotFound(job_id)
                return cached
            view = self._running.get(job_id)
            if view is not None:
                if owner is not None and view.project_id != owner:
                    raise JobNotFound(job_id)
                return await self._running_snapshot(job_id, view, self._query(job_id))
            # Both at once: describe, then query, would make a running job's status two round trips in a row.
            query = asyncio.create_task(self._query(job_id))
            try:
                raw = await self._describe_raw(job_id)
                if _is_closed(raw):
                    # Read as every other call reads it (deletion, the final snapshot), once: then cached.
                    desc = await self._job(job_id)
                    if owner is not None and await memo_text(desc, "project") != owner:
                        raise JobNotFound(job_id)
                    return await self._remember_closed(desc)
                view = await self._running_view(job_id, raw)
                if owner is not None and view.project_id != owner:
                    raise JobNotFound(job_id)
                return await self._running_snapshot(job_id, view, query)
            finally:
                await _discard(query)

    async def _describe_raw(self, job_id: str) -> DescribeWorkflowExecutionResponse:
        """The job's description as Temporal sends it. The SDK's ``describe`` decodes every search attribute
        into typed values on arrival, which cost a running job's status more CPU than the rest of it; this
        path decodes only the memo entry and heartbeat it reads. Raises ``JobNotFound``."""
        request = DescribeWorkflowExecutionRequest(
            namespace=self._client.namespace, execution=ExecutionRef(workflow_id=job_id)
        )
        try:
            return await self._client.workflow_service.describe_workflow_execution(
                request, retry=True, timeout=self._rpc_timeout
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise JobNotFound(job_id) from None
            raise

    async def _raw_memo_text(
        self, job_id: str, raw: DescribeWorkflowExecutionResponse, key: str
    ) -> str | None:
        """``memo_text`` of a raw description (decoded as the SDK's ``memo_value`` decodes it)."""
        payload = raw.workflow_execution_info.memo.fields.get(key)
        if not payload:
            return None
        context = WorkflowSerializationContext(namespace=self._client.namespace, workflow_id=job_id)
        value = (await self._client.data_converter.with_context(context).decode([payload]))[0]
        return value if isinstance(value, str) else None

    async def _running_view(self, job_id: str, raw: DescribeWorkflowExecutionResponse) -> RunningView:
        """What the description ``raw`` of a running job says beyond its query, kept for the next status."""
        project = await self._raw_memo_text(job_id, raw, "project")
        view = RunningView(project, await self._poll_progress(raw))
        self._running.put(job_id, view)
        return view

    async def _running_snapshot(
        self, job_id: str, view: RunningView, query: Awaitable[JobSnapshot | None]
    ) -> JobSnapshot:
        """A job that its last description (``view``) showed running, from the answer to its ``status``
        ``query``, with the vendor's progress from ``view``."""
        try:
            queried = await query
        except ClosedMeanwhile:
            # It closed since it was described: read how it ended.
            self._running.pop(job_id)
            return await self._remember_closed(await self._job(job_id))
        # No worker answered: what the (decoded) description alone can say.
        snapshot = (
            queried if queried is not None else await snapshot_from_description(await self._job(job_id))
        )
        progress = view.progress
        if progress is not None and snapshot.stage is Stage.GENERATING:
            if progress.progress is not None:
                snapshot.progress = max(0, min(100, progress.progress))
            snapshot.queue_position = progress.queue_position
            snapshot.vendor_accepted_at = progress.accepted_at
        return snapshot

    async def _remember_closed(self, desc: WorkflowExecutionDescription) -> JobSnapshot:
        snapshot = await closed_snapshot(desc)
        self._closed.put(snapshot)
        return snapshot

    async def _query(self, job_id: str) -> JobSnapshot | None:
        """The ``status`` query of an open job; None when no worker answered in time. Raises
        ``ClosedMeanwhile`` for a closed workflow (Temporal rejects the query, without asking a worker)."""
        handle = self._client.get_workflow_handle(job_id)
        try:
            snapshot: JobSnapshot = await handle.query(
                STATUS_QUERY,
                result_type=JobSnapshot,
                reject_condition=QueryRejectCondition.NOT_OPEN,
                rpc_timeout=self._query_timeout,
            )
            return snapshot
        except WorkflowQueryRejectedError:
            raise ClosedMeanwhile from None
        except RPCError as err:
            # No worker is running (or it is busy): the description still tells a useful story.
            logger.info("status query for %s unanswered (%s); using the description", job_id, err.status)
            return None

    async def _poll_progress(self, raw: DescribeWorkflowExecutionResponse) -> PollProgress | None:
        for pending in raw.pending_activities:
            if pending.activity_type.name != POLL or not pending.heartbeat_details.payloads:
                continue
            if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED:
                continue
            decoded = await self._client.data_converter.decode(
                pending.heartbeat_details.payloads, [PollProgress]
            )
            progress = decoded[0]
            return progress if isinstance(progress, PollProgress) else None
        return None

    async def started_at(self, job_id: str, project_id: str) -> datetime:
        """When the job's workflow started (its place in listings)."""
        async with self._outages_translated():
            desc = await self._owned(job_id, project_id)
        return desc.start_time

    # -- lookups ---------------------------------------------------------------------------------------

    async def ensure_owned(self, job_id: str, project_id: str) -> None:
        """404 unless the job exists and belongs to the project."""
        async with self._outages_translated():
            await self._owned(job_id, project_id)

    async def _owned(self, job_id: str, project_id: str) -> WorkflowExecutionDescription:
        """The job's description if it exists *and* belongs to the project; 404 otherwise (never 403)."""
        desc = await self._job(job_id)
        if await memo_text(desc, "project") != project_id:
            raise JobNotFound(job_id)
        return desc

    async def _job(self, job_id: str) -> WorkflowExecutionDescription:
        """The description of a job of any project; 404 when the id names no job (or a deleted one)."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        bind_job(job_id)
        try:
            desc = await self._describe(job_id)
        except ExecutionNotFound:
            raise JobNotFound(job_id) from None
        # Only a finished job can have been deleted, so running jobs (the busy status path) skip the lookup.
        if desc.status in CLOSED_STATES and await self._deleted(job_id):
            raise JobNotFound(job_id)
        return desc

    async def deleted_among(self, job_ids: Collection[str]) -> set[str]:
        return await self._tombstones.deleted_among(job_ids) if self._tombstones else set()

    async def _deleted(self, job_id: str) -> bool:
        return job_id in await self.deleted_among([job_id])

    async def _describe(self, job_id: str) -> WorkflowExecutionDescription:
        try:
            return await self._client.get_workflow_handle(job_id).describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise ExecutionNotFound from None
            raise
