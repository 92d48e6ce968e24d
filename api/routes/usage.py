"""``GET /v1/account/usage``: what the project was charged, from the ledger, grouped by UTC day, vendor,
model or API key.

``from`` and ``to`` are UTC days, both included (default: the first of this month to today); at most
366 days. A job counts on the day its charge was settled. JSON by default; CSV with ``format=csv`` or
``Accept: text/csv`` (one header line, then one line per group, no total line). A bad parameter is
``422`` problem JSON.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from accounts.money import format_usd, from_micros
from accounts.usage import GroupBy, UsageRow
from api.account_schemas import UsageLine, UsageReport, UsageTotal
from api.deps import AccountsDep, CurrentProject
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode

router = APIRouter(tags=["accounts"])

MAX_REPORT_DAYS = 366
CSV_MEDIA_TYPE = "text/csv"
_GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "vendor": ("vendor",),
    "model": ("vendor", "model"),
    "key": ("key_id",),
}


def _days(start: date | None, end: date | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    start = start or today.replace(day=1)
    end = end or today
    if start > end:
        raise ProblemError(422, ErrorCode.INVALID_INPUT, "'from' must not be after 'to'.")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise ProblemError(
            422, ErrorCode.INVALID_INPUT, f"A report covers at most {MAX_REPORT_DAYS} days; ask in parts."
        )
    return start, end


def _line(row: UsageRow) -> UsageLine:
    return UsageLine(
        day=date.fromisoformat(row.day) if row.day else None,
        vendor=row.vendor,
        model=row.model,
        key_id=row.key_id,
        jobs=row.jobs,
        charged_usd=from_micros(row.charged_micros),
        charged_micros=row.charged_micros,
    )


def _csv(report: UsageReport) -> str:
    columns = _GROUP_COLUMNS[report.group_by]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*columns, "jobs", "charged_usd", "charged_micros"])
    for line in report.data:
        fields = line.model_dump(mode="json")
        group = ["" if fields[column] is None else fields[column] for column in columns]
        writer.writerow([*group, line.jobs, format_usd(line.charged_usd), line.charged_micros])
    return out.getvalue()


@router.get(
    "/v1/account/usage",
    response_model=UsageReport,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "JSON or CSV"},
        **problem_responses(401, 422, 503),
    },
)
async def read_usage(
    project: CurrentProject,
    accounts: AccountsDep,
    start: Annotated[
        date | None, Query(alias="from", description="First UTC day (default: the 1st).")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="Last UTC day, included (default: today).")
    ] = None,
    group_by: Annotated[GroupBy, Query(description="How to group the charges.")] = "day",
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="csv: same as Accept: text/csv.")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The project's charges in a range of UTC days, grouped, with the total."""
    first, last = _days(start, end)
    window_start = datetime.combine(first, time(), tzinfo=UTC)
    window_end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    rows = await accounts.budget_book().usage(project.project_id, window_start, window_end, group_by)
    total = sum(row.charged_micros for row in rows)
    report = UsageReport(
        from_=first,
        to=last,
        group_by=group_by,
        data=[_line(row) for row in rows],
        total=UsageTotal(
            jobs=sum(row.jobs for row in rows), charged_usd=from_micros(total), charged_micros=total
        ),
    )
    wants_csv = format == "csv" or (format is None and CSV_MEDIA_TYPE in (accept or "").lower())
    if wants_csv:
        filename = f"usage-{first.isoformat()}-{last.isoformat()}-{group_by}.csv"
        return Response(
            _csv(report),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(report.model_dump_json(by_alias=True), media_type="application/json")
