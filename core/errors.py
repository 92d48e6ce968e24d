"""The one error taxonomy shared by vendors, activities, the workflow and the API.

Every failure a user can see carries an ``ErrorCode``. Vendor adapters translate their HTTP errors into
``VendorError`` once; activities turn those into ``ApplicationError(type=code)``; the API turns job errors
and ``ProblemError`` into RFC 9457 problem JSON.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from enum import StrEnum

from pydantic import BaseModel

from core.models import ErrorInfo


class ErrorCode(StrEnum):
    # Job outcomes
    CONTENT_POLICY = "content_policy"
    VENDOR_ERROR = "vendor_error"
    VENDOR_UNAVAILABLE = "vendor_unavailable"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    DEADLINE_EXCEEDED = "deadline_exceeded"  # cancelled by its own deadline (``deadline_seconds``)
    STORAGE_ERROR = "storage_error"
    # Request problems
    INVALID_INPUT = "invalid_input"
    MALFORMED_JSON = "malformed_json"
    UNSUPPORTED_RESOLUTION = "unsupported_resolution"
    NO_ROUTE = "no_route"
    MODEL_RETIRED = "model_retired"
    UNSAFE_URL = "unsafe_url"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_DEADLINE = "invalid_deadline"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL = "internal"


class JobIdError(Exception):
    """An error about one job, in any layer: ``job_id`` names the job, and the class's ``message``,
    formatted with it, is the error's text."""

    message = "{job_id}"

    def __init__(self, job_id: str) -> None:
        super().__init__(self.message.format(job_id=job_id))
        self.job_id = job_id


@dataclass(eq=False)  # eq=False: compared and hashed by identity, as exceptions are
class VendorError(Exception):
    """A vendor's failure, already translated into our taxonomy by its adapter.

    ``accepted`` says whether the vendor had accepted the task when it failed: failover to another vendor
    is only safe when it had not (nothing was billed and nothing is still running there).

    ``ambiguous`` (submit only) says the request reached the vendor but its answer was lost — a read
    timeout, a dropped connection, a 504, a 2xx we could not read — so the vendor may have created the task
    anyway. Such a failure is neither a rejection (fail over) nor an acceptance (poll it): see
    ``activities/vendor_tasks.py`` for what happens next.
    """

    code: ErrorCode
    message: str
    _: KW_ONLY
    retryable: bool = False
    billed: bool = False
    accepted: bool = False
    ambiguous: bool = False
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def info(self) -> ErrorInfo:
        return ErrorInfo(code=self.code, message=self.message, retryable=self.retryable, billed=self.billed)

    def __repr__(self) -> str:
        return f"VendorError({self.code!s}, {self.message!r}, retryable={self.retryable})"


class FailureDetails(BaseModel):
    """What a failed activity's ``ApplicationError`` carries as its details, for the workflow to read back.

    The flags are left out of the JSON while unset, the shape recorded histories have: a final error
    carries only ``error``, a vendor error also ``accepted``, and ``ambiguous`` only when it is true.
    """

    error: ErrorInfo
    accepted: bool | None = None  # the vendor had accepted the task
    ambiguous: bool | None = None  # it may have: the request reached the vendor, the answer never came back

    def as_details(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)
