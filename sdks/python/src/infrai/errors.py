"""Every error the SDK raises, in one tree.

    InfraiError                      base of everything below
    ├── MissingAPIKeyError           no key in the argument, INFRAI_API_KEY or the credentials file
    ├── APIConnectionError           the server could not be reached (after the retries)
    │   └── APITimeoutError          ... because the HTTP request timed out
    ├── TimeoutError                 wait() gave up before the job reached a final state
    ├── JobStateError                download() of a job that did not succeed
    ├── DownloadIntegrityError       the downloaded bytes do not match the job's size or sha256
    └── APIError                     the server answered with an error (RFC 9457 problem JSON)
        ├── InvalidRequestError      400 / 422: invalid_input, malformed_json, unsupported_resolution, ...
        ├── AuthenticationError      401 unauthorized
        ├── InsufficientCreditsError 402 insufficient_credits
        │   └── BudgetExceededError  402 budget_exceeded (a spend cap; ``problem`` has cap and remaining)
        ├── PermissionDeniedError    403
        ├── NotFoundError            404 not_found (also another project's job)
        ├── ConflictError            409 idempotency_conflict
        ├── RateLimitError           429 rate_limit_exceeded (``retry_after``, ``rate_limits``)
        │   └── ConcurrencyLimitError 429 concurrency_limit_exceeded (the project or key runs its limit)
        ├── InternalServerError      500 and other 5xx
        └── ServiceUnavailableError  503 service_unavailable (``retry_after``)

Every error carries ``status``, ``code``, ``detail``, ``problem`` (the decoded body) and ``request_id``
(the server's ``X-Request-Id``); those that did not come from an HTTP answer have ``None`` there.
"""

from __future__ import annotations

import builtins
import email.utils
import time
from typing import TYPE_CHECKING, Any

import httpx

from infrai.ratelimits import RateLimit, parse_ratelimit

if TYPE_CHECKING:
    from infrai.models import VideoBatch, VideoJob


class InfraiError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        problem: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail if detail is not None else message
        self.problem: dict[str, Any] = problem or {}
        self.request_id = request_id


class MissingAPIKeyError(InfraiError):
    def __init__(self) -> None:
        super().__init__(
            "No API key: pass api_key=..., set INFRAI_API_KEY, or run `infrai activate` "
            "to create an account and write ~/.infrai/credentials.",
            code="missing_api_key",
        )


class APIConnectionError(InfraiError):
    pass


class APITimeoutError(APIConnectionError):
    pass


class TimeoutError(InfraiError, builtins.TimeoutError):
    """wait() ran out of time; ``job`` is the last state seen, so the caller can decide what to do.

    Also a builtin ``TimeoutError``, so ``except TimeoutError`` catches it with or without the import.
    """

    def __init__(self, message: str, *, job: VideoJob | None = None, batch: VideoBatch | None = None) -> None:
        super().__init__(message, code="wait_timeout")
        self.job = job
        self.batch = batch  # set instead of ``job`` when a batch's wait ran out of time


class JobStateError(InfraiError):
    def __init__(self, message: str, *, job: VideoJob) -> None:
        super().__init__(message, code="job_not_succeeded")
        self.job = job


class DownloadIntegrityError(InfraiError):
    pass


class APIError(InfraiError):
    """The server answered with an error status. ``retry_after`` is its ``Retry-After`` in seconds;
    ``rate_limits`` its ``RateLimit`` field (each policy's remaining requests and reset), if it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None,
        detail: str,
        problem: dict[str, Any],
        request_id: str | None,
        retry_after: float | None,
        rate_limits: tuple[RateLimit, ...] = (),
    ) -> None:
        super().__init__(
            message, status=status, code=code, detail=detail, problem=problem, request_id=request_id
        )
        self.retry_after = retry_after
        self.rate_limits = rate_limits


class InvalidRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class InsufficientCreditsError(APIError):
    pass


class BudgetExceededError(InsufficientCreditsError):
    """A spend cap of the project or the key: ``problem`` carries ``scope``, ``period``, ``cap_usd``,
    ``remaining_usd``, ``required_usd`` and ``resets_at``."""


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class RateLimitError(APIError):
    pass


class ConcurrencyLimitError(RateLimitError):
    """The project or the key already runs as many jobs as its budget allows (``problem``: ``limit``)."""


class InternalServerError(APIError):
    pass


class ServiceUnavailableError(APIError):
    pass


# The problem's ``code`` is more specific than its status, so it decides first.
_CLASS_BY_CODE: dict[str, type[APIError]] = {
    "unauthorized": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "budget_exceeded": BudgetExceededError,
    "concurrency_limit_exceeded": ConcurrencyLimitError,
    "not_found": NotFoundError,
    "idempotency_conflict": ConflictError,
    "rate_limit_exceeded": RateLimitError,
    "service_unavailable": ServiceUnavailableError,
}

_CLASS_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def parse_retry_after(value: object) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer; the response body must already be read."""
    problem = _problem_body(response)
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    detail = problem.get("detail")
    if not isinstance(detail, str) or not detail:
        detail = response.text[:500] or response.reason_phrase
    cls = _CLASS_BY_CODE.get(code or "") or _CLASS_BY_STATUS.get(response.status_code)
    if cls is None:
        cls = InternalServerError if response.status_code >= 500 else APIError
    return cls(
        f"{response.status_code} {code or response.reason_phrase}: {detail}",
        status=response.status_code,
        code=code,
        detail=detail,
        problem=problem,
        request_id=response.headers.get("X-Request-Id"),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        rate_limits=parse_ratelimit(response.headers.get("RateLimit")),
    )
