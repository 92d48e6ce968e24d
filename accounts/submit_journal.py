"""The vendor submit journal: one row per (job, route candidate), written before and after each submit.

Why a journal, not Temporal alone: a submit attempt that dies mid-request (worker SIGKILL, heartbeat or
start-to-close timeout) is retried by Temporal with no word of why the last attempt ended. The vendor may
have created the task without our learning its id. The journal row, committed *before* the request goes
out, tells the retry that an earlier request may have landed:

- ``sending``: a request went out and no answer was recorded (the attempt died or is still running);
- ``accepted``: the vendor answered with its task (a retry returns that task, never submits again);
- ``not_created``: the vendor answered that it made nothing (rejected, unavailable): safe to send again;
- ``unknown``: an earlier request may have created a task we cannot find: the job fails unbilled and
  the row stays for operators as a possible orphan (``GET /ops/possible-orphans``, a metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update

from accounts.database import Database
from accounts.tables import as_utc, utc_now, vendor_submits
from core.models import SubmitRequest, VendorTask


class SubmitState(StrEnum):
    SENDING = "sending"
    ACCEPTED = "accepted"
    NOT_CREATED = "not_created"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SubmitRecord:
    attempt_key: str
    job_id: str
    vendor: str
    model: str
    state: SubmitState
    task: VendorTask | None
    attempts: int
    detail: str | None
    created_at: datetime
    updated_at: datetime


class SubmitJournal:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, attempt_key: str) -> SubmitRecord | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(vendor_submits).where(vendor_submits.c.attempt_key == attempt_key))
            ).first()
        return _record(row) if row is not None else None

    async def first_sending(self, req: SubmitRequest) -> bool:
        """Record that the first request for ``req.attempt_key`` is about to go out, in one statement: True
        when no earlier attempt was journaled (the row is now ``sending``, committed), False when one was
        (nothing written: read it with ``get``, then ``sending`` once sending again is safe). A job's one
        submit costs one write instead of a read and a write (bench/RESULTS.md, P8)."""
        now = utc_now()
        async with self._db.write() as conn:
            insert = self._db.insert_or_ignore(
                vendor_submits, "attempt_key", returning=vendor_submits.c.attempt_key
            )
            inserted = (await conn.execute(insert, _sending_row(req, now))).first()
        return inserted is not None

    async def sending(self, req: SubmitRequest) -> None:
        """Record that a request is about to go out (committed before it does)."""
        now = utc_now()
        async with self._db.write() as conn:
            changed = await conn.execute(
                update(vendor_submits)
                .where(vendor_submits.c.attempt_key == req.attempt_key)
                .values(
                    state=SubmitState.SENDING.value,
                    attempts=vendor_submits.c.attempts + 1,
                    detail=None,
                    updated_at=now,
                )
            )
            if changed.rowcount == 0:
                await conn.execute(vendor_submits.insert().values(_sending_row(req, now)))

    async def accepted(self, attempt_key: str, task: VendorTask) -> None:
        """Record the vendor's task; the first acceptance's time stays (a retry finding the task again
        does not restart its vendor time)."""
        now = utc_now()
        async with self._db.write() as conn:
            await conn.execute(
                update(vendor_submits)
                .where(vendor_submits.c.attempt_key == attempt_key)
                .values(state=SubmitState.ACCEPTED.value, task=task.model_dump_json(), detail=None)
                .values(accepted_at=func.coalesce(vendor_submits.c.accepted_at, now), updated_at=now)
            )

    async def not_created(self, attempt_key: str, detail: str) -> None:
        await self._set(attempt_key, SubmitState.NOT_CREATED, detail=detail)

    async def unknown(self, attempt_key: str, detail: str) -> None:
        await self._set(attempt_key, SubmitState.UNKNOWN, detail=detail)

    async def possible_orphans(self, limit: int = 100) -> list[SubmitRecord]:
        """Submits whose outcome stayed unknown, newest first: a vendor task may exist that nobody polls."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(vendor_submits)
                .where(vendor_submits.c.state == SubmitState.UNKNOWN.value)
                .order_by(vendor_submits.c.updated_at.desc())
                .limit(limit)
            )
            return [_record(row) for row in rows]

    async def count_possible_orphans(self) -> int:
        async with self._db.read() as conn:
            total = await conn.scalar(
                select(func.count())
                .select_from(vendor_submits)
                .where(vendor_submits.c.state == SubmitState.UNKNOWN.value)
            )
        return int(total or 0)

    async def _set(
        self, attempt_key: str, state: SubmitState, *, task: str | None = None, detail: str | None = None
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(vendor_submits)
                .where(vendor_submits.c.attempt_key == attempt_key)
                .values(state=state.value, task=task, detail=detail[:300] if detail else None)
                .values(updated_at=utc_now())
            )


def _sending_row(req: SubmitRequest, now: datetime) -> dict[str, object]:
    """A new journal row for ``req``: its first request is going out."""
    return {
        "attempt_key": req.attempt_key,
        "job_id": req.job_id,
        "vendor": req.vendor,
        "model": req.model,
        "state": SubmitState.SENDING.value,
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
        "resolution": req.spec.resolution.value,
        "duration_seconds": req.spec.duration_seconds,
    }


def _record(row: object) -> SubmitRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    task = mapping["task"]
    return SubmitRecord(
        attempt_key=mapping["attempt_key"],
        job_id=mapping["job_id"],
        vendor=mapping["vendor"],
        model=mapping["model"],
        state=SubmitState(mapping["state"]),
        task=VendorTask.model_validate_json(task) if task else None,
        attempts=int(mapping["attempts"]),
        detail=mapping["detail"],
        created_at=as_utc(mapping["created_at"]),
        updated_at=as_utc(mapping["updated_at"]),
    )
