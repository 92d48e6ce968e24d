"""Jobs as the API sees them: start, status and cancel mapped onto Temporal.

- The workflow id is the job id (derived from project + idempotency key, or random); start uses conflict
  policy *use existing* and a request fingerprint in the memo, so a retried request finds its job.
- Status: ``describe`` (it needs no worker and tells whether the job is closed) and, at the same time, the
  ``status`` query, which Temporal rejects for a closed workflow (``QueryRejectCondition.NOT_OPEN``): a
  running job answers from the query, with the vendor's progress from the poll activity's last heartbeat
  in the description; a closed one from the final snapshot the workflow put in its memo, which is then
  kept in memory (``ClosedJobCache``) so the next status of that job needs no Temporal call at all.
- Cancel: workflow cancellation; the workflow stops the vendor task and settles, and the answer waits a
  moment for how the job ended (a task the vendor had already finished is delivered, not cancelled).
- Every call carries an ``rpc_timeout``, and an unreachable Temporal is a ``503`` (``api.temporal_outages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryRejectedError,
)
from temporalio.common import (
    QueryRejectCondition,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.closed_jobs import ClosedJobCache
from api.problems import ProblemError
from api.temporal_outages import is_temporal_outage, temporal_outages_translated, temporal_unavailable
from core.errors import ErrorCode
from core.ids import is_job_id
from core.models import ErrorInfo, JobCost, JobInput, JobSnapshot, JobState, PollProgress, Stage, VideoSpec
from observability.http import ApiMetrics
from observability.logs import bind_job
from observability.temporal_ui import job_details, job_summary
from workflows import search_attributes as sa
from workflows.video_job import POLL, STATUS_QUERY, WORKFLOW_NAME

logger = logging.getLogger(__name__)

_CLOSED_STATES = {
    WorkflowExecutionStatus.COMPLETED: JobState.SUCCEEDED,
    WorkflowExecutionStatus.FAILED: JobState.FAILED,
    WorkflowExecutionStatus.CANCELED: JobState.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: JobState.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: JobState.FAILED,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: JobState.FAILED,
}
CLOSED_STATUSES = frozenset(_CLOSED_STATES)


def translate_rpc_error(err: RPCError) -> Exception:
    """Temporal being unreachable is a 503 for the client; any other RPC error is ours to fix (500)."""
    return temporal_unavailable(err) if is_temporal_outage(err) else err


@dataclass(frozen=True)
class StartedJob:
    snapshot: JobSnapshot
    created: bool


class JobConflict(Exception):
    """The idempotency key already names a job created from a different request."""


class Tombstones(Protocol):
    """Jobs deleted through the API (``AccountStore`` keeps them): Temporal forgets a deleted execution
    only some seconds later, and until then these ids must already look like no job at all."""

    async def mark_job_deleted(self, project_id: str, job_id: str) -> None: ...

    async def deleted_among(self, job_ids: Collection[str]) -> set[str]: ...


class JobService:
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
    ) -> None:
        self._client = client
        self._cancel_wait = cancel_wait
        self._task_queue = task_queue
        self._query_timeout = query_timeout
        self._metrics = metrics or ApiMetrics()
        self._tombstones = tombstones
        self._rpc_timeout = rpc_timeout
        self._closed = ClosedJobCache()

    def _outages_translated(self) -> AbstractAsyncContextManager[None]:
        # An operation makes up to two calls and a query: that long, and a Temporal that has not answered
        # is an outage (503), not a request left hanging.
        deadline = 2 * self._rpc_timeout.total_seconds() + self._query_timeout.total_seconds()
        return temporal_outages_translated(deadline)

    # -- start -----------------------------------------------------------------------------------------

    async def start(self, job: JobInput, fingerprint: str) -> StartedJob:
        first = job.route[0]
        bind_job(job.job_id, first.vendor)
        memo, attributes = start_memo_and_attributes(job, fingerprint)
        async with self._outages_translated():
            try:
                handle: WorkflowHandle[object, object] = await self._client.start_workflow(
                    WORKFLOW_NAME,
                    job,
                    id=job.job_id,
                    task_queue=self._task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    memo=memo,
                    search_attributes=attributes,
                    static_summary=job_summary(job),
                    static_details=job_details(job),
                    rpc_timeout=self._rpc_timeout,
                )
            except WorkflowAlreadyStartedError:
                return await self._existing(job.job_id, job.project_id, fingerprint)
            response = getattr(handle, "_start_workflow_response", None)
            if response is not None and not getattr(response, "started", True):
                return await self._existing(job.job_id, job.project_id, fingerprint)
        self._metrics.job_started(first.vendor, first.model, first.estimated_cost_usd)
        logger.info("job started on %s/%s", first.vendor, first.model)
        return StartedJob(snapshot=_queued_snapshot(job), created=True)

    async def find_existing(self, job_id: str, project_id: str, fingerprint: str) -> StartedJob | None:
        """The job an idempotency key already names, if any (raises JobConflict on a different body)."""
        try:
            async with self._outages_translated():
                return await self._existing(job_id, project_id, fingerprint)
        except _NotFound:
            return None

    async def workflow_status(self, job_id: str) -> WorkflowExecutionStatus | None:
        """The status of the job's workflow, None when there is none. Outages raise untranslated (for
        callers outside a request, e.g. the hold reconciler)."""
        try:
            desc = await self._describe(job_id)
        except _NotFound:
            return None
        return desc.status or WorkflowExecutionStatus.RUNNING

    async def _existing(self, job_id: str, project_id: str, fingerprint: str) -> StartedJob:
        desc = await self._describe(job_id)
        if await _memo(desc, "project") != project_id:
            # A key of another project can't collide (the id hashes the project), but stay strict.
            raise _NotFound
        if await _memo(desc, "fingerprint") != fingerprint:
            raise JobConflict(job_id)
        if desc.status in _CLOSED_STATES:
            return StartedJob(snapshot=await self._remember_closed(desc), created=False)
        snapshot = await self._running_snapshot(desc, self._query(job_id))
        return StartedJob(snapshot=snapshot, created=False)

    # -- status ----------------------------------------------------------------------------------------

    async def status(self, job_id: str, project_id: str) -> JobSnapshot:
        return await self.snapshot(job_id, owner=project_id)

    async def snapshot(self, job_id: str, *, owner: str | None = None) -> JobSnapshot:
        """The job's state whichever project it belongs to (``snapshot.project_id`` says which; callers
        check ownership, as ``status`` does). 404 when there is no such job. ``owner``: the project that
        asks, when it is known, so another project's job is refused before anything about it is read."""
        if not is_job_id(job_id):
            raise job_not_found(job_id)
        bind_job(job_id)
        async with self._outages_translated():
            cached = self._closed.get(job_id)
            if cached is not None:
                if (owner is not None and cached.project_id != owner) or await self._deleted(job_id):
                    raise job_not_found(job_id)
                return cached
            # Both at once: describe, then query, would make a running job's status two round trips in a row.
            query = asyncio.create_task(self._query(job_id))
            try:
                desc = await self._job(job_id)
                if owner is not None and await _memo(desc, "project") != owner:
                    raise job_not_found(job_id)
                if desc.status in _CLOSED_STATES:
                    return await self._remember_closed(desc)
                return await self._running_snapshot(desc, query)
            finally:
                await _discard(query)

    async def _running_snapshot(
        self, desc: WorkflowExecutionDescription, query: Awaitable[JobSnapshot | None]
    ) -> JobSnapshot:
        """A job ``desc`` showed running, from the answer to its ``status`` ``query``."""
        try:
            queried = await query
        except _ClosedMeanwhile:
            # It closed between describe and query: read how it ended.
            return await self._remember_closed(await self._job(desc.id))
        snapshot = queried if queried is not None else await _snapshot_from_description(desc)
        progress = await self._poll_progress(desc)
        if progress is not None and progress.progress is not None and snapshot.stage is Stage.GENERATING:
            snapshot.progress = max(0, min(100, progress.progress))
        return snapshot

    async def _remember_closed(self, desc: WorkflowExecutionDescription) -> JobSnapshot:
        snapshot = await _closed_snapshot(desc)
        self._closed.put(snapshot)
        return snapshot

    async def _query(self, job_id: str) -> JobSnapshot | None:
        """The ``status`` query of an open job; None when no worker answered in time. Raises
        ``_ClosedMeanwhile`` for a closed workflow (Temporal rejects the query, without asking a worker)."""
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
            raise _ClosedMeanwhile from None
        except RPCError as err:
            # No worker is running (or it is busy): the description still tells a useful story.
            logger.info("status query for %s unanswered (%s); using the description", job_id, err.status)
            return None

    async def _poll_progress(self, desc: WorkflowExecutionDescription) -> PollProgress | None:
        for pending in desc.raw_description.pending_activities:
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

    # -- cancel ----------------------------------------------------------------------------------------

    async def cancel(self, job_id: str, project_id: str) -> tuple[bool, JobState]:
        """``(ok, state)``: ok when the job ended (or is ending) cancelled. The workflow decides: a cancel
        that reaches a task the vendor already finished delivers the video (``False, succeeded``). So the
        answer waits up to ``cancel_wait`` for the job to end; a job still running then (a vendor with no
        cancel, watched to its end) answers ``True, running`` with its cancel under way."""
        async with self._outages_translated():
            requested, answer = await self._cancel(job_id, project_id)
        if not requested:
            return answer
        try:
            snapshot = await asyncio.wait_for(
                self._closed_after_cancel(job_id), self._cancel_wait.total_seconds()
            )
        except (TimeoutError, RPCError):
            return answer  # still ending (or Temporal slow to say): the cancel was delivered
        return snapshot.state is JobState.CANCELLED, snapshot.state

    async def _cancel(self, job_id: str, project_id: str) -> tuple[bool, tuple[bool, JobState]]:
        """Whether a cancel was requested now, and the answer as it stands."""
        desc = await self._owned(job_id, project_id)
        if desc.status in _CLOSED_STATES:
            snapshot = await _closed_snapshot(desc)
            return False, (snapshot.state is JobState.CANCELLED, snapshot.state)
        handle = self._client.get_workflow_handle(job_id, run_id=desc.run_id)
        try:
            await handle.cancel(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # It closed between describe and cancel: answer with how it ended.
            snapshot = await _closed_snapshot(await self._describe(job_id))
            return False, (snapshot.state is JobState.CANCELLED, snapshot.state)
        state_value = desc.typed_search_attributes.get(sa.STATE)
        return True, (True, JobState(state_value) if state_value else JobState.RUNNING)

    async def _closed_after_cancel(self, job_id: str) -> JobSnapshot:
        handle = self._client.get_workflow_handle(job_id)
        with contextlib.suppress(WorkflowFailureError):
            await handle.result(rpc_timeout=self._cancel_wait)
        return await _closed_snapshot(await self._describe(job_id))

    # -- delete (the OpenAI-compatible API's DELETE) ---------------------------------------------------

    async def delete(self, job_id: str, project_id: str) -> None:
        """Delete a finished job: hidden at once (tombstone), its execution removed by Temporal soon after.

        A failed removal only costs storage until the namespace's retention: the tombstone already hides it.
        """
        async with self._outages_translated():
            desc = await self._owned(job_id, project_id)
        if self._tombstones is None:
            raise RuntimeError("deleting jobs needs the tombstone store")
        await self._tombstones.mark_job_deleted(project_id, job_id)
        self._closed.forget(job_id)
        request = DeleteWorkflowExecutionRequest(
            namespace=self._client.namespace,
            workflow_execution=ExecutionRef(workflow_id=job_id, run_id=desc.run_id),
        )
        try:
            await self._client.workflow_service.delete_workflow_execution(request, timeout=self._rpc_timeout)
        except RPCError as err:
            logger.warning(
                "deleting the execution of job %s failed (%s); it stays hidden", job_id, err.status
            )

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
        if await _memo(desc, "project") != project_id:
            raise job_not_found(job_id)
        return desc

    async def _job(self, job_id: str) -> WorkflowExecutionDescription:
        """The description of a job of any project; 404 when the id names no job (or a deleted one)."""
        if not is_job_id(job_id):
            raise job_not_found(job_id)
        bind_job(job_id)
        try:
            desc = await self._describe(job_id)
        except _NotFound:
            raise job_not_found(job_id) from None
        # Only a finished job can have been deleted, so running jobs (the busy status path) skip the lookup.
        if desc.status in _CLOSED_STATES and await self._deleted(job_id):
            raise job_not_found(job_id)
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
                raise _NotFound from None
            raise


def start_memo_and_attributes(
    job: JobInput, fingerprint: str
) -> tuple[dict[str, Any], TypedSearchAttributes]:
    """What a job's workflow starts with besides its input: the memo and the search attributes."""
    first = job.route[0]
    memo = {
        "project": job.project_id,
        "fingerprint": fingerprint,
        "created_at": job.created_at.isoformat(),
        "estimated_usd": str(first.estimated_cost_usd),
        # What was asked, for status and listings that only have the description (never the image:
        # a data: URI can be megabytes).
        "spec": job.spec.model_dump(mode="json", exclude={"reference_image_url"}),
    }
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.PROJECT, job.project_id),
            SearchAttributePair(sa.VENDOR, first.vendor),
            SearchAttributePair(sa.MODEL, first.model),
            SearchAttributePair(sa.STATE, JobState.QUEUED.value),
        ]
    )
    return memo, attributes


