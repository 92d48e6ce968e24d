"""The first version of the ``VideoJob`` run, frozen: jobs started before the ``every-instant-safe`` patch.

Do not change a line of it. Jobs that started on this version replay these exact commands on every
worker until they end; once none runs (a workflow list query on ``VideoJob`` with a start time before the
patch's release shows none), delete this module and turn ``workflow.patched`` into
``workflow.deprecate_patch`` (docs/operations/deploys.md). Its known flaws are why the patch exists: a
cancel during submit did not wait for the submit's outcome, a cancel after the vendor finished (or on a
vendor without cancel) was charged the estimate or nothing regardless of the vendor's bill, and a cancel
after success flipped the job to ``cancelled``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from core.errors import ErrorCode
    from core.models import (
        CancelVendorRequest,
        ErrorInfo,
        JobInput,
        JobSnapshot,
        JobState,
        PollRequest,
        RehostRequest,
        RouteCandidate,
        SettleRequest,
        SettleResult,
        Stage,
        StoredVideo,
        SubmitRequest,
        VendorAttempt,
        VendorOutcome,
        VendorTask,
    )
    from workflows.job_activities import (
        CANCEL_VENDOR,
        POLL,
        POLL_QUEUE_SUFFIX,
        REHOST,
        REHOST_QUEUE_SUFFIX,
        SETTLE,
        SUBMIT,
    )
    from workflows.job_failures import (
        JobFailed,
        error_from_activity,
        not_sent_elsewhere,
        rehost_failed,
        route_exhausted,
    )
    from workflows.webhook_delivery import JobWebhooks


class VideoJobV1:
    """The v1 stages; ``VideoJobWorkflow`` inherits them and dispatches old histories here."""

    _job: JobInput
    _snapshot: JobSnapshot
    _task: VendorTask | None
    _billed: bool
    _webhooks: JobWebhooks

    def _use_candidate(self, candidate: RouteCandidate) -> None:
        raise NotImplementedError

    def _enter(self, state: JobState, stage: Stage | None) -> None:
        raise NotImplementedError

    def _finish(
        self, state: JobState, *, media: StoredVideo | None = None, error: ErrorInfo | None = None
    ) -> None:
        raise NotImplementedError

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
            raise ApplicationError(
                failed.error.message,
                failed.error.model_dump(mode="json"),
                type=failed.error.code,
                non_retryable=True,
            ) from None
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            await self._cancel_v1()
            await self._webhooks.started()
            raise

    async def _submit_along_route_v1(self, job: JobInput) -> tuple[VendorTask, RouteCandidate]:
        last_error: ErrorInfo | None = None
        for index, candidate in enumerate(job.route):
            self._use_candidate(candidate)
            try:
                task = await workflow.execute_activity(
                    SUBMIT,
                    SubmitRequest(
                        job_id=job.job_id,
                        attempt_key=f"{job.job_id}-{index}",
                        spec=job.spec,
                        vendor=candidate.vendor,
                        model=candidate.model,
                    ),
                    result_type=VendorTask,
                    start_to_close_timeout=timedelta(seconds=job.timings.submit_timeout_seconds),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=1),
                        backoff_coefficient=2.0,
                        maximum_interval=timedelta(seconds=30),
                        maximum_attempts=4,
                    ),
                )
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise
                failure = error_from_activity(err)
                error = failure.error
                outcome = "unknown" if failure.ambiguous else "rejected"
                self._snapshot.attempts.append(
                    VendorAttempt(
                        vendor=candidate.vendor, model=candidate.model, outcome=f"{outcome}:{error.code}"
                    )
                )
                if failure.ambiguous:
                    raise JobFailed(not_sent_elsewhere(error)) from None
                if not failure.allows_failover:
                    raise JobFailed(error) from None
                last_error = error
                continue
            self._task = task
            self._snapshot.attempts.append(
                VendorAttempt(vendor=task.vendor, model=task.model, task_id=task.task_id, outcome="accepted")
            )
            return task, candidate
        raise route_exhausted(last_error)

    async def _poll_v1(self, job: JobInput, task: VendorTask) -> VendorOutcome:
        timings = job.timings
        try:
            outcome: VendorOutcome = await workflow.execute_activity(
                POLL,
                PollRequest(
                    task=task,
                    initial_interval_seconds=timings.poll_initial_interval_seconds,
                    max_interval_seconds=timings.poll_max_interval_seconds,
                ),
                result_type=VendorOutcome,
                task_queue=workflow.info().task_queue + POLL_QUEUE_SUFFIX,
                start_to_close_timeout=timedelta(seconds=timings.poll_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=timings.poll_heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=10,
                ),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            await self._stop_vendor_task_v1(task)
            raise JobFailed(error_from_activity(err).error) from None
        self._snapshot.attempts[-1].outcome = outcome.state.value
        if outcome.state is not JobState.SUCCEEDED or not outcome.output_url:
            raise JobFailed(
                outcome.error
                or ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=f"vendor task ended {outcome.state.value}")
            )
        return outcome

    async def _rehost_v1(self, job: JobInput, task: VendorTask, outcome: VendorOutcome) -> StoredVideo:
        assert outcome.output_url is not None
        try:
            stored: StoredVideo = await workflow.execute_activity(
                REHOST,
                RehostRequest(
                    job_id=job.job_id,
                    project_id=job.project_id,
                    task=task,
                    output_url=outcome.output_url,
                    thumbnail_url=outcome.thumbnail_url,
                ),
                result_type=StoredVideo,
                task_queue=workflow.info().task_queue + REHOST_QUEUE_SUFFIX,
                start_to_close_timeout=timedelta(seconds=job.timings.rehost_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=job.timings.rehost_heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=2),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=60),
                    maximum_attempts=6,
                ),
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
                retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
            )
        except ActivityError:
            workflow.logger.warning("vendor cancel failed for %s/%s", task.vendor, task.task_id)
            return False
        return stopped

    async def _settle_v1(self, outcome: JobState, charge: Decimal, reason: str) -> None:
        settled: SettleResult = await workflow.execute_activity(
            SETTLE,
            SettleRequest(
                job_id=self._job.job_id,
                project_id=self._job.project_id,
                outcome=outcome,
                charge_usd=charge,
                reason=reason,
                billed=charge > 0,
            ),
            result_type=SettleResult,
            start_to_close_timeout=timedelta(seconds=30),
            # Money must settle: retry for as long as the ledger is unreachable (a day of retries).
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(minutes=5),
            ),
            schedule_to_close_timeout=timedelta(days=1),
        )
        self._snapshot.cost.settled_usd = settled.charged_usd
