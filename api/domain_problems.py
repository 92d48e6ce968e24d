"""Domain errors as problem JSON, in one place: the jobs layer's (``jobs.errors``: their statuses, codes and
headers in the ``_PROBLEMS`` table, one row per error type) and the accounts layer's (outage, insufficient
credits, budget and concurrency caps).

``install_domain_error_handlers`` registers them with the app; the OpenAI-compatible routes render the
same ``ProblemError`` of a job error in OpenAI's error shape (``problem_for``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accounts.errors import AccountsUnavailable, BudgetExceeded, ConcurrencyLimitExceeded, InsufficientCredits
from accounts.money import format_usd
from api.problems import ProblemError
from core.errors import ErrorCode
from jobs.errors import (
    BatchConflict,
    BatchItemsInvalid,
    BatchNotFound,
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
# A hold that would pass a spend cap (402) or a concurrency cap (429) of the project or the key.
BUDGET_EXCEEDED = "budget_exceeded"
CONCURRENCY_LIMIT_EXCEEDED = "concurrency_limit_exceeded"
# Items of a batch refused by the checks of a generate: ``items`` names each (index, code, detail).
BATCH_ITEMS_INVALID = "invalid_batch_items"
REDELIVERY_IN_PROGRESS = "redelivery_in_progress"
TEMPORAL_RETRY_AFTER_SECONDS = 2
STORAGE_RETRY_AFTER_SECONDS = 5


def _unavailable(detail: str, retry_after_seconds: int) -> ProblemError:
    """A service the request needs is down for now: 503, with when to retry."""
    return ProblemError(
        503, ErrorCode.SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(retry_after_seconds)}
    )


def _unroutable(error: Unroutable) -> ProblemError:
    cause = error.cause
    extra: dict[str, object] = {"constraint": cause.constraint, "alternatives": cause.alternatives}
    if cause.max_prompt_chars is not None:
        extra["max_prompt_chars"] = cause.max_prompt_chars
    if cause.code == ErrorCode.MODEL_RETIRED:
        # Gone for good, not a bad request: 410, with the model to use instead.
        extra.update(successor=cause.successor, retired_on=str(cause.retired_on))
        return ProblemError(410, cause.code, cause.detail, extra=extra)
    return ProblemError(422, cause.code, cause.detail, extra=extra)


def _batch_items_invalid(error: BatchItemsInvalid) -> ProblemError:
    refusals = [(index, problem_for(failure)) for index, failure in error.failures]
    statuses = {problem.status for _, problem in refusals}
    items = [
        {"index": index, "code": problem.code, "detail": problem.detail, **problem.extra}
        for index, problem in refusals
    ]
    indexes = ", ".join(str(index) for index, _ in refusals)
    return ProblemError(
        statuses.pop() if len(statuses) == 1 else 422,
        BATCH_ITEMS_INVALID,
        f"Batch items refused (index {indexes}); nothing was held or started. "
        f"First: item {refusals[0][0]}: {refusals[0][1].detail}",
        extra={"items": items},
    )


def _key_conflict(detail: str, **subject: str) -> ProblemError:
    """409 for an idempotency key that cannot be used (again); ``subject`` names what it was used for."""
    return ProblemError(409, ErrorCode.IDEMPOTENCY_CONFLICT, detail, extra=subject)


def _not_found(detail: str) -> ProblemError:
    return ProblemError(404, ErrorCode.NOT_FOUND, detail)


_Problem = Callable[[Any], ProblemError]
_E = TypeVar("_E", bound=JobError)


def _row(kind: type[_E], problem: Callable[[_E], ProblemError]) -> tuple[type[JobError], _Problem]:
    """One row of ``_PROBLEMS``, its builder type-checked against the error type it is for."""
    return kind, problem


# Each job error's problem, by the error's type.
_PROBLEMS: dict[type[JobError], _Problem] = dict(
    [
        _row(BatchNotFound, lambda e: _not_found(f"No batch {e.batch_id!r} in this project.")),
        _row(
            BatchConflict,
            lambda e: _key_conflict(
                "This idempotency key was already used for a different batch; use a new key.",
                batch_id=e.batch_id,
            ),
        ),
        _row(BatchItemsInvalid, _batch_items_invalid),
        _row(JobNotFound, lambda e: _not_found(f"No job {e.job_id!r} in this project.")),
        _row(
            JobDeleted,
            lambda e: ProblemError(
                404,
                JOB_DELETED,
                "The job this idempotency key names was deleted; use a new key for a new job.",
                extra={"job_id": e.job_id},
            ),
        ),
        _row(
            JobConflict,
            lambda e: _key_conflict(
                "This idempotency key was already used for a different request; use a new key.",
                job_id=e.job_id,
            ),
        ),
        _row(
            IdempotencyKeySpent,
            lambda e: _key_conflict(
                "This idempotency key's job no longer exists (it never started, or its record has expired); "
                "use a new key.",
                job_id=e.job_id,
            ),
        ),
        _row(Unroutable, _unroutable),
        _row(
            WebhookMessageNotFound,
            lambda e: _not_found(f"No webhook message {e.message_id!r} of job {e.job_id!r} in this project."),
        ),
        _row(
            RedeliveryInProgress,
            lambda e: ProblemError(
                409,
                REDELIVERY_IN_PROGRESS,
                "A redelivery of this message is still in progress; wait for it to end, or repeat the "
                "request with its Idempotency-Key to get its outcome.",
                extra={"job_id": e.job_id, "message_id": e.message_id},
            ),
        ),
        _row(
            UnsafeInputUrl,
            lambda e: ProblemError(422, ErrorCode.UNSAFE_URL, str(e), extra={"reason": e.reason}),
        ),
        _row(
            StorageUnavailable,
            lambda _: _unavailable(
                "Storage is temporarily unavailable; retry shortly.", STORAGE_RETRY_AFTER_SECONDS
            ),
        ),
        _row(
            TemporalUnavailable,
            lambda _: _unavailable(
                "The job service is temporarily unavailable; retry shortly (with the same idempotency key).",
                TEMPORAL_RETRY_AFTER_SECONDS,
            ),
        ),
        _row(
            JobStateUnavailable,
            lambda _: ProblemError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "The job's state is unavailable; retry."
            ),
        ),
    ]
)


def problem_for(error: JobError) -> ProblemError:
    """The problem a domain error is answered with: its type's row in ``_PROBLEMS``."""
    for kind in type(error).__mro__:
        problem = _PROBLEMS.get(kind)
        if problem is not None:
            return problem(error)
    raise TypeError(f"no problem mapping for {type(error).__name__}")  # a new JobError without a row


