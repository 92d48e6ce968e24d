"""The account's results: an activation, the balance, budgets, and the usage report (``client.accounts``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field

from infrai.mapping_model import InfraiModel


class Activation(InfraiModel):
    """A project API key. ``created`` is False when activate() reused the saved credentials."""

    project_id: str
    key_id: str | None = None
    api_key: str
    balance_usd: Decimal | None = None
    trial_credits_usd: Decimal | None = None
    created: bool = True


class AccountUsage(InfraiModel):
    jobs_charged: int = 0
    charged_usd: Decimal = Decimal(0)


class Account(InfraiModel):
    project_id: str
    balance_usd: Decimal
    held_usd: Decimal | None = None
    available_usd: Decimal | None = None
    usage: AccountUsage | None = None
    # The server also sends ``keys`` (the project's key ids). It stays an untyped extra, read as
    # ``account["keys"]``: a typed field of that name would hide ``Mapping.keys()``, which dict() relies on.


class Budget(InfraiModel):
    """A project's (``scope="project"``) or a key's caps, None where there is none, and what counts
    against them now: spend is settled charges plus open holds in the UTC day / month."""

    scope: Literal["project", "key"]
    key_id: str | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    max_concurrent_jobs: int | None = None
    spent_today_usd: Decimal = Decimal(0)
    spent_this_month_usd: Decimal = Decimal(0)
    running_jobs: int = 0
    day_resets_at: datetime | None = None
    month_resets_at: datetime | None = None


class Budgets(InfraiModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    project: Budget
    # ``keys`` would hide Mapping.keys() (see Account); the key budgets are ``key_budgets``.
    key_budgets: list[Budget] = Field(default_factory=list, alias="keys")


class UsageLine(InfraiModel):
    """One group of a usage report: its ``day``, ``vendor`` (+ ``model``) or ``key_id``, and the charges."""

    day: date | None = None
    vendor: str | None = None
    model: str | None = None
    key_id: str | None = None
    jobs: int
    charged_usd: Decimal
    charged_micros: int


class UsageTotal(InfraiModel):
    jobs: int
    charged_usd: Decimal
    charged_micros: int


class Usage(InfraiModel):
    """``GET /v1/account/usage``: ``data`` (one line per group) and the ``total``; ``usage["from"]`` and
    ``usage["to"]`` are the UTC days it covers."""

    group_by: str
    data: list[UsageLine]
    total: UsageTotal
