"""Starting, cancelling and deleting jobs on Temporal (reading them is ``jobs.reads``).

- The workflow id is the job id (derived from project + idempotency key, or random); start uses conflict
  policy *use existing* and a request fingerprint in the memo, so a retried request finds its job.
- Cancel: workflow cancellation; the workflow stops the vendor task and settles, and the answer waits a
  moment for how the job ended (a task the vendor had already finished is delivered, not cancelled).
- Delete: a tombstone hides the job at once; Temporal removes the execution soon after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.models import JobInput, JobSnapshot, JobState
from jobs.errors import JobConflict
from jobs.idempotent_start import start_idempotent
from jobs.reads import ExecutionNotFound, JobReads
from jobs.snapshots import (
    CLOSED_STATES,
    closed_snapshot,
    memo_text,
    queued_snapshot,
    start_memo_and_attributes,
)
from observability.logs import bind_job
from observability.temporal_ui import job_details, job_summary
from workflows import search_attributes as sa
from workflows.video_job import WORKFLOW_NAME

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedJob:
    snapshot: JobSnapshot
    created: bool


class JobService(JobReads):
    """Jobs on Temporal: start, status (``JobReads``), cancel, delete."""

    # -- start -----------------------------------------------------------------------------------------

    async def start(self, job: JobInput, fingerprint: str) -> StartedJob:
        first = job.route[0]
        bind_job(job.job_id, first.vendor)
        memo, attributes = start_memo_and_attributes(job, fingerprint)
        async with self._outages_translated():
            try:
                handle = await start_idempotent(
                    self._client,
                    WORKFLOW_NAME,
                    job,
                    workflow_id=job.job_id,
                    task_queue=self._task_queue,
                    memo=memo,
                    rpc_timeout=self._rpc_timeout,
                    search_attributes=attributes,
                    summary=job_summary(job),
                    details=job_details(job),
                )
            except WorkflowAlreadyStartedError:
                return await self._existing(job.job_id, job.project_id, fingerprint)
            response = getattr(handle, "_start_workflow_response", None)
            if response is not None and not getattr(response, "started", True):
                return await self._existing(job.job_id, job.project_id, fingerprint)
        self._metrics.job_started(first.vendor, first.model, first.estimated_cost_usd)
        logger.info("job started on %s/%s", first.vendor, first.model)
        return StartedJob(snapshot=queued_snapshot(job), created=True)

    async def find_existing(self, job_id: str, project_id: str, fingerprint: str) -> StartedJob | None:
        """The job an idempotency key already names, if any (raises JobConflict on a different body)."""
        try:
            async with self._outages_translated():
                return await self._existing(job_id, project_id, fingerprint)
        except ExecutionNotFound:
            return None

    async def workflow_status(self, job_id: str) -> WorkflowExecutionStatus | None:
        """The status of the job's workflow, None when there is none. Outages raise untranslated (for
        callers outside a request, e.g. the hold reconciler)."""
        try:
            desc = await self._describe(job_id)
        except ExecutionNotFound:
            return None
        return desc.status or WorkflowExecutionStatus.RUNNING

    async def _existing(self, job_id: str, project_id: str, fingerprint: str) -> StartedJob:
        desc = await self._describe(job_id)
        if await memo_text(desc, "project") != project_id:
            # A key of another project can't collide (the id hashes the project), but stay strict.
            raise ExecutionNotFound
        if await memo_text(desc, "fingerprint") != fingerprint:
            raise JobConflict(job_id)
        if desc.status in CLOSED_STATES:
            return StartedJob(snapshot=await self._remember_closed(desc), created=False)
        view = await self._running_view(job_id, desc.raw_description)
        snapshot = await self._running_snapshot(job_id, view, self._query(job_id))
        return StartedJob(snapshot=snapshot, created=False)

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
        if desc.status in CLOSED_STATES:
            snapshot = await closed_snapshot(desc)
            return False, (snapshot.state is JobState.CANCELLED, snapshot.state)
        handle = self._client.get_workflow_handle(job_id, run_id=desc.run_id)
        try:
            await handle.cancel(rpc_timeout=self._rpc_timeout)
            self._running.pop(job_id)  # its poll's progress no longer counts once a cancel is asked
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # It closed between describe and cancel: answer with how it ended.
            snapshot = await closed_snapshot(await self._describe(job_id))
            return False, (snapshot.state is JobState.CANCELLED, snapshot.state)
        state_value = desc.typed_search_attributes.get(sa.STATE)
        return True, (True, JobState(state_value) if state_value else JobState.RUNNING)

    async def _closed_after_cancel(self, job_id: str) -> JobSnapshot:
        handle = self._client.get_workflow_handle(job_id)
        with contextlib.suppress(WorkflowFailureError):
            await handle.result(rpc_timeout=self._cancel_wait)
        return await self._remember_closed(await self._describe(job_id))

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
