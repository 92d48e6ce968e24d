"""Holds and settlements: the statements that move credits, run inside one ``Database.write()`` each.

Idempotency comes from the ledger's unique (job_id, kind): every operation first inserts its ledger
row with ON CONFLICT DO NOTHING, and only when that row is new does it touch the project's balance. A
retried or replayed call finds the row and returns what the first call recorded.

A hold records the fingerprint of the request it was placed for (``hold:<fingerprint>``), so a second
request under the same job id (one idempotency key, another body) is told apart from a retry, and the
job that runs is always the one whose estimate was held. A hold that is settled is final: a job id
holds at most once, ever, so nothing can start under it unpaid. The one exception to "the first
settlement wins" is a hold the reconciler released (``RECONCILED``) because no job ran under it: if
a job did start after all (a retry raced the reconciler), its charge is still taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.budgets import check_caps
from accounts.database import Database
from accounts.errors import HoldConflict, HoldNotFound, HoldSettled, InsufficientCredits, ProjectNotFound
from accounts.money import from_micros
from accounts.reservation import refuse_deleted, reserve
from accounts.sqlite_trips import LEDGER_ROW, sqlite_rows
from accounts.tables import as_utc, ledger_entries, projects, vendor_submits
from accounts.views import HoldView, Settlement


@dataclass(frozen=True)
class Attribution:
    """Who placed a hold and what it pays for; copied onto the hold's release and charge."""

    key_id: str | None = None
    vendor: str | None = None
    model: str | None = None


UNATTRIBUTED = Attribution()

_REASON_LENGTH = 200
_HOLD_REASON = "hold"
# The reason prefix of releases made by the housekeeping stranded-hold step (activities/housekeeping.py).
RECONCILED = "reconciled"


async def record_entry(
    db: Database,
    conn: AsyncConnection,
    *,
    project_id: str,
    job_id: str | None,
    kind: str,
    amount_micros: int,
    reason: str,
    now: datetime,
    uncollected_micros: int = 0,
    attribution: Attribution = UNATTRIBUTED,
) -> bool:
    """Append one ledger row; False when (job_id, kind) was already recorded."""
    row = {
        "key_id": attribution.key_id,
        "vendor": attribution.vendor,
        "model": attribution.model,
        "project_id": project_id,
        "job_id": job_id,
        "kind": kind,
        "amount_micros": amount_micros,
        "uncollected_micros": uncollected_micros,
        "reason": reason[:_REASON_LENGTH],
        "created_at": now,
    }
    if db.is_sqlite:  # one trip to the driver's thread (accounts.sqlite_trips)
        return bool(await sqlite_rows(conn, LEDGER_ROW, row))
    statement = db.insert_or_ignore(ledger_entries, "job_id", "kind", returning=ledger_entries.c.entry_id)
    return (await conn.execute(statement, row)).first() is not None


