"""What the account store returns. Keys travel as ``SecretStr`` so a stray log line shows ``**********``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, SecretStr


class ActivationResult(BaseModel):
    project_id: str
    key_id: str
    api_key: SecretStr
    balance_usd: Decimal
    trial_credits_usd: Decimal


class NewKey(BaseModel):
    key_id: str
    api_key: SecretStr
    created_at: datetime


class KeyView(BaseModel):
    key_id: str
    created_at: datetime
    revoked_at: datetime | None = None


class UsageTotals(BaseModel):
    jobs_charged: int
    charged_usd: Decimal


class AccountView(BaseModel):
    project_id: str
    balance_usd: Decimal
    held_usd: Decimal
    available_usd: Decimal
    usage: UsageTotals
    keys: list[KeyView]


class HoldView(BaseModel):
    """A hold that has not been settled: the reconciler asks whether its job still exists."""

    job_id: str
    project_id: str
    amount_usd: Decimal
    created_at: datetime


class Settlement(BaseModel):
    """The outcome of settling a job. ``replayed`` is True when an earlier call had already settled it.

    ``released_usd`` is the part of the hold returned to the available balance (hold - charge, not below
    zero); ``uncollected_usd`` the part of the charge above what the project could pay.
    """

    job_id: str
    project_id: str
    held_usd: Decimal
    charged_usd: Decimal
    released_usd: Decimal
    uncollected_usd: Decimal
    reason: str
    replayed: bool = False


class BudgetView(BaseModel):
    """A project's or a key's caps (None: no cap) and what counts against them right now."""

    scope: Literal["project", "key"]
    key_id: str | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    max_concurrent_jobs: int | None = None
    spent_today_usd: Decimal
    spent_this_month_usd: Decimal
    running_jobs: int
    day_resets_at: datetime
    month_resets_at: datetime
