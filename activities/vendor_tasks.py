"""Vendor poll and cancel activities (the submit lives in ``activities/vendor_submit.py``).

``poll_vendor`` is one long-running activity that polls with backoff and heartbeats — also while a single
slow request is in flight, so the heartbeat timeout never fires on a live worker; a crashed worker is
noticed through the heartbeat timeout and the poll resumes elsewhere from the heartbeat details, so the
workflow history stays a few events long however long the vendor takes. A worker that is shutting down
gracefully hands its polls off at once (a retryable ``worker_shutdown`` failure) rather than holding them
for the whole graceful timeout: polling is stateless, so the next attempt simply picks up on another worker.

``stop_vendor_task`` asks the vendor to stop a task and says what that achieved (``VendorCancel``), which
decides the charge; ``cancel_vendor_task`` is the first workflow version's boolean form of the same call,
kept for jobs started before that version.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from accounts.errors import AccountsUnavailable
from accounts.vendor_timings import VendorTimings
from activities.failures import application_error, final_error
from activities.heartbeats import heartbeating
from core.errors import ErrorCode, VendorError
from core.models import (
    CancelVendorRequest,
    ErrorInfo,
    JobState,
    PollProgress,
    PollRequest,
    VendorCancel,
    VendorOutcome,
    VendorTask,
)
from vendors.base import VendorStatus, VideoVendor

logger = logging.getLogger(__name__)

# The activities' names on the wire: workflows call them by method, the API and tests look them up by name.
POLL_VENDOR = "poll_vendor"
STOP_VENDOR_TASK = "stop_vendor_task"
CANCEL_VENDOR_TASK = "cancel_vendor_task"  # the v1 form of STOP_VENDOR_TASK

# Transient poll failures in a row before the attempt fails and Temporal's retry policy takes over.
_MAX_CONSECUTIVE_POLL_ERRORS = 8
_BACKOFF = 1.5
WORKER_SHUTDOWN = "worker_shutdown"
# A vendor's Retry-After on a status read is honoured up to this long.
_LONGEST_RETRY_AFTER_SECONDS = 60.0

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


class VendorTaskActivities:
    """Poll and cancel through the configured vendor adapters (built once per worker)."""

    def __init__(self, vendors: dict[str, VideoVendor], timings: VendorTimings | None = None) -> None:
        self._vendors = vendors
        self._timings = timings

    def _vendor(self, name: str) -> VideoVendor:
        vendor = self._vendors.get(name)
        if vendor is None:
            message = f"vendor {name!r} is not configured on this worker"
            raise final_error(ErrorCode.VENDOR_UNAVAILABLE, message)
        return vendor

    @activity.defn(name=POLL_VENDOR)
    async def poll_vendor(self, req: PollRequest) -> VendorOutcome:
        vendor = self._vendor(req.task.vendor)
        resumed = activity.info().heartbeat_details
        progress = PollProgress.model_validate(resumed[0]) if resumed else PollProgress()
        interval = max(req.initial_interval_seconds, 0.05)
        errors_in_a_row = 0
        while True:
            try:
                async with heartbeating(progress):
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
                queue_position=status.queue_position,
                accepted_at=req.task.submitted_at,
            )
            if status.is_final:
                if status.state == "succeeded":
                    await self._record_vendor_time(req.task)
                return _outcome(status, progress.polls)
            await _sleep_heartbeating(interval * random.uniform(0.8, 1.2), progress)  # jitter
            interval = min(interval * _BACKOFF, req.max_interval_seconds)

    async def _record_vendor_time(self, task: VendorTask) -> None:
        """Measure the finished task for ETAs (``accounts/vendor_timings.py``). Best effort: a sample lost
        to a database outage is not worth failing, or even delaying, the job for."""
        job_id = activity.info().workflow_id  # the job's id is its workflow's
        if self._timings is None or job_id is None:
            return
        try:
            seconds = await self._timings.record_finished(job_id, task, datetime.now(UTC))
        except AccountsUnavailable as err:
            logger.warning("job %s: vendor time not recorded (%s)", job_id, err)
            return
        if seconds is not None:
            logger.info("job %s: %s/%s took %.1f s at the vendor", job_id, task.vendor, task.model, seconds)

    @activity.defn(name=STOP_VENDOR_TASK)
    async def stop_vendor_task(self, req: CancelVendorRequest) -> VendorCancel:
        """Ask the vendor to stop the task; what that achieved decides the charge (see ``VendorCancel``)."""
        vendor = self._vendor(req.task.vendor)
        try:
            return await vendor.cancel(req.task)
        except VendorError as err:
            raise application_error(err) from None

    @activity.defn(name=CANCEL_VENDOR_TASK)
    async def cancel_vendor_task(self, req: CancelVendorRequest) -> bool:
        """The first workflow version's cancel (jobs started before the ``stop_vendor_task`` patch): True
        when the vendor had a cancel to call."""
        vendor = self._vendor(req.task.vendor)
        try:
            return await vendor.cancel(req.task) is not VendorCancel.UNSUPPORTED
        except VendorError as err:
            raise application_error(err) from None
