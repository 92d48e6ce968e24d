"""A job's deadline (``deadline_seconds``): a durable timer that cancels the job if it has not finished by
then, through the same path as a customer's cancel.

- The timer is Temporal's and is measured from the workflow's start (``workflow_start_time``, written in
  the job's first history event), so restarting a worker, the API or Temporal never extends it. A job
  first picked up after its deadline gets no timer: it is cancelled before anything reaches a vendor.
- When it fires it cancels the workflow's main task, which is exactly what a cancel request does. So every
  rule of the cancel path holds (``workflows/video_job.py``): a submit in flight is awaited and the task
  it created is stopped, a task the vendor cannot stop is watched to its end and billed as it ends, and a
  video the vendor already made is delivered.
- It does nothing once the job's outcome is decided (the vendor made the video, the job failed or is
  ending) or a cancel is already under way. A job it cancels ends ``cancelled`` with the error code
  ``deadline_exceeded``. There is no cancel request, so Temporal records the workflow as failed with an
  ``ApplicationError`` of that type; the job's state is still ``cancelled``, because the API reads the
  state from the final snapshot in the memo.
- Guarded by the ``deadline`` patch. A job that a new API started with a deadline but an older worker
  ran first (that worker ignores the field) has no timer in its history, and it replays without one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.errors import ErrorCode
    from core.models import ErrorInfo, JobInput, JobSnapshot
    from workflows.job_failures import JobCancelled, failed_ending

PATCH_DEADLINE = "deadline"


class JobDeadline:
    """The deadline half of ``VideoJobWorkflow``: arm the timer, and say how a job it cancelled ended."""

    _snapshot: JobSnapshot
    _billed: bool
    _deadline_passed: bool = False  # the deadline cancelled the job (a cancel it makes, not the customer)
    _outcome_decided: bool = False  # the job is ending: a deadline passing now changes nothing
    _deadline_timer: asyncio.Task[None] | None = None

    def _arm_deadline(self, job: JobInput) -> None:
        if job.deadline_seconds is None or not workflow.patched(PATCH_DEADLINE):
            return
        deadline_at = workflow.info().workflow_start_time + timedelta(seconds=job.deadline_seconds)
        self._snapshot.deadline_at = deadline_at
        run = asyncio.current_task()
        assert run is not None  # called from the workflow's run method
        # The task is never awaited: when the workflow closes first, Temporal drops the timer with it.
        self._deadline_timer = asyncio.ensure_future(self._cancel_at(deadline_at, run))

    async def _cancel_at(self, deadline_at: datetime, run: asyncio.Task[object]) -> None:
        remaining = deadline_at - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary="deadline")
        if self._billed or self._outcome_decided or self._snapshot.cancel_requested:
            return
        self._deadline_passed = True
        workflow.set_current_details("deadline passed · cancelling the job")
        run.cancel()

    def _cancelled_error(self, cancelled: JobCancelled, deadline_seconds: int | None) -> ErrorInfo:
        """How a cancelled job's error reads: ``cancelled``, or ``deadline_exceeded`` when the deadline
        cancelled it (the messages all start "the job was cancelled")."""
        billed = cancelled.charge > 0
        if not self._deadline_passed:
            return ErrorInfo(code=ErrorCode.CANCELLED, message=cancelled.message, billed=billed)
        message = cancelled.message.replace(
            "the job was cancelled", f"the job passed its {deadline_seconds} s deadline and was cancelled", 1
        )
        return ErrorInfo(code=ErrorCode.DEADLINE_EXCEEDED, message=message, billed=billed)

    def _settle_reason(self, cancelled: JobCancelled) -> str:
        if not self._deadline_passed:
            return cancelled.reason
        return cancelled.reason.replace("cancelled", ErrorCode.DEADLINE_EXCEEDED.value, 1)


def cancelled_ending(error: ErrorInfo) -> BaseException:
    """What the workflow raises at the end of a cancelled job: the cancellation Temporal asked for, or for a
    deadline (no cancel was requested) a non-retryable failure of type ``deadline_exceeded``."""
    if error.code == ErrorCode.DEADLINE_EXCEEDED:
        return failed_ending(error)
    return asyncio.CancelledError(error.message)