class _NotFound(Exception):
    pass


class _ClosedMeanwhile(Exception):
    """The workflow closed before its ``status`` query arrived (the query was rejected: NOT_OPEN)."""


async def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` unless done, wait for it, and collect its outcome, whatever it was."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio never logs it as forgotten


def job_not_found(job_id: str) -> ProblemError:
    return ProblemError(404, ErrorCode.NOT_FOUND, f"No job {job_id!r} in this project.")


async def listed_snapshot(execution: WorkflowExecution) -> JobSnapshot:
    """A job as a visibility listing shows it: final snapshot for closed jobs, else state from search
    attributes (no query per row: a listing must not cost a worker round-trip per job)."""
    if execution.status in _CLOSED_STATES:
        return await _closed_snapshot(execution)
    return await _snapshot_from_description(execution)


async def _memo(desc: WorkflowExecution, key: str) -> str | None:
    value = await desc.memo_value(key, None)
    return value if isinstance(value, str) else None


def _queued_snapshot(job: JobInput) -> JobSnapshot:
    first = job.route[0]
    return JobSnapshot(
        job_id=job.job_id,
        project_id=job.project_id,
        vendor=first.vendor,
        model=first.model,
        spec=job.spec,
        created_at=job.created_at,
        cost=JobCost(estimated_usd=first.estimated_cost_usd),
    )


async def _snapshot_from_description(desc: WorkflowExecution) -> JobSnapshot:
    """What describe alone can say: state/vendor/model from search attributes, cost from the memo."""
    attrs = desc.typed_search_attributes
    created = await _memo(desc, "created_at")
    estimate = await _memo(desc, "estimated_usd")
    spec = await desc.memo_value("spec", None, type_hint=VideoSpec)
    state = attrs.get(sa.STATE) or JobState.QUEUED.value
    return JobSnapshot(
        job_id=desc.id,
        project_id=await _memo(desc, "project") or "",
        state=JobState(state) if state in JobState._value2member_map_ else JobState.RUNNING,
        vendor=attrs.get(sa.VENDOR),
        model=attrs.get(sa.MODEL),
        spec=spec if isinstance(spec, VideoSpec) else None,
        created_at=datetime.fromisoformat(created) if created else desc.start_time or datetime.now(UTC),
        cost=JobCost(estimated_usd=estimate or "0"),
    )


async def _closed_snapshot(desc: WorkflowExecution) -> JobSnapshot:
    final = await desc.memo_value("job", None, type_hint=JobSnapshot)
    if isinstance(final, JobSnapshot):
        return final
    # Closed without writing its final snapshot: terminated or timed out by an operator or a deadline.
    snapshot = await _snapshot_from_description(desc)
    snapshot.state = _CLOSED_STATES.get(desc.status or WorkflowExecutionStatus.FAILED, JobState.FAILED)
    snapshot.finished_at = desc.close_time
    status_name = desc.status.name.lower() if desc.status else "closed"
    snapshot.error = ErrorInfo(
        code=ErrorCode.TIMEOUT
        if desc.status == WorkflowExecutionStatus.TIMED_OUT
        else ErrorCode.VENDOR_ERROR,
        message=f"the job was {status_name} by the operator or a deadline",
    )
    return snapshot
