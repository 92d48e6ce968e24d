"""The ``VideoJob`` workflow: one video job, from vendor submit to a video in our storage.

submit (failover along the route until a vendor accepts) → one long heartbeating poll → rehost into our
storage → settle the cost. Routing happened in the API, so everything here is a pure function of the input
and of activity results, and replays deterministically.

Failure semantics (design §2):
- A vendor that rejected the task, was unavailable, or stayed rate-limited before accepting it cost
  nothing: move to the next candidate on the route (how often one vendor is retried first is the submit
  activity's call, see ``activities/vendor_tasks.py``).
- Once a vendor accepted, never submit elsewhere: poll that task to its end.
- A submit whose outcome is unknown (the vendor may have created the task, e.g. a read timeout) is not a
  rejection: the job fails ``timeout``/``vendor_error``, unbilled, and is not sent to another vendor, which
  could double the spend. (Vendors that can look a task up by our key retry inside the activity instead.)
- A content-policy refusal is final (``failed`` / ``content_policy``), never silently retried elsewhere.
- The vendor's output gone or unplayable at rehost (expired URL) fails the job ``vendor_error``.
- Cancel: stop the vendor task where the vendor can, settle what was billed, end ``cancelled``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from core.errors import ErrorCode
    from core.models import (
        CancelVendorRequest,
        ErrorInfo,
        JobCost,
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
    from workflows import search_attributes as sa
    from workflows.webhook_delivery import JobWebhooks

WORKFLOW_NAME = "VideoJob"
STATUS_QUERY = "status"

# Polling and rehosting run on their own task queues (the workflow's queue + suffix) so each scales on its
# own: thousands of cheap heartbeating polls per worker, a handful of bandwidth-heavy rehosts.
POLL_QUEUE_SUFFIX = "-poll"
REHOST_QUEUE_SUFFIX = "-rehost"

# Activity names: the worker registers implementations under exactly these names.
SUBMIT = "submit_to_vendor"
POLL = "poll_vendor"
CANCEL_VENDOR = "cancel_vendor_task"
REHOST = "rehost_video"
SETTLE = "settle_job"

# Submit failures after which the next candidate may be tried — provided the vendor provably never took
# the task (neither accepted nor ambiguous): unavailable, rate-limited after retries, or rejected (bad input
# for that vendor, our key or credit there). Content policy is deliberately absent: a refusal is final.
_FAILOVER_CODES = {
    ErrorCode.VENDOR_UNAVAILABLE,
    ErrorCode.RATE_LIMITED,
    ErrorCode.INVALID_INPUT,
    ErrorCode.TIMEOUT,
    ErrorCode.VENDOR_ERROR,
}


def _not_sent_elsewhere(error: ErrorInfo) -> ErrorInfo:
    message = (
        f"{error.message}; the vendor may have started the video anyway, so the job was not sent to "
        "another vendor (nothing was charged; retry the request)"
    )
    return error.model_copy(update={"message": message, "retryable": True, "billed": False})


class JobFailed(Exception):
    """Ends the job ``failed`` with ``error``; raised inside the workflow only."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class ActivityFailure:
    """How an activity failed: the taxonomy error, and what it means for the vendor task."""

    error: ErrorInfo
    accepted: bool = False  # the vendor had accepted the task
    ambiguous: bool = False  # it may have: the request reached the vendor, the answer never came back

    @property
    def allows_failover(self) -> bool:
        return not self.accepted and not self.ambiguous and self.error.code in _FAILOVER_CODES


def _error_from_activity(err: ActivityError) -> ActivityFailure:
    cause = err.cause
    if isinstance(cause, TimeoutError):
        # The attempt outlived its deadline (a dead or stuck worker): whatever it sent may have landed.
        error = ErrorInfo(code=ErrorCode.TIMEOUT, message=f"{err.activity_type} timed out", retryable=True)
        return ActivityFailure(error, ambiguous=True)
    if isinstance(cause, ApplicationError):
        details: dict[str, Any] = (
            cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        )
        info = details.get("error")
        error = (
            ErrorInfo.model_validate(info)
            if info
            else ErrorInfo(code=cause.type or ErrorCode.VENDOR_ERROR, message=cause.message)
        )
        return ActivityFailure(
            error, bool(details.get("accepted", False)), bool(details.get("ambiguous", False))
        )
    # A failure we did not translate (a bug, an unexpected exception): we cannot know what the vendor did.
    error = ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=str(cause or err), retryable=True)
    return ActivityFailure(error, ambiguous=True)