async def _on_job_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobError)
    return problem_for(exc).response()


async def _on_accounts_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccountsUnavailable)
    return _unavailable(
        "Accounts are temporarily unavailable; nothing was charged or held. Retry shortly.",
        exc.retry_after_seconds,
    ).response()


RefusedHold = InsufficientCredits | BudgetExceeded | ConcurrencyLimitExceeded
REFUSED_HOLDS = (InsufficientCredits, BudgetExceeded, ConcurrencyLimitExceeded)


def refused_hold_problem(error: RefusedHold, *, what: str = "job") -> ProblemError:
    """The problem a hold refused by the balance (402), a spend cap (402) or a concurrency cap (429) is;
    ``what`` is a ``job``, or a whole ``batch`` (held all or nothing, so the figures are the batch's)."""
    if isinstance(error, InsufficientCredits):
        return ProblemError(
            402,
            ErrorCode.INSUFFICIENT_CREDITS,
            f"This {what} needs {format_usd(error.required)} USD of credits; "
            f"{format_usd(error.available)} USD are available.",
            extra={"required_usd": format_usd(error.required), "available_usd": format_usd(error.available)},
        )
    if isinstance(error, BudgetExceeded):
        return _budget_exceeded(error, what)
    whose = "The project" if error.scope == "project" else f"API key {error.key_id}"
    return ProblemError(
        429,
        CONCURRENCY_LIMIT_EXCEEDED,
        f"{whose} runs {error.running} jobs and may run {error.limit}; start this {what} when jobs end.",
        extra={"scope": error.scope, "key_id": error.key_id, "limit": error.limit, "running": error.running},
    )


def _budget_exceeded(error: BudgetExceeded, what: str) -> ProblemError:
    cap = error.violation
    whose = "The project's" if cap.scope == "project" else f"API key {cap.key_id}'s"
    return ProblemError(
        402,
        BUDGET_EXCEEDED,
        f"{whose} {'daily' if cap.period == 'day' else 'monthly'} budget of {format_usd(cap.cap)} USD has "
        f"{format_usd(cap.remaining)} USD left; this {what} needs {format_usd(cap.required)} USD.",
        extra={
            "scope": cap.scope,
            "key_id": cap.key_id,
            "period": cap.period,
            "cap_usd": format_usd(cap.cap),
            "spent_usd": format_usd(cap.spent),
            "remaining_usd": format_usd(cap.remaining),
            "required_usd": format_usd(cap.required),
            "resets_at": cap.resets_at.isoformat().replace("+00:00", "Z"),
        },
    )


async def _on_refused_hold(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, REFUSED_HOLDS)
    return refused_hold_problem(exc).response()


def install_account_error_handlers(app: FastAPI) -> None:
    """The accounts layer's errors alone (apps that mount only account routes, e.g. in tests)."""
    app.add_exception_handler(AccountsUnavailable, _on_accounts_unavailable)
    for refused in REFUSED_HOLDS:
        app.add_exception_handler(refused, _on_refused_hold)


def install_domain_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JobError, _on_job_error)
    install_account_error_handlers(app)