async def place_hold(
    db: Database,
    conn: AsyncConnection,
    project_id: str,
    job_id: str,
    micros: int,
    now: datetime,
    *,
    request: str | None = None,
    attribution: Attribution = UNATTRIBUTED,
    unless_deleted: bool = False,
) -> int:
    """Reserve ``micros`` of the project's available credits for the job; the held amount.

    A repeat for the same ``request`` (fingerprint) holds nothing more and returns the first amount;
    another request is ``HoldConflict``; a job whose hold was settled already is ``HoldSettled``. A new
    hold that would pass a cap of the project or of ``attribution.key_id`` is ``ConcurrencyLimitExceeded``
    or ``BudgetExceeded`` (``accounts.budgets``). Several holds may be placed in one transaction (a
    batch): each one's checks count the holds placed before it. ``unless_deleted``: a deleted job's hold
    is ``HoldOfDeletedJob`` before any of these (``accounts.reservation``)."""
    reason = f"{_HOLD_REASON}:{request}" if request else _HOLD_REASON
    try:
        first = await record_entry(
            db, conn, project_id=project_id, job_id=job_id, kind="hold", amount_micros=micros,
            reason=reason, now=now, attribution=attribution,
        )  # fmt: skip
    except IntegrityError as error:  # the only constraint a valid amount can break: the project's key
        raise ProjectNotFound(project_id) from error
    if not first:
        if unless_deleted:
            await refuse_deleted(conn, job_id)
        existing = await _entry(conn, job_id, "hold")
        assert existing is not None
        if existing.project_id != project_id:
            raise ValueError(f"job {job_id} is held for another project")
        if request and existing.reason not in (reason, _HOLD_REASON):
            raise HoldConflict(job_id)
        if await _entry(conn, job_id, "release") is not None:
            raise HoldSettled(job_id)
        return int(existing.amount_micros)
    # One atomic conditional UPDATE: on PostgreSQL concurrent holds queue on the row lock and each
    # re-checks the condition against the committed balance, so exactly as many succeed as it covers.
    caps = await reserve(db, conn, project_id, attribution.key_id, micros, job_id if unless_deleted else None)
    # Raises (rolling the hold's row and the reservation back with the transaction) when a cap would be
    # passed. A cap is the answer before too few credits: without a reservation the caps are read here.
    await check_caps(conn, project_id, attribution.key_id, job_id, micros, now, caps)
    if caps is None:
        available = await _available_micros(conn, project_id)
        raise InsufficientCredits(available=from_micros(available), required=from_micros(micros))
    return micros


async def settle_hold(
    db: Database,
    conn: AsyncConnection,
    job_id: str,
    *,
    charge_micros: int,
    reason: str,
    project_id: str | None,
    now: datetime,
) -> Settlement:
    """Close the job's hold and charge it (capped at what the project can pay), exactly once."""
    hold = await _entry(conn, job_id, "hold")
    if hold is not None:
        if project_id is not None and hold.project_id != project_id:
            raise ValueError(f"job {job_id} is held for another project")
        project_id, held = str(hold.project_id), int(hold.amount_micros)
        first = await record_entry(
            db, conn, project_id=project_id, job_id=job_id, kind="release", amount_micros=held,
            reason=reason, now=now, attribution=_attribution_of(hold),
        )  # fmt: skip
        if not first:
            if not await _charge_after_reconciliation(conn, job_id, charge_micros):
                return await recorded_settlement(conn, job_id, project_id)
            held = 0  # the reconciler returned the hold already; charge the balance directly
    elif project_id is None:
        raise HoldNotFound(job_id)
    else:
        held = 0
        if charge_micros == 0 or await _entry(conn, job_id, "charge") is not None:
            return await recorded_settlement(conn, job_id, project_id)

    charged = min(charge_micros, await _payable_micros(conn, project_id, held))
    if charge_micros > 0:
        charged_first = await record_entry(
            db, conn, project_id=project_id, job_id=job_id, kind="charge", amount_micros=charged,
            uncollected_micros=charge_micros - charged, reason=reason, now=now,
            attribution=await _charge_attribution(conn, job_id, hold),
        )  # fmt: skip
        if not charged_first:
            # Only a settle that released nothing gets here (no release row serialised it with the
            # other one): a concurrent settle charged the job first.
            assert held == 0
            return await recorded_settlement(conn, job_id, project_id)
    await conn.execute(
        update(projects)
        .where(projects.c.project_id == project_id)
        .values(
            balance_micros=projects.c.balance_micros - charged,
            held_micros=projects.c.held_micros - held,
        )
    )
    return _settlement(job_id, project_id, held, charged, charge_micros - charged, reason, replayed=False)


