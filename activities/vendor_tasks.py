"""Vendor submit, poll and cancel activities.

``poll_vendor`` is one long-running activity that polls with backoff and heartbeats; a crashed worker is
noticed through the heartbeat timeout and the poll resumes elsewhere from the heartbeat details, so the
workflow history stays a few events long however long the vendor takes. A worker that is shutting down
gracefully hands its polls off at once (a retryable ``worker_shutdown`` failure) rather than holding them
for the whole graceful timeout: polling is stateless, so the next attempt simply picks up on another worker.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import application_error, final_error
from core.errors import ErrorCode, VendorError
from core.models import (
    CancelVendorRequest,
    ErrorInfo,
    JobState,
    PollProgress,
    PollRequest,
    SubmitRequest,
    VendorOutcome,
    VendorTask,
)
from vendors.base import VendorStatus, VideoVendor

logger = logging.getLogger(__name__)

# Transient poll failures in a row before the attempt fails and Temporal's retry policy takes over.
_MAX_CONSECUTIVE_POLL_ERRORS = 8
_BACKOFF = 1.5
WORKER_SHUTDOWN = "worker_shutdown"

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


async def _pause(seconds: float) -> None:
    """Wait between polls, unless the worker starts shutting down: then hand the poll off."""
    try:
        await asyncio.wait_for(activity.wait_for_worker_shutdown(), timeout=seconds)
    except TimeoutError:
        return
    raise ApplicationError(
        "the worker is shutting down; the poll resumes on another worker", type=WORKER_SHUTDOWN
    )


class VendorTaskActivities:
    """Submit, poll and cancel through the configured vendor adapters (built once per worker)."""

    def __init__(self, vendors: dict[str, VideoVendor]) -> None:
        self._vendors = vendors

    def _vendor(self, name: str) -> VideoVendor:
        vendor = self._vendors.get(name)
        if vendor is None:
            message = f"vendor {name!r} is not configured on this worker"
            raise final_error(ErrorCode.VENDOR_UNAVAILABLE, message)
        return vendor

    @activity.defn(name="submit_to_vendor")
    async def submit_to_vendor(self, req: SubmitRequest) -> VendorTask:
        vendor = self._vendor(req.vendor)
        try:
            task = await vendor.submit(req.spec, req.model, req.attempt_key)
        except VendorError as err:
            logger.warning("submit to %s failed: %s (%s)", req.vendor, err.code, err.message)
            raise application_error(err) from None
        logger.info("job %s accepted by %s as %s", req.job_id, task.vendor, task.task_id)
        return task

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
                delay = max(err.retry_after or 0.0, interval)
                activity.heartbeat(progress)
                await _pause(delay)
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
            activity.heartbeat(progress)
            await _pause(interval)
            interval = min(interval * _BACKOFF, req.max_interval_seconds)

    @activity.defn(name="cancel_vendor_task")
    async def cancel_vendor_task(self, req: CancelVendorRequest) -> bool:
        vendor = self._vendor(req.task.vendor)
        try:
            return await vendor.cancel(req.task)
        except VendorError as err:
            raise application_error(err) from None
