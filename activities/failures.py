"""The one place a taxonomy error becomes a Temporal ``ApplicationError``.

The error's code is the ApplicationError ``type``; its ``ErrorInfo``, whether the vendor had accepted the
task and whether that is unknown (``ambiguous``) travel in the details as a ``FailureDetails``, which the
workflow reads back with ``workflows.job_failures.error_from_activity``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from core.errors import ErrorCode, FailureDetails, VendorError
from core.models import ErrorInfo


def application_error(
    error: VendorError, *, final: bool = False, retry_delay: float | None = None
) -> ApplicationError:
    """``final`` stops Temporal's retries even for a retryable error (the activity's own budget ran out);
    ``retry_delay`` sets the wait before the next attempt (default: the vendor's Retry-After, if any)."""
    delay = retry_delay if retry_delay is not None else error.retry_after
    details = FailureDetails(
        error=error.info(), accepted=error.accepted, ambiguous=True if error.ambiguous else None
    )
    return ApplicationError(
        error.message,
        details.as_details(),
        type=str(error.code),
        non_retryable=final or not error.retryable,
        next_retry_delay=timedelta(seconds=delay) if delay else None,
    )


def final_error(code: ErrorCode, message: str) -> ApplicationError:
    details = FailureDetails(error=ErrorInfo(code=code, message=message))
    return ApplicationError(message, details.as_details(), type=str(code), non_retryable=True)
