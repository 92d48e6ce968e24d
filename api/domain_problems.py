"""Domain errors as problem JSON, in one place: the jobs layer's (``jobs.errors``: their statuses, codes and
headers in ``problem_for``) and the accounts layer's (outage, insufficient credits).

``install_domain_error_handlers`` registers them with the app; the OpenAI-compatible routes render the
same ``ProblemError`` of a job error in OpenAI's error shape (``problem_for``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accounts.errors import AccountsUnavailable, InsufficientCredits
from accounts.money import format_usd
from api.problems import ProblemError, problem_response
from core.errors import ErrorCode
from jobs.errors import (
    IdempotencyKeySpent,
    JobConflict,
    JobDeleted,
    JobError,
    JobNotFound,
    JobStateUnavailable,
    RedeliveryInProgress,
    StorageUnavailable,
    TemporalUnavailable,
    Unroutable,
    UnsafeInputUrl,
    WebhookMessageNotFound,
)

# A keyed generate whose job the project deleted (the OpenAI-compatible DELETE): 404 like its status.
JOB_DELETED = "job_deleted"
REDELIVERY_IN_PROGRESS = "redelivery_in_progress"
TEMPORAL_RETRY_AFTER_SECONDS = 2
STORAGE_RETRY_AFTER_SECONDS = 5


def _unroutable(error: Unroutable) -> ProblemError:
    cause = error.cause
    extra: dict[str, object] = {"constraint": cause.constraint, "alternatives": cause.alternatives}
    if cause.max_prompt_chars is not None:
        extra["max_prompt_chars"] = cause.max_prompt_chars
    return ProblemError(422, cause.code, cause.detail, extra=extra)


def problem_for(error: JobError) -> ProblemError:
    """The problem a domain error is answered with."""
    match error:
        case JobNotFound():
            return ProblemError(404, ErrorCode.NOT_FOUND, f"No job {error.job_id!r} in this project.")
        case JobDeleted():
            return ProblemError(
                404,
                JOB_DELETED,
                "The job this idempotency key names was deleted; use a new key for a new job.",
                extra={"job_id": error.job_id},
            )
        case JobConflict():
            return ProblemError(
                409,
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "This idempotency key was already used for a different request; use a new key.",
                extra={"job_id": error.job_id},
            )
        case IdempotencyKeySpent():
            return ProblemError(
                409,
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "This idempotency key's job no longer exists (it never started, or its record has expired); "
                "use a new key.",
                extra={"job_id": error.job_id},
            )
        case Unroutable():
            return _unroutable(error)
        case WebhookMessageNotFound():
            return ProblemError(
                404,
                ErrorCode.NOT_FOUND,
                f"No webhook message {error.message_id!r} of job {error.job_id!r} in this project.",
            )
        case RedeliveryInProgress():
            return ProblemError(
                409,
                REDELIVERY_IN_PROGRESS,
                "A redelivery of this message is still in progress; wait for it to end, or repeat the "
                "request with its Idempotency-Key to get its outcome.",
                extra={"job_id": error.job_id, "message_id": error.message_id},
            )
        case UnsafeInputUrl():
            return ProblemError(422, ErrorCode.UNSAFE_URL, str(error), extra={"reason": error.reason})
        case StorageUnavailable():
            return ProblemError(
                503,
                ErrorCode.SERVICE_UNAVAILABLE,
                "Storage is temporarily unavailable; retry shortly.",
                headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
            )
        case TemporalUnavailable():
            return ProblemError(
                503,
                ErrorCode.SERVICE_UNAVAILABLE,
                "The job service is temporarily unavailable; retry shortly (with the same idempotency key).",
                headers={"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)},
            )
        case JobStateUnavailable():
            return ProblemError(503, ErrorCode.SERVICE_UNAVAILABLE, "The job's state is unavailable; retry.")
    raise TypeError(f"no problem mapping for {type(error).__name__}")  # a new JobError without a row


async def _on_job_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobError)
    return problem_for(exc).response()


async def _on_accounts_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccountsUnavailable)
    return problem_response(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        "Accounts are temporarily unavailable; nothing was charged or held. Retry shortly.",
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


async def _on_insufficient_credits(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InsufficientCredits)
    return problem_response(
        402,
        ErrorCode.INSUFFICIENT_CREDITS,
        f"This job needs {format_usd(exc.required)} USD of credits; "
        f"{format_usd(exc.available)} USD are available.",
        extra={"required_usd": format_usd(exc.required), "available_usd": format_usd(exc.available)},
    )


def install_account_error_handlers(app: FastAPI) -> None:
    """The accounts layer's errors alone (apps that mount only account routes, e.g. in tests)."""
    app.add_exception_handler(AccountsUnavailable, _on_accounts_unavailable)
    app.add_exception_handler(InsufficientCredits, _on_insufficient_credits)


def install_domain_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JobError, _on_job_error)
    install_account_error_handlers(app)
