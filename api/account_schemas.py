"""Request and response bodies of the account routes that speak money: budgets and usage.

Money goes out as a JSON string with 2-6 decimals (``"5.00"``, ``UsdAmount``) and comes in the same way
(``UsdInput``: a decimal string, never a float), so no amount is ever rounded on the way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from accounts.budgets import Caps
from accounts.money import format_usd, to_micros
from accounts.usage import GroupBy
from accounts.views import BudgetView

UsdAmount = Annotated[
    Decimal,
    PlainSerializer(format_usd, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2,6}$", "examples": ["5.00"]}),
]


def _usd_string(value: object) -> object:
    """A JSON number is refused with the form wanted named: a float may already be rounded in transit."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f'USD amounts are decimal strings, e.g. "{value:.2f}", not JSON numbers')
    return value


# Up to a billion dollars with at most six decimals: exact in micro-USD, and far inside a 64-bit column.
UsdInput = Annotated[
    str,
    Field(pattern=r"^\d{1,9}(\.\d{1,6})?$", examples=["25.00"], description="USD as a decimal string."),
    BeforeValidator(_usd_string),
]


class BudgetCaps(BaseModel):
    """A budget to set. Replaces the whole budget: a field left out (or null) means no cap of that kind."""

    model_config = ConfigDict(extra="forbid")

    daily_usd: UsdInput | None = Field(None, description="Spend cap per UTC day.")
    monthly_usd: UsdInput | None = Field(None, description="Spend cap per UTC calendar month.")
    max_concurrent_jobs: int | None = Field(
        None, ge=0, le=100_000, strict=True, description="Jobs running at once (0: none may start)."
    )

    def caps(self) -> Caps:
        def micros(usd: str | None) -> int | None:
            return None if usd is None else to_micros(Decimal(usd))

        return Caps(micros(self.daily_usd), micros(self.monthly_usd), self.max_concurrent_jobs)


class Budget(BaseModel):
    """A project's or a key's caps (null: none) and what counts against them now: spend is settled charges
    plus open holds placed in the period; running jobs are open holds."""

    scope: Literal["project", "key"]
    key_id: str | None
    daily_usd: UsdAmount | None
    monthly_usd: UsdAmount | None
    max_concurrent_jobs: int | None
    spent_today_usd: UsdAmount
    spent_this_month_usd: UsdAmount
    running_jobs: int
    day_resets_at: datetime
    month_resets_at: datetime

    @classmethod
    def of(cls, view: BudgetView) -> Budget:
        return cls.model_validate(view.model_dump())


class Budgets(BaseModel):
    project: Budget
    keys: list[Budget] = Field(description="The budget of each active key of the project.")


class UsageLine(BaseModel):
    """One group of the usage report; the grouping's own fields are set, the others are null."""

    day: date | None = None
    vendor: str | None = None
    model: str | None = None
    key_id: str | None = None
    jobs: int
    charged_usd: UsdAmount
    charged_micros: int = Field(description="The same amount in exact micro-USD.")


class UsageTotal(BaseModel):
    jobs: int
    charged_usd: UsdAmount
    charged_micros: int


class UsageReport(BaseModel):
    from_: date = Field(alias="from", description="First UTC day of the report.")
    to: date = Field(description="Last UTC day of the report (included).")
    group_by: GroupBy
    data: list[UsageLine]
    total: UsageTotal

    model_config = ConfigDict(populate_by_name=True)
