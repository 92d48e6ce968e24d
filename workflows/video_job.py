"""The ``VideoJob`` workflow: one video job, from vendor submit to a video in our storage.

submit (failover along the route until a vendor accepts) → one long heartbeating poll → rehost into our
storage → settle the cost. Routing happened in the API, so everything here is a pure function of the input
and of activity results, and replays deterministically. How each activity is called (timeouts, retries) is
``workflows/job_activities.py``; how the job's state shows outside, ``workflows/job_bookkeeping.py``.

Failure semantics (design §2):
- A vendor that rejected the task, was unavailable, or stayed rate-limited before accepting it cost
  nothing: move to the next candidate on the route (how often one vendor is retried first is the submit
  activity's call, see ``activities/vendor_submit.py``).
- Once a vendor accepted, never submit elsewhere: poll that task to its end.
- A submit whose outcome is unknown (the vendor may have created the task: a read timeout, a worker that
  died mid-request) is not a rejection: the job fails ``timeout``, unbilled, is not sent to another vendor
  (which could double the spend), and the submit journal keeps it as a possible orphan for operators.
- A content-policy refusal is final (``failed`` / ``content_policy``), never silently retried elsewhere.
- The vendor's output gone or unplayable at rehost (expired URL) fails the job ``vendor_error``.

Cancellation, at every instant (the ``every-instant-safe`` patch; older jobs run ``video_job_v1``):
- During a submit: the submit is not interrupted. Its outcome is awaited, then the task it created is
  stopped, so no vendor task is left running unrecorded.
- During generation: the vendor is asked to stop the task (``stop_vendor_task``). ``stopped``: nothing
  billed, the job ends ``cancelled``. ``requested`` (the vendor may still finish it), ``finished`` (too
  late) or ``unsupported`` (no cancel at that vendor): the task is watched to its real end; a video the
  vendor made (and billed) is delivered and the job ends ``succeeded``, charged; a task the vendor failed
  or refused ends ``cancelled``, charged only if the vendor billed it.
- Once the vendor made the video, and once ``succeeded`` or ``failed`` is decided, a cancel changes
  nothing: rehost, settle and the webhook starts run to their end (``_until_done``).

A deadline (``deadline_seconds``, the ``deadline`` patch) cancels the job through this same path when it
passes; the job then ends ``cancelled`` with ``deadline_exceeded`` (``workflows/job_deadline.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from core.models import (
        JobCost,
        JobInput,
        JobSnapshot,
        JobState,
        RouteCandidate,
        Stage,
        VendorCancel,
        VendorOutcome,
        VendorTask,
    )
    from workflows import job_activities as activities
    from workflows.job_activities import POLL, POLL_QUEUE_SUFFIX, REHOST, REHOST_QUEUE_SUFFIX, SETTLE
    from workflows.job_deadline import PATCH_DEADLINE, JobDeadline, cancelled_ending
    from workflows.job_failures import (
        ActivityFailure,
        JobCancelled,
        JobFailed,
        error_from_activity,
        failed_ending,
        require_video,
    )
    from workflows.video_job_v1 import VideoJobV1
    from workflows.webhook_delivery import JobWebhooks

T = TypeVar("T")

WORKFLOW_NAME = "VideoJob"
STATUS_QUERY = "status"

# Workflow versions (docs/operations/deploys.md): each change to the command sequence is a patch; jobs
# started before it replay the frozen code they started on.
PATCH_EVERY_INSTANT_SAFE = "every-instant-safe"
# The settle runs inside the workflow task (``activities.settle_in_task``); earlier jobs scheduled it.
PATCH_SETTLE_IN_TASK = "settle-in-task"

# Re-exported for the modules and tests that read failures the way the workflow does, and that look the
# job's activities and task queues up by name.
__all__ = [
    "PATCH_DEADLINE",
    "POLL",
    "POLL_QUEUE_SUFFIX",
    "REHOST",
    "REHOST_QUEUE_SUFFIX",
    "SETTLE",
    "ActivityFailure",
    "VideoJobWorkflow",
    "error_from_activity",
]


@workflow.defn(name=WORKFLOW_NAME)
class VideoJobWorkflow(JobDeadline, VideoJobV1):  # VideoJobV1 brings JobBookkeeping
    @workflow.init
    def __init__(self, job: JobInput) -> None:
        first = job.route[0] if job.route else None
        self._job = job
        self._snapshot = JobSnapshot(
            job_id=job.job_id,
            project_id=job.project_id,
            vendor=first.vendor if first else None,
            model=first.model if first else None,
            spec=job.spec,
            created_at=job.created_at,
            cost=JobCost(estimated_usd=first.estimated_cost_usd if first else Decimal(0)),
        )
        self._task: VendorTask | None = None
        self._billed = False
        self._webhooks = JobWebhooks(job)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> JobSnapshot:
        return self._snapshot

    @workflow.run
    async def run(self, job: JobInput) -> JobSnapshot:
        if not workflow.patched(PATCH_EVERY_INSTANT_SAFE):
            return await self._run_v1(job)
        self._arm_deadline(job)
        self._snapshot.started_at = workflow.now()
        self._enter(JobState.RUNNING, Stage.SUBMITTING)
        try:
            task, candidate = await self._submit_along_route(job)
            outcome = await self._generate(job, task)
            self._billed = True  # the vendor made the video: from here on the job is a finished job
            self._enter(JobState.RUNNING, Stage.REHOSTING)
            media = await self._until_done(activities.rehost(job, task, outcome))
            charge = outcome.cost_usd if outcome.cost_usd is not None else candidate.estimated_cost_usd
            await self._until_done(self._settle(JobState.SUCCEEDED, charge, "generated"))
            self._finish(JobState.SUCCEEDED, media=media)
        except JobFailed as failed:
            self._outcome_decided = True
            charge = self._snapshot.cost.estimated_usd if failed.error.billed else Decimal(0)
            await self._until_done(self._settle(JobState.FAILED, charge, f"failed:{failed.error.code}"))
            self._finish(JobState.FAILED, error=failed.error)
            await self._until_done(self._webhooks.started())
            raise failed_ending(failed.error) from None
        except JobCancelled as cancelled:
            self._outcome_decided = True
            reason = self._settle_reason(cancelled)
            await self._until_done(self._settle(JobState.CANCELLED, cancelled.charge, reason))
            error = self._cancelled_error(cancelled, job.deadline_seconds)
            self._finish(JobState.CANCELLED, error=error)
            await self._until_done(self._webhooks.started())
            raise cancelled_ending(error) from None
        await self._until_done(self._webhooks.started())
        return self._snapshot

    # -- stages ----------------------------------------------------------------------------------------

    async def _submit_along_route(self, job: JobInput) -> tuple[VendorTask, RouteCandidate]:
        async def submit(index: int, candidate: RouteCandidate) -> VendorTask:
            if await self._cancel_pending():
                raise JobCancelled("the job was cancelled before a vendor accepted it")
            self._use_candidate(candidate)
            return await self._until_done(activities.submit(job, index, candidate))

        return await self._fail_over(job, submit)

    async def _generate(self, job: JobInput, task: VendorTask) -> VendorOutcome:
        """The vendor's successful outcome; a cancel on the way stops the task and watches it if need be."""
        if self._snapshot.cancel_requested:  # it arrived while the submit was in flight
            return await self._stop_and_watch(job, task)
        self._enter(JobState.RUNNING, Stage.GENERATING)
        try:
            outcome = await activities.poll(job, task)
        except asyncio.CancelledError:
            self._cancel_requested()
            return await self._stop_and_watch(job, task)
        except ActivityError as err:
            if is_cancelled_exception(err):
                self._cancel_requested()
                return await self._stop_and_watch(job, task)
            await self._until_done(activities.stop_vendor_task(job, task))
            raise JobFailed(error_from_activity(err).error) from None
        self._snapshot.attempts[-1].outcome = outcome.state.value
        return require_video(outcome)

    async def _stop_and_watch(self, job: JobInput, task: VendorTask) -> VendorOutcome:
        answer = await self._until_done(activities.stop_vendor_task(job, task))
        if answer is VendorCancel.STOPPED:
            raise JobCancelled(f"the job was cancelled; {task.vendor} stopped the task before it finished")
        # Too late, or no cancel at this vendor: the task ends on its own, and what it ends as is billed.
        workflow.set_current_details(
            f"cancel requested · watching {task.vendor} task {task.task_id} to its end"
        )
        try:
            outcome = await self._until_done(activities.poll(job, task))
        except ActivityError as err:
            message = f"the job was cancelled; how {task.vendor}'s task ended is unknown: {err.cause or err}"
            raise JobCancelled(message, reason="cancelled_vendor_outcome_unknown") from None
        self._snapshot.attempts[-1].outcome = outcome.state.value
        if outcome.state is JobState.SUCCEEDED and outcome.output_url:
            return outcome  # the vendor made (and billed) the video: deliver it
        billed = outcome.error is not None and outcome.error.billed
        charge = self._snapshot.cost.estimated_usd if billed else Decimal(0)
        message = f"the job was cancelled; {task.vendor}'s task ended {outcome.state.value}" + (
            " and was billed" if billed else ", unbilled"
        )
        raise JobCancelled(
            message, charge=charge, reason="cancelled_after_vendor_billed" if billed else "cancelled"
        )

    async def _settle(self, outcome: JobState, charge: Decimal, reason: str) -> None:
        if workflow.patched(PATCH_SETTLE_IN_TASK):
            settled = await activities.settle_in_task(self._job, outcome, charge, reason)
        else:
            settled = await activities.settle(self._job, outcome, charge, reason)
        self._snapshot.cost.settled_usd = settled.charged_usd

    async def _cancel_pending(self) -> bool:
        """Whether the job was cancelled, a cancel that is still on its way included: one that came with
        the start (or while no worker ran the job) is delivered at the first await, so yield once (no
        command, no timer) before anything is sent that the cancel should have prevented."""
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._cancel_requested()
        return self._snapshot.cancel_requested

    async def _until_done(self, step: Awaitable[T]) -> T:
        """Run ``step`` to its end even if the job is cancelled meanwhile; the cancel is remembered.

        The shield keeps the workflow's cancellation away from the activity (no cancel command is sent),
        so a submit's outcome is learnt, a rehost finishes and a settle is never run twice.
        """
        future = asyncio.ensure_future(step)
        while True:
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                if future.cancelled():
                    raise
                self._cancel_requested()
