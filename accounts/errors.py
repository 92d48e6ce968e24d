"""What can go wrong with accounts, in terms the API and the activities translate once each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from core.errors import JobIdError


@dataclass(frozen=True)
class CapViolation:
    """Which spend cap a hold would cross, and by how much (``BudgetExceeded``)."""

    scope: Literal["project", "key"]
    key_id: str | None
    period: Literal["day", "month"]
    cap: Decimal
    spent: Decimal
    remaining: Decimal
    required: Decimal
    resets_at: datetime


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


class HoldOfDeletedJob(AccountsError, JobIdError):
    """The job id names a job its project deleted: nothing may hold credits, or start, under it again."""

    message = "job {job_id} was deleted"


class ProjectNotFound(AccountsError, LookupError):
    """No project has this id."""


class HoldNotFound(AccountsError, LookupError):
    """Settle found no hold for the job and was not told which project to charge."""


class LastActiveKey(AccountsError):
    """Revoking this key would leave the project with no working key and no way back in."""


class BudgetExceeded(AccountsError):
    """A hold would take the project's or the key's spend in a UTC day or month past its cap; nothing held.

    ``spent`` is what the period holds already (settled charges + open holds placed in it), ``remaining``
    the cap minus that (not below zero), ``required`` what this hold asked for, ``resets_at`` when the
    period ends."""

    def __init__(self, violation: CapViolation) -> None:
        whose = "the project's" if violation.scope == "project" else f"key {violation.key_id}'s"
        super().__init__(
            f"{whose} {violation.period} cap {violation.cap} USD: {violation.remaining} USD remain, "
            f"{violation.required} USD required"
        )
        self.violation = violation


class ConcurrencyLimitExceeded(AccountsError):
    """The project or the key already runs ``limit`` jobs (open holds); nothing was held."""

    def __init__(
        self, scope: Literal["project", "key"], key_id: str | None, limit: int, running: int
    ) -> None:
        whose = "the project" if scope == "project" else f"key {key_id}"
        super().__init__(f"{whose} runs {running} jobs; its limit is {limit}")
        self.scope = scope
        self.key_id = key_id
        self.limit = limit
        self.running = running


class KeyNotFound(AccountsError, LookupError):
    """The project has no key with this id."""
