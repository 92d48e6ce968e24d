"""What a project was charged, from the ledger's ``charge`` rows: totals, and the usage report grouped by
UTC day, vendor, model or API key (``GET /v1/account/usage``).

A job counts where and when its charge was written (at settlement), attributed to the key that placed
its hold and the vendor/model that made it (``accounts.ledger.Attribution``). Rows written before the
budgets revision name no key, vendor or model: they group under None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.money import from_micros
from accounts.tables import ledger_entries
from accounts.views import UsageTotals

GroupBy = Literal["day", "vendor", "model", "key"]
GROUP_BY_VALUES: tuple[GroupBy, ...] = ("day", "vendor", "model", "key")

_CHARGED = (ledger_entries.c.kind == "charge", ledger_entries.c.amount_micros > 0)


@dataclass(frozen=True)
class UsageRow:
    """One group of the report; the fields the grouping does not use are None (``model`` rows name their
    vendor too: model names are only unique per vendor)."""

    day: str | None
    vendor: str | None
    model: str | None
    key_id: str | None
    jobs: int
    charged_micros: int


async def usage_totals(conn: AsyncConnection, project_id: str) -> UsageTotals:
    row = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(ledger_entries.c.amount_micros), 0)).where(
                ledger_entries.c.project_id == project_id, *_CHARGED
            )
        )
    ).one()
    return UsageTotals(jobs_charged=int(row[0]), charged_usd=from_micros(int(row[1])))


def _utc_day(conn: AsyncConnection) -> ColumnElement[Any]:
    """``YYYY-MM-DD`` of a row's UTC day. SQLite keeps our (always UTC) timestamps as ISO text."""
    created_at = ledger_entries.c.created_at
    if conn.dialect.name == "sqlite":
        return func.substr(created_at, 1, 10)
    return func.to_char(func.timezone("UTC", created_at), "YYYY-MM-DD")


def _group_columns(conn: AsyncConnection, group_by: GroupBy) -> dict[str, ColumnElement[Any]]:
    entry = ledger_entries.c
    if group_by == "day":
        return {"day": _utc_day(conn)}
    if group_by == "model":
        return {"vendor": entry.vendor, "model": entry.model}
    return {"vendor": entry.vendor} if group_by == "vendor" else {"key_id": entry.key_id}


async def usage_report(
    conn: AsyncConnection, project_id: str, start: datetime, end: datetime, group_by: GroupBy
) -> list[UsageRow]:
    """The project's charges written in ``[start, end)``, one row per group, in group order."""
    columns = _group_columns(conn, group_by)
    keys = [column.label(name) for name, column in columns.items()]
    rows = await conn.execute(
        select(*keys, func.count().label("jobs"), func.sum(ledger_entries.c.amount_micros).label("micros"))
        .where(
            ledger_entries.c.project_id == project_id,
            ledger_entries.c.created_at >= start,
            ledger_entries.c.created_at < end,
            *_CHARGED,
        )
        .group_by(*columns.values())
        .order_by(*columns.values())
    )
    report = []
    for row in rows:
        named = row._mapping
        report.append(
            UsageRow(
                day=named.get("day"),
                vendor=named.get("vendor"),
                model=named.get("model"),
                key_id=named.get("key_id"),
                jobs=int(row.jobs),
                charged_micros=int(row.micros),
            )
        )
    return report