async def _payable_micros(conn: AsyncConnection, project_id: str, held: int) -> int:
    """What the project can pay now, its row locked until commit: available credits plus this hold."""
    balance = await conn.execute(
        select(projects.c.balance_micros, projects.c.held_micros)
        .where(projects.c.project_id == project_id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: see accounts/budgets.py on deadlocks
    )
    row = balance.first()
    if row is None:
        raise ProjectNotFound(project_id)
    return int(row.balance_micros) - int(row.held_micros) + held


def _attribution_of(entry: Row[Any] | None) -> Attribution:
    if entry is None:
        return UNATTRIBUTED
    return Attribution(key_id=entry.key_id, vendor=entry.vendor, model=entry.model)


async def _charge_attribution(conn: AsyncConnection, job_id: str, hold: Row[Any] | None) -> Attribution:
    """The hold's key, and the vendor and model that made the job: the one whose submit the vendor
    accepted (the submit journal), which differs from the held route's first candidate after a failover."""
    held = _attribution_of(hold)
    accepted = (
        await conn.execute(
            select(vendor_submits.c.vendor, vendor_submits.c.model)
            .where(vendor_submits.c.job_id == job_id, vendor_submits.c.state == "accepted")
            .order_by(vendor_submits.c.updated_at.desc())
            .limit(1)
        )
    ).first()
    if accepted is None:
        return held
    return Attribution(key_id=held.key_id, vendor=str(accepted.vendor), model=str(accepted.model))


async def _charge_after_reconciliation(conn: AsyncConnection, job_id: str, charge_micros: int) -> bool:
    """Whether a job whose hold the reconciler released still owes ``charge_micros`` (not charged yet)."""
    if charge_micros <= 0:
        return False
    release = await _entry(conn, job_id, "release")
    if release is None or not str(release.reason).startswith(RECONCILED):
        return False
    return await _entry(conn, job_id, "charge") is None


async def recorded_settlement(conn: AsyncConnection, job_id: str, project_id: str) -> Settlement:
    release = await _entry(conn, job_id, "release")
    charge = await _entry(conn, job_id, "charge")
    held = int(release.amount_micros) if release is not None else 0
    charged = int(charge.amount_micros) if charge is not None else 0
    uncollected = int(charge.uncollected_micros) if charge is not None else 0
    recorded = charge if charge is not None else release
    reason = str(recorded.reason) if recorded is not None else ""
    return _settlement(job_id, project_id, held, charged, uncollected, reason, replayed=recorded is not None)


async def open_holds(conn: AsyncConnection, created_before: datetime) -> list[HoldView]:
    release = ledger_entries.alias("release")
    rows = await conn.execute(
        select(ledger_entries)
        .outerjoin(release, and_(release.c.job_id == ledger_entries.c.job_id, release.c.kind == "release"))
        .where(
            ledger_entries.c.kind == "hold",
            ledger_entries.c.created_at < created_before,
            release.c.entry_id.is_(None),
        )
        .order_by(ledger_entries.c.created_at)
    )
    return [
        HoldView(
            job_id=str(row.job_id),
            project_id=row.project_id,
            amount_usd=from_micros(row.amount_micros),
            created_at=as_utc(row.created_at),
        )
        for row in rows
    ]


async def _entry(conn: AsyncConnection, job_id: str, kind: str) -> Row[Any] | None:
    result = await conn.execute(
        select(ledger_entries).where(ledger_entries.c.job_id == job_id, ledger_entries.c.kind == kind)
    )
    return result.first()


async def _available_micros(conn: AsyncConnection, project_id: str) -> int:
    available = await conn.scalar(
        select(projects.c.balance_micros - projects.c.held_micros).where(projects.c.project_id == project_id)
    )
    if available is None:
        raise ProjectNotFound(project_id)
    return int(available)


def _settlement(
    job_id: str, project_id: str, held: int, charged: int, uncollected: int, reason: str, *, replayed: bool
) -> Settlement:
    return Settlement(
        job_id=job_id,
        project_id=project_id,
        held_usd=from_micros(held),
        charged_usd=from_micros(charged),
        released_usd=from_micros(max(held - charged, 0)),
        uncollected_usd=from_micros(uncollected),
        reason=reason,
        replayed=replayed,
    )
