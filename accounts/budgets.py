"""Hard budgets: spend caps per UTC day and month, and concurrency caps, on a project and on each key.

A cap is a nullable column of ``projects`` / ``api_keys`` (NULL: no cap). ``check_caps`` runs inside the
hold's transaction (``ledger.place_hold``), after the hold's ledger row is written and the credits
reserved (the reservation reads the caps too: ``accounts.reservation``), so a refused hold leaves nothing
behind (the transaction rolls back).

Spend in a period is the settled charges written in it plus the open holds (no release yet) placed in it;
running jobs are open holds, whenever placed. Both are read from the ledger, whose rows carry the key
that placed the hold (copied onto its release and charge).

Atomicity: the spend is read with the project's row locked (SQLite writers are serialised already): by the
reservation's UPDATE, which takes ``FOR NO KEY UPDATE`` on it, or, when the reservation found too few
credits, by ``SELECT ... FOR NO KEY UPDATE`` here (the caps come first). Not ``FOR UPDATE``: the hold's
ledger row, inserted just before, took a ``FOR KEY SHARE`` lock on that row (its foreign key), and two
holds each waiting for ``FOR UPDATE`` against the other's key-share lock would deadlock. On PostgreSQL
concurrent holds of one project queue on that lock, and each reads the ledger after the one before it
committed (READ COMMITTED takes a fresh snapshot per statement), so no two can both see room for one. A
key belongs to one project, so the project lock serialises its key's holds too. Holds placed earlier in
the same transaction (a batch placing one hold per item) are visible to the later ones and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.errors import (
    BudgetExceeded,
    CapViolation,
    ConcurrencyLimitExceeded,
    KeyNotFound,
    ProjectNotFound,
)
from accounts.money import from_micros
from accounts.tables import api_keys, ledger_entries, projects

Scope = Literal["project", "key"]
Period = Literal["day", "month"]


@dataclass(frozen=True)
class Caps:
    """A project's or a key's caps in micro-USD and jobs; None: no cap."""

    daily_micros: int | None = None
    monthly_micros: int | None = None
    max_concurrent_jobs: int | None = None

    @property
    def any(self) -> bool:
        return any(
            cap is not None for cap in (self.daily_micros, self.monthly_micros, self.max_concurrent_jobs)
        )

    def values(self) -> dict[str, int | None]:
        return {
            "daily_cap_micros": self.daily_micros,
            "monthly_cap_micros": self.monthly_micros,
            "max_concurrent_jobs": self.max_concurrent_jobs,
        }


@dataclass(frozen=True)
class Periods:
    """The UTC day and month ``now`` is in: ``[day, next_day)`` and ``[month, next_month)``."""

    day: datetime
    next_day: datetime
    month: datetime
    next_month: datetime

    @classmethod
    def of(cls, now: datetime) -> Periods:
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        next_month = (
            month.replace(year=month.year + 1, month=1)
            if month.month == 12
            else month.replace(month=month.month + 1)
        )
        return cls(day=day, next_day=day + timedelta(days=1), month=month, next_month=next_month)


@dataclass(frozen=True)
class ScopeSpend:
    """What a project or key has running and has spent this UTC day and month (micro-USD)."""

    running_jobs: int
    day_micros: int
    month_micros: int


CAP_COLUMNS = ("daily_cap_micros", "monthly_cap_micros", "max_concurrent_jobs")


def _caps(row: object, prefix: str = "") -> Caps:
    daily, monthly, concurrent = (getattr(row, prefix + name) for name in CAP_COLUMNS)
    return Caps(daily, monthly, concurrent)


async def read_caps(conn: AsyncConnection, project_id: str, key_id: str | None) -> tuple[Caps, Caps]:
    """The project's caps and the key's (no key, or a key of another project: no caps)."""
    project = (
        await conn.execute(
            select(*(projects.c[name] for name in CAP_COLUMNS)).where(projects.c.project_id == project_id)
        )
    ).first()
    if project is None:
        raise ProjectNotFound(project_id)
    return _caps(project), await _key_caps(conn, project_id, key_id)


async def _locked_caps(conn: AsyncConnection, project_id: str, key_id: str | None) -> tuple[Caps, Caps]:
    """``read_caps`` with the project's row locked until commit (see the module docstring)."""
    project = (
        await conn.execute(
            select(*(projects.c[name] for name in CAP_COLUMNS))
            .where(projects.c.project_id == project_id)
            .with_for_update(key_share=True)
        )
    ).first()
    if project is None:
        raise ProjectNotFound(project_id)
    return _caps(project), await _key_caps(conn, project_id, key_id)


async def _key_caps(conn: AsyncConnection, project_id: str, key_id: str | None) -> Caps:
    if key_id is None:
        return Caps()
    key = (
        await conn.execute(
            select(*(api_keys.c[name] for name in CAP_COLUMNS)).where(
                api_keys.c.key_id == key_id, api_keys.c.project_id == project_id
            )
        )
    ).first()
    return Caps() if key is None else _caps(key)