@workflow.defn(name=WORKFLOW_NAME)
class VideoJobWorkflow:
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
        self._snapshot.started_at = workflow.now()
        self._enter(JobState.RUNNING, Stage.SUBMITTING)
        try:
            task, candidate = await self._submit_along_route(job)
            self._enter(JobState.RUNNING, Stage.GENERATING)
            outcome = await self._poll(job, task)
            self._billed = True
            self._enter(JobState.RUNNING, Stage.REHOSTING)
            media = await self._rehost(job, task, outcome)
            charge = outcome.cost_usd if outcome.cost_usd is not None else candidate.estimated_cost_usd
            await self._settle(JobState.SUCCEEDED, charge, "generated")
            self._finish(JobState.SUCCEEDED, media=media)
            await self._webhooks.started()
            return self._snapshot
        except JobFailed as failed:
            charge = self._snapshot.cost.estimated_usd if failed.error.billed else Decimal(0)
            await self._settle(JobState.FAILED, charge, f"failed:{failed.error.code}")
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
            await self._cancel()
            await self._webhooks.started()
            raise

    # -- stages ----------------------------------------------------------------------------------------

    async def _submit_along_route(self, job: JobInput) -> tuple[VendorTask, RouteCandidate]:
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
                failure = _error_from_activity(err)
                error = failure.error
                outcome = "unknown" if failure.ambiguous else "rejected"
                self._snapshot.attempts.append(
                    VendorAttempt(
                        vendor=candidate.vendor, model=candidate.model, outcome=f"{outcome}:{error.code}"
                    )
                )
                if failure.ambiguous:
                    raise JobFailed(_not_sent_elsewhere(error)) from None
                if not failure.allows_failover:
                    raise JobFailed(error) from None
                last_error = error
                continue
            self._task = task
            self._snapshot.attempts.append(
                VendorAttempt(vendor=task.vendor, model=task.model, task_id=task.task_id, outcome="accepted")
            )
            return task, candidate
        raise JobFailed(
            last_error.model_copy(
                update={"message": f"no vendor on the route accepted the job: {last_error.message}"}
            )
            if last_error
            else ErrorInfo(code=ErrorCode.NO_ROUTE, message="the job has no route")
        )

    async def _poll(self, job: JobInput, task: VendorTask) -> VendorOutcome:
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
            await self._stop_vendor_task(task)
            raise JobFailed(_error_from_activity(err).error) from None
        self._snapshot.attempts[-1].outcome = outcome.state.value
        if outcome.state is not JobState.SUCCEEDED or not outcome.output_url:
            raise JobFailed(
                outcome.error
                or ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=f"vendor task ended {outcome.state.value}")
            )
        return outcome

    async def _rehost(self, job: JobInput, task: VendorTask, outcome: VendorOutcome) -> StoredVideo:
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
            error = _error_from_activity(err).error
            # The vendor billed us, but the customer got no video: not billed to them either way.
            if error.code == ErrorCode.VENDOR_ERROR:  # the output expired, vanished or is not a video
                raise JobFailed(ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=error.message)) from None
            raise JobFailed(
                ErrorInfo(code=ErrorCode.STORAGE_ERROR, message=f"could not store the video: {error.message}")
            ) from None

    async def _cancel(self) -> None:
        """Runs after the workflow was cancelled: new activities still run, the cancel is delivered once."""
        vendor_stopped = False
        if self._task is not None and not self._billed:
            vendor_stopped = await self._stop_vendor_task(self._task)
        # Without a vendor-side cancel (or once the video exists) the vendor bills the task anyway.
        billed = self._task is not None and (self._billed or not vendor_stopped)
        charge = self._snapshot.cost.estimated_usd if billed else Decimal(0)
        await self._settle(
            JobState.CANCELLED, charge, "cancelled_after_vendor_billed" if billed else "cancelled"
        )
        self._finish(
            JobState.CANCELLED,
            error=ErrorInfo(code=ErrorCode.CANCELLED, message="the job was cancelled", billed=billed),
        )

    async def _stop_vendor_task(self, task: VendorTask) -> bool:
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

    async def _settle(self, outcome: JobState, charge: Decimal, reason: str) -> None:
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

    # -- state bookkeeping -----------------------------------------------------------------------------

    def _use_candidate(self, candidate: RouteCandidate) -> None:
        if (candidate.vendor, candidate.model) != (self._snapshot.vendor, self._snapshot.model):
            self._snapshot.vendor = candidate.vendor
            self._snapshot.model = candidate.model
            self._snapshot.cost.estimated_usd = candidate.estimated_cost_usd
            workflow.upsert_search_attributes(
                [sa.VENDOR.value_set(candidate.vendor), sa.MODEL.value_set(candidate.model)]
            )

    def _enter(self, state: JobState, stage: Stage | None) -> None:
        if state is not self._snapshot.state:
            workflow.upsert_search_attributes([sa.STATE.value_set(state.value)])
        self._snapshot.state = state
        self._snapshot.stage = stage
        self._snapshot.progress = None if stage is not Stage.REHOSTING else 100
        workflow.set_current_details(
            f"{state.value} · {stage.value if stage else '-'} · {self._snapshot.vendor}"
        )
        if not state.is_final:  # a final state is announced by _finish, once the snapshot is complete
            self._webhooks.announce(self._snapshot)

    def _finish(
        self, state: JobState, *, media: StoredVideo | None = None, error: ErrorInfo | None = None
    ) -> None:
        self._snapshot.finished_at = workflow.now()
        self._snapshot.media = media
        self._snapshot.error = error
        progress = 100 if state is JobState.SUCCEEDED else self._snapshot.progress
        self._enter(state, None)
        self._snapshot.progress = progress
        # The final snapshot lives in the memo so status of a closed job needs only `describe`.
        workflow.upsert_memo({"job": self._snapshot.model_dump(mode="json")})
        self._webhooks.announce(self._snapshot)
