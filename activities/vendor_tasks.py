"""Vendor submit, poll and cancel activities.

``submit_to_vendor`` decides, per kind of failure, whether the same vendor gets another attempt; the
workflow then decides between failover and failing the job (``workflows/video_job.py``):

- 429: retried after the vendor's ``Retry-After`` (Temporal's ``next_retry_delay``; a wait over
  ``_LONGEST_RETRY_AFTER_SECONDS`` is not worth it) for ``_SUBMIT_ATTEMPTS`` attempts, then the workflow
  fails over. Without ``Retry-After``: exponential backoff. Both jittered.
- 5xx (but 504) or unreachable: one more attempt, then failover. A plain rejection (4xx): failover at once.
- Content-policy refusal: final, never tried elsewhere.
- Ambiguous (the vendor may have created the task but we never got its id: read timeout, dropped
  connection, 504, an unreadable 2xx): where the adapter can find a task by our key (``TaskFinder``) the
  activity is retried and every retry looks the task up before submitting again, so it is never created
  twice. Elsewhere the failure is final and the workflow fails the job without trying another vendor: a
  blind retry or a second vendor could both double the spend, and an unknown task cannot be polled.
- The whole attempt runs under a deadline a little shorter than the activity's start-to-close timeout, so
  a slow vendor ends as our own ambiguous timeout rather than as a Temporal timeout that would be retried
  blindly. A worker that dies mid-submit is still retried by Temporal (lookup first where possible);
  with vendors that cannot look tasks up that leaves a small window for a duplicate.

``poll_vendor`` is one long-running activity that polls with backoff and heartbeats; a crashed worker is
noticed through the heartbeat timeout and the poll resumes elsewhere from the heartbeat details, so the
workflow history stays a few events long however long the vendor takes. A worker that is shutting down
gracefully hands its polls off at once (a retryable ``worker_shutdown`` failure) rather than holding them
for the whole graceful timeout: polling is stateless, so the next attempt simply picks up on another worker.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import application_error, final_error
from activities.reference_images import ReferenceImages
from core.errors import ErrorCode, VendorError
from core.models import (
    CancelVendorRequest,
    ErrorInfo,
    JobState,
    PollProgress,
    PollRequest,
    SubmitRequest,
    VendorCancel,
    VendorOutcome,
    VendorTask,
)
from vendors.base import TaskFinder, VendorStatus, VideoVendor

logger = logging.getLogger(__name__)

# Transient poll failures in a row before the attempt fails and Temporal's retry policy takes over.
_MAX_CONSECUTIVE_POLL_ERRORS = 8
_BACKOFF = 1.5
WORKER_SHUTDOWN = "worker_shutdown"

# Attempts one vendor gets for a submit failure that is known to have created nothing, before the workflow
# moves to the next candidate (the workflow's retry policy allows 4 attempts in all).
_SUBMIT_ATTEMPTS = {ErrorCode.RATE_LIMITED: 4, ErrorCode.VENDOR_UNAVAILABLE: 2}
# A vendor asking us to wait longer than this is better replaced by the next candidate right away.
_LONGEST_RETRY_AFTER_SECONDS = 60.0
# Time kept back from the activity's start-to-close timeout so the attempt can report its own outcome.
_SUBMIT_DEADLINE_MARGIN = timedelta(seconds=5)

_FINAL_STATES = {
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


def _outcome(status: VendorStatus, polls: int) -> VendorOutcome:
    state = _FINAL_STATES[status.state]
    error = status.error
    if state is JobState.CANCELLED and error is None:
        error = ErrorInfo(code=ErrorCode.CANCELLED, message="the vendor cancelled the task")
    return VendorOutcome(
        state=state,
        output_url=status.output_url,
        thumbnail_url=status.thumbnail_url,
        error=error,
        cost_usd=status.cost_usd,
        polls=polls,
    )


async def _sleep_heartbeating(seconds: float, progress: PollProgress) -> None:
    """Heartbeat, then sleep, heartbeating again at least three times per heartbeat timeout so a long wait
    (a vendor's Retry-After, a slow poll interval) is never mistaken for a dead worker. If the worker starts
    shutting down meanwhile, hand the poll off: a retryable failure the next worker picks up at once.

    Not again as the sleep ends: the next poll follows at once and heartbeats itself, and every heartbeat
    the throttle lets through is a billable Temporal action (two per poll instead of one, before).
    """
    timeout = activity.info().heartbeat_timeout
    step = timeout.total_seconds() / 3 if timeout else seconds
    activity.heartbeat(progress)
    remaining = seconds
    while remaining > 0:
        nap = min(step, remaining)
        try:
            await asyncio.wait_for(activity.wait_for_worker_shutdown(), timeout=nap)
        except TimeoutError:
            remaining -= nap
            if remaining > 0:
                activity.heartbeat(progress)
            continue
        raise ApplicationError(
            "the worker is shutting down; the poll resumes on another worker", type=WORKER_SHUTDOWN
        )


def _deadline_seconds(start_to_close: timedelta | None) -> float | None:
    if start_to_close is None:
        return None
    return max(start_to_close - _SUBMIT_DEADLINE_MARGIN, start_to_close / 2).total_seconds()


def _submit_failure(vendor: VideoVendor, err: VendorError, attempt: int) -> ApplicationError:
    """The Temporal error for a failed submit attempt: retried on this vendor, or handed to the workflow."""
    if err.ambiguous:
        # Retrying is only safe where the retry can look the task up before creating another.
        return application_error(err, final=not isinstance(vendor, TaskFinder))
    if not err.retryable:
        return application_error(err)
    too_long = err.retry_after is not None and err.retry_after > _LONGEST_RETRY_AFTER_SECONDS
    out_of_attempts = attempt >= _SUBMIT_ATTEMPTS.get(err.code, 1)
    return application_error(err, final=too_long or out_of_attempts, retry_delay=_retry_delay(err, attempt))


def _retry_delay(err: VendorError, attempt: int) -> float:
    """Seconds before the next submit attempt: never sooner than the vendor's Retry-After, else exponential
    backoff; jittered either way so jobs rate-limited together do not come back together."""
    if err.retry_after is not None:
        return err.retry_after + random.uniform(0, min(1.0, err.retry_after / 10))
    ceiling = min(2.0 ** (attempt - 1), 30.0)
    return random.uniform(ceiling / 2, ceiling)


class VendorTaskActivities:
    """Submit, poll and cancel through the configured vendor adapters (built once per worker).

    ``references`` hands each vendor our stored copy of a job's reference image."""

    def __init__(self, vendors: dict[str, VideoVendor], references: ReferenceImages | None = None) -> None:
        self._vendors = vendors
        self._references = references

    async def _with_reference_image(self, req: SubmitRequest) -> SubmitRequest:
        if req.spec.reference_image is None:
            return req
        if self._references is None:
            raise final_error(ErrorCode.STORAGE_ERROR, "this worker has no storage for reference images")
        spec = await self._references.spec_for(req.spec, self._vendor(req.vendor))
        return req.model_copy(update={"spec": spec})

    def _vendor(self, name: str) -> VideoVendor:
        vendor = self._vendors.get(name)
        if vendor is None:
            message = f"vendor {name!r} is not configured on this worker"
            raise final_error(ErrorCode.VENDOR_UNAVAILABLE, message)
        return vendor

    @activity.defn(name="submit_to_vendor")
    async def submit_to_vendor(self, req: SubmitRequest) -> VendorTask:
        req = await self._with_reference_image(req)
        vendor = self._vendor(req.vendor)
        info = activity.info()
        try:
            async with asyncio.timeout(_deadline_seconds(info.start_to_close_timeout)):
                task = await self._submit_once(vendor, req, info.attempt)
        except TimeoutError:
            err = VendorError(
                ErrorCode.TIMEOUT,
                f"{req.vendor}: submit did not finish within the activity's deadline",
                retryable=True,
                ambiguous=True,
            )
            raise _submit_failure(vendor, err, info.attempt) from None
        except VendorError as err:
            logger.warning("submit to %s failed: %s (%s)", req.vendor, err.code, err.message)
            raise _submit_failure(vendor, err, info.attempt) from None
        logger.info("job %s accepted by %s as %s", req.job_id, task.vendor, task.task_id)
        return task

    async def _submit_once(self, vendor: VideoVendor, req: SubmitRequest, attempt: int) -> VendorTask:
        if attempt > 1 and isinstance(vendor, TaskFinder):
            # An earlier attempt may have created the task without our learning its id: find it first.
            try:
                found = await vendor.find_task(req.spec, req.model, req.attempt_key)
            except VendorError as err:
                raise VendorError(
                    err.code, f"looking up the earlier submit: {err.message}", retryable=True, ambiguous=True
                ) from err
            if found is not None:
                logger.info("job %s: found the task an earlier attempt created at %s", req.job_id, req.vendor)
                return found
        return await vendor.submit(req.spec, req.model, req.attempt_key)

    @activity.defn(name="poll_vendor")
    async def poll_vendor(self, req: PollRequest) -> VendorOutcome:
        vendor = self._vendor(req.task.vendor)
        resumed = activity.info().heartbeat_details
        progress = PollProgress.model_validate(resumed[0]) if resumed else PollProgress()
        interval = max(req.initial_interval_seconds, 0.05)
        errors_in_a_row = 0
        while True:
            try:
                status = await vendor.poll(req.task)
            except VendorError as err:
                if not err.retryable:
                    raise application_error(err) from None
                errors_in_a_row += 1
                if errors_in_a_row >= _MAX_CONSECUTIVE_POLL_ERRORS:
                    raise application_error(err) from None
                # A task that exists is worth waiting for: honour Retry-After, within reason.
                delay = min(max(err.retry_after or 0.0, interval), _LONGEST_RETRY_AFTER_SECONDS)
                await _sleep_heartbeating(delay, progress)
                interval = min(interval * _BACKOFF, req.max_interval_seconds)
                continue
            errors_in_a_row = 0
            progress = PollProgress(
                progress=status.progress,
                vendor_state=status.state,
                polls=progress.polls + 1,
                interval_seconds=interval,
            )
            if status.is_final:
                return _outcome(status, progress.polls)
            await _sleep_heartbeating(interval * random.uniform(0.8, 1.2), progress)  # jitter
            interval = min(interval * _BACKOFF, req.max_interval_seconds)

    @activity.defn(name="cancel_vendor_task")
    async def cancel_vendor_task(self, req: CancelVendorRequest) -> bool:
        """The first workflow version's cancel (jobs started before the ``stop_vendor_task`` patch): True
        when the vendor had a cancel to call."""
        vendor = self._vendor(req.task.vendor)
        try:
            return await vendor.cancel(req.task) is not VendorCancel.UNSUPPORTED
        except VendorError as err:
            raise application_error(err) from None