async def active_key_caps(conn: AsyncConnection, project_id: str) -> list[tuple[str, Caps]]:
    """Each active (unrevoked) key of the project with its caps, oldest first."""
    keys = await conn.execute(
        select(api_keys.c.key_id, *(api_keys.c[name] for name in CAP_COLUMNS))
        .where(api_keys.c.project_id == project_id, api_keys.c.revoked_at.is_(None))
        .order_by(api_keys.c.created_at, api_keys.c.key_id)
    )
    return [(str(key.key_id), _caps(key)) for key in keys.all()]


async def set_caps(conn: AsyncConnection, project_id: str, key_id: str | None, caps: Caps) -> None:
    """Replace the project's caps (``key_id`` None) or one of its keys'. Raises ``KeyNotFound``."""
    if key_id is None:
        changed = await conn.execute(
            update(projects).where(projects.c.project_id == project_id).values(**caps.values())
        )
        if changed.rowcount == 0:
            raise ProjectNotFound(project_id)
        return
    changed = await conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, api_keys.c.project_id == project_id)
        .values(**caps.values())
    )
    if changed.rowcount == 0:
        raise KeyNotFound(key_id)


async def scope_spend(
    conn: AsyncConnection,
    project_id: str,
    key_id: str | None,
    periods: Periods,
    *,
    excluding_job: str | None = None,
    count_running: bool = True,
) -> ScopeSpend:
    """Running jobs and spend of the project (``key_id`` None) or of one key. Without ``count_running``
    only this month's rows are read (running jobs are then reported as 0)."""
    entry = ledger_entries
    release = ledger_entries.alias("release")
    is_open_hold = and_(entry.c.kind == "hold", release.c.entry_id.is_(None))
    counts = is_open_hold | (entry.c.kind == "charge")

    def spent_since(start: datetime) -> ColumnElement[int]:
        return func.coalesce(
            func.sum(case((and_(counts, entry.c.created_at >= start), entry.c.amount_micros), else_=0)), 0
        )

    conditions = [entry.c.project_id == project_id, entry.c.kind.in_(("hold", "charge"))]
    if key_id is not None:
        conditions.append(entry.c.key_id == key_id)
    if excluding_job is not None:
        conditions.append(entry.c.job_id != excluding_job)
    if not count_running:
        conditions.append(entry.c.created_at >= periods.month)
    row = (
        await conn.execute(
            select(
                func.coalesce(func.sum(case((is_open_hold, 1), else_=0)), 0),
                spent_since(periods.day),
                spent_since(periods.month),
            )
            .select_from(
                entry.outerjoin(
                    release, and_(release.c.job_id == entry.c.job_id, release.c.kind == "release")
                )
            )
            .where(*conditions)
        )
    ).one()
    return ScopeSpend(
        running_jobs=int(row[0]) if count_running else 0, day_micros=int(row[1]), month_micros=int(row[2])
    )


async def check_caps(
    conn: AsyncConnection,
    project_id: str,
    key_id: str | None,
    job_id: str,
    micros: int,
    now: datetime,
    caps: tuple[Caps, Caps] | None = None,
) -> None:
    """Refuse a new hold of ``micros`` for ``job_id`` that would pass a cap of the project or the key:
    ``ConcurrencyLimitExceeded`` first, then ``BudgetExceeded`` for the cap with the least room left.
    ``caps``: the project's and the key's, as read with the project's row locked already (the hold's
    reservation, ``accounts.reservation``); without them they are read here, taking that lock."""
    project_caps, key_caps = caps or await _locked_caps(conn, project_id, key_id)
    if not (project_caps.any or key_caps.any):
        return
    periods = Periods.of(now)
    violations: list[CapViolation] = []
    scopes: list[tuple[Scope, Caps, str | None]] = [
        ("project", project_caps, None),
        ("key", key_caps, key_id),
    ]
    for scope, scope_caps, scope_key in scopes:
        if not scope_caps.any:
            continue
        spend = await scope_spend(
            conn,
            project_id,
            scope_key,
            periods,
            excluding_job=job_id,
            count_running=scope_caps.max_concurrent_jobs is not None,
        )
        limit = scope_caps.max_concurrent_jobs
        if limit is not None and spend.running_jobs + 1 > limit:
            raise ConcurrencyLimitExceeded(scope, scope_key, limit, spend.running_jobs)
        violations += _spend_violations(scope, scope_key, scope_caps, spend, micros, periods)
    if violations:
        raise BudgetExceeded(min(violations, key=lambda violation: violation.remaining))


def _spend_violations(
    scope: Scope, key_id: str | None, caps: Caps, spend: ScopeSpend, micros: int, periods: Periods
) -> list[CapViolation]:
    found = []
    windows: list[tuple[Period, int | None, int, datetime]] = [
        ("day", caps.daily_micros, spend.day_micros, periods.next_day),
        ("month", caps.monthly_micros, spend.month_micros, periods.next_month),
    ]
    for period, cap, spent, resets_at in windows:
        if cap is not None and spent + micros > cap:
            found.append(
                CapViolation(
                    scope=scope,
                    key_id=key_id,
                    period=period,
                    cap=from_micros(cap),
                    spent=from_micros(spent),
                    remaining=from_micros(max(cap - spent, 0)),
                    required=from_micros(micros),
                    resets_at=resets_at,
                )
            )
    return found
