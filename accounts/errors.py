"""What can go wrong with accounts, in terms the API and the activities translate once each."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from core.errors import JobIdError


class AccountsError(Exception):
    """Base of every error the account store raises on purpose."""


class InsufficientCredits(AccountsError):
    """A hold asked for more than the project's available credits; nothing was held."""

    def __init__(self, available: Decimal, required: Decimal) -> None:
        super().__init__(f"available {available} USD, required {required} USD")
        self.available = available
        self.required = required


class AccountsUnavailable(AccountsError):
    """The accounts database could not be reached or was busy; nothing was written. Retry later."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ActivationRateLimited(AccountsError):
    """Anonymous activations are used up for now: this client's (``scope="address"``: its IPv4 address or
    IPv6 /64) or everyone's (``scope="global"``, the installation-wide hourly cap)."""

    def __init__(self, retry_after_seconds: int, *, scope: Literal["address", "global"] = "address") -> None:
        whose = "this address" if scope == "address" else "all addresses"
        super().__init__(f"too many activations from {whose}; retry in {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds
        self.scope = scope


class HoldConflict(AccountsError, JobIdError):
    """The job already holds credits for a different request (one idempotency key, two bodies)."""

    message = "job {job_id} already holds credits for a different request"


class HoldSettled(AccountsError, JobIdError):
    """The job's hold was settled already (the job ended, or its hold was reconciled away): the job id
    cannot hold credits again, so a new job under it would run unpaid."""

    message = "job {job_id} was settled already"


class ProjectNotFound(AccountsError, LookupError):
    """No project has this id."""


class HoldNotFound(AccountsError, LookupError):
    """Settle found no hold for the job and was not told which project to charge."""


class LastActiveKey(AccountsError):
    """Revoking this key would leave the project with no working key and no way back in."""
