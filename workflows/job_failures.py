"""How an activity's failure reads inside the ``VideoJob`` workflow (shared by every workflow version).

The activity side is ``activities/failures.py``: the taxonomy error travels as the ``ApplicationError``'s
type and a ``FailureDetails`` as its details: whether the vendor had accepted the task and whether that is
unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from core.errors import ErrorCode, FailureDetails
    from core.models import ErrorInfo, JobState, VendorOutcome

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


def not_sent_elsewhere(error: ErrorInfo) -> ErrorInfo:
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


def error_from_activity(err: ActivityError) -> ActivityFailure:
    cause = err.cause
    if isinstance(cause, TimeoutError):
        # The attempt outlived its deadline (a dead or stuck worker): whatever it sent may have landed.
        error = ErrorInfo(code=ErrorCode.TIMEOUT, message=f"{err.activity_type} timed out", retryable=True)
        return ActivityFailure(error, ambiguous=True)
    if isinstance(cause, ApplicationError):
        details = _failure_details(cause)
        return ActivityFailure(details.error, bool(details.accepted), bool(details.ambiguous))
    # A failure we did not translate (a bug, an unexpected exception): we cannot know what the vendor did.
    error = ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=str(cause or err), retryable=True)
    return ActivityFailure(error, ambiguous=True)


def failed_ending(error: ErrorInfo) -> ApplicationError:
    """What the workflow raises at the end of a failed job: a non-retryable failure typed by the error's
    code, with the error as its details (the API reads the failure back from these)."""
    return ApplicationError(error.message, error.model_dump(mode="json"), type=error.code, non_retryable=True)


def rehost_failed(err: ActivityError) -> JobFailed:
    """How a job ends when its video could not be rehosted into our storage."""
    error = error_from_activity(err).error
    # The vendor billed us, but the customer got no video: not billed to them either way.
    if error.code == ErrorCode.VENDOR_ERROR:  # the output expired, vanished or is not a video
        return JobFailed(ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=error.message))
    message = f"could not store the video: {error.message}"
    return JobFailed(ErrorInfo(code=ErrorCode.STORAGE_ERROR, message=message))


def route_exhausted(last_error: ErrorInfo | None) -> JobFailed:
    """How a job ends when no candidate on its route accepted it (``last_error``: the last refusal)."""
    if last_error is None:
        return JobFailed(ErrorInfo(code=ErrorCode.NO_ROUTE, message="the job has no route"))
    message = f"no vendor on the route accepted the job: {last_error.message}"
    return JobFailed(last_error.model_copy(update={"message": message}))


def require_video(outcome: VendorOutcome) -> VendorOutcome:
    """The vendor's outcome if it made a video; any other end fails the job."""
    if outcome.state is not JobState.SUCCEEDED or not outcome.output_url:
        raise JobFailed(
            outcome.error
            or ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=f"vendor task ended {outcome.state.value}")
        )
    return outcome


def _failure_details(cause: ApplicationError) -> FailureDetails:
    """What ``activities/failures.py`` wrote; an error raised elsewhere reads as its type and message."""
    raw = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    fallback = ErrorInfo(code=cause.type or ErrorCode.VENDOR_ERROR, message=cause.message)
    return FailureDetails.model_validate({**raw, "error": raw.get("error") or fallback})


class JobCancelled(Exception):
    """Ends the job ``cancelled``, charging what the vendor billed (``charge``); raised in the workflow."""

    def __init__(self, message: str, *, charge: Decimal = Decimal(0), reason: str = "cancelled") -> None:
        super().__init__(message)
        self.message = message
        self.charge = charge
        self.reason = reason
