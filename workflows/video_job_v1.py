"""The first version of the ``VideoJob`` run, frozen: jobs started before the ``every-instant-safe`` patch.

Do not change the commands it sends. Jobs that started on this version replay these exact commands on
every worker until they end (the requests, retry policies and submit bookkeeping it shares with the current
run are built by the same functions, so they are the same). Once none runs (a workflow list query on
``VideoJob`` with a start time before the patch's release shows none), delete this module and turn
``workflow.patched`` into ``workflow.deprecate_patch`` (docs/operations/deploys.md). Its known flaws are
why the patch exists: a cancel during submit did not wait for the submit's outcome, a cancel after the
vendor finished (or on a vendor without cancel) was charged the estimate or nothing regardless of the
vendor's bill, and a cancel after success flipped the job to ``cancelled``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from core.errors import ErrorCode
    from core.models import (
        CancelVendorRequest,
        ErrorInfo,
        JobInput,
        JobSnapshot,
        JobState,
        RouteCandidate,
        SettleResult,
        Stage,
        StoredVideo,
        VendorOutcome,
        VendorTask,
    )
    from workflows.job_activities import (
        CANCEL_VENDOR,
        POLL,
        POLL_QUEUE_SUFFIX,
        POLL_RETRIES,
        REHOST,
        REHOST_QUEUE_SUFFIX,
        REHOST_RETRIES,
        SETTLE,
        SETTLE_RETRIES,
        STOP_RETRIES,
        SUBMIT,
        SUBMIT_RETRIES,
        poll_request,
        rehost_request,
        settle_request,
        submit_request,
    )
    from workflows.job_bookkeeping import JobBookkeeping
    from workflows.job_failures import (
        JobFailed,
        error_from_activity,
        failed_ending,
        rehost_failed,
        require_video,
    )


class VideoJobV1(JobBookkeeping):
    """The v1 stages; ``VideoJobWorkflow`` inherits them and dispatches old histories here."""

    _job: JobInput
    _billed: bool

    async def _run_v1(self, job: JobInput) -> JobSnapshot:
        self._snapshot.started_at = workflow.now()
        self._enter(JobState.RUNNING, Stage.SUBMITTING)
        try:
            task, candidate = await self._submit_along_route_v1(job)
            self._enter(JobState.RUNNING, Stage.GENERATING)
            outcome = await self._poll_v1(job, task)
            self._billed = True
            self._enter(JobState.RUNNING, Stage.REHOSTING)
            media = await self._rehost_v1(job, task, outcome)
            charge = outcome.cost_usd if outcome.cost_usd is not None else candidate.estimated_cost_usd
            await self._settle_v1(JobState.SUCCEEDED, charge, "generated")
            self._finish(JobState.SUCCEEDED, media=media)
            await self._webhooks.started()
            return self._snapshot
        except JobFailed as failed:
            charge = self._snapshot.cost.estimated_usd if failed.error.billed else Decimal(0)
            await self._settle_v1(JobState.FAILED, charge, f"failed:{failed.error.code}")
            self._finish(JobState.FAILED, error=failed.error)
            await self._webhooks.started()
            raise failed_ending(failed.error) from None
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            await self._cancel_v1()
            await self._webhooks.started()
            raise

    async def _submit_along_route_v1(self, job: JobInput) -> tuple[VendorTask, RouteCandidate]:
        async def submit(index: int, candidate: RouteCandidate) -> VendorTask:
            self._use_candidate(candidate)
            task: VendorTask = await workflow.execute_activity(
                SUBMIT,
                submit_request(job, index, candidate),
                result_type=VendorTask,
                start_to_close_timeout=timedelta(seconds=job.timings.submit_timeout_seconds),
                retry_policy=SUBMIT_RETRIES,
            )
            return task

        return await self._fail_over(job, submit)

    async def _poll_v1(self, job: JobInput, task: VendorTask) -> VendorOutcome:
        timings = job.timings
        try:
            outcome: VendorOutcome = await workflow.execute_activity(
                POLL,
                poll_request(job, task),
                result_type=VendorOutcome,
                task_queue=workflow.info().task_queue + POLL_QUEUE_SUFFIX,
                start_to_close_timeout=timedelta(seconds=timings.poll_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=timings.poll_heartbeat_timeout_seconds),
                retry_policy=POLL_RETRIES,
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            await self._stop_vendor_task_v1(task)
            raise JobFailed(error_from_activity(err).error) from None
        self._snapshot.attempts[-1].outcome = outcome.state.value
        return require_video(outcome)

    async def _rehost_v1(self, job: JobInput, task: VendorTask, outcome: VendorOutcome) -> StoredVideo:
        request = rehost_request(job, task, outcome)
        try:
            stored: StoredVideo = await workflow.execute_activity(
                REHOST,
                request,
                result_type=StoredVideo,
                task_queue=workflow.info().task_queue + REHOST_QUEUE_SUFFIX,
                start_to_close_timeout=timedelta(seconds=job.timings.rehost_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=job.timings.rehost_heartbeat_timeout_seconds),
                retry_policy=REHOST_RETRIES,
            )
            return stored
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            raise rehost_failed(err) from None

    async def _cancel_v1(self) -> None:
        """Runs after the workflow was cancelled: new activities still run, the cancel is delivered once."""
        vendor_stopped = False
        if self._task is not None and not self._billed:
            vendor_stopped = await self._stop_vendor_task_v1(self._task)
        # Without a vendor-side cancel (or once the video exists) the vendor bills the task anyway.
        billed = self._task is not None and (self._billed or not vendor_stopped)
        charge = self._snapshot.cost.estimated_usd if billed else Decimal(0)
        await self._settle_v1(
            JobState.CANCELLED, charge, "cancelled_after_vendor_billed" if billed else "cancelled"
        )
        self._finish(
            JobState.CANCELLED,
            error=ErrorInfo(code=ErrorCode.CANCELLED, message="the job was cancelled", billed=billed),
        )

    async def _stop_vendor_task_v1(self, task: VendorTask) -> bool:
        try:
            stopped: bool = await workflow.execute_activity(
                CANCEL_VENDOR,
                CancelVendorRequest(task=task),
                result_type=bool,
                start_to_close_timeout=timedelta(seconds=self._job.timings.cancel_timeout_seconds),
                retry_policy=STOP_RETRIES,
            )
        except ActivityError:
            workflow.logger.warning("vendor cancel failed for %s/%s", task.vendor, task.task_id)
            return False
        return stopped

    async def _settle_v1(self, outcome: JobState, charge: Decimal, reason: str) -> None:
        settled: SettleResult = await workflow.execute_activity(
            SETTLE,
            settle_request(self._job, outcome, charge, reason),
            result_type=SettleResult,
            start_to_close_timeout=timedelta(seconds=30),
            # Money must settle: retry for as long as the ledger is unreachable (a day of retries).
            retry_policy=SETTLE_RETRIES,
            schedule_to_close_timeout=timedelta(days=1),
        )
        self._snapshot.cost.settled_usd = settled.charged_usd
