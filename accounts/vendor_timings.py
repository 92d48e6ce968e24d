"""Measured vendor times: how long each vendor took from accepting a task to finishing it, per bucket.

A bucket is (vendor, model, resolution, duration): what decides how long a generation takes. The poll
activity records a task's time when it first sees the task finished (``record_finished``): the start is
the acceptance the submit journal recorded (``vendor_submits.accepted_at``, written once, so a retried
submit that finds the same task does not restart the clock), the end is that poll. A poll retried after it
recorded (a worker died before the workflow heard the outcome) records nothing new: one row per submit
attempt. ``bucket_times`` answers each bucket's p50/p90 over its most recent samples (nearest rank: each
percentile is a time that was actually measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from accounts.database import Database
from accounts.tables import as_utc, vendor_submits, vendor_timings
from core.models import VendorTask


@dataclass(frozen=True)
class Bucket:
    vendor: str
    model: str
    resolution: str
    duration_seconds: int


@dataclass(frozen=True)
class BucketTimes:
    """A bucket's recent measured vendor times: how many, and their p50/p90 in seconds."""

    bucket: Bucket
    samples: int
    p50_seconds: float
    p90_seconds: float


def nearest_rank(ordered: list[int], fraction: float) -> int:
    """The nearest-rank percentile of ascending ``ordered``: the smallest value with at least ``fraction``
    of the values at or below it."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


class VendorTimings:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_finished(self, job_id: str, task: VendorTask, finished_at: datetime) -> float | None:
        """Record ``task``'s vendor time, ending ``finished_at``; the seconds recorded, or None when the
        journal has no acceptance of it (a job started before the journal knew buckets)."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(vendor_submits).where(
                    vendor_submits.c.job_id == job_id,
                    vendor_submits.c.vendor == task.vendor,
                    vendor_submits.c.model == task.model,
                    vendor_submits.c.state == "accepted",
                )
            )
            row = next((r._mapping for r in rows if _task_id(r._mapping["task"]) == task.task_id), None)
        if row is None or row["resolution"] is None or row["duration_seconds"] is None:
            return None
        accepted = as_utc(row["accepted_at"]) if row["accepted_at"] is not None else task.submitted_at
        vendor_ms = max(0, round((finished_at - accepted).total_seconds() * 1000))
        async with self._db.statistics() as conn:  # an ETA sample: no wait for the disk
            await conn.execute(
                self._db.insert_or_ignore(vendor_timings, "attempt_key"),
                {
                    "attempt_key": row["attempt_key"],
                    "job_id": job_id,
                    "vendor": task.vendor,
                    "model": task.model,
                    "resolution": row["resolution"],
                    "duration_seconds": row["duration_seconds"],
                    "accepted_at": accepted,
                    "finished_at": finished_at,
                    "vendor_ms": vendor_ms,
                },
            )
        return vendor_ms / 1000

    async def bucket_times(self, window: int) -> list[BucketTimes]:
        """Every bucket's p50/p90 over its ``window`` most recent samples."""
        t = vendor_timings.c
        bucket_columns = (t.vendor, t.model, t.resolution, t.duration_seconds)
        recency = func.row_number().over(partition_by=bucket_columns, order_by=t.finished_at.desc())
        ranked = select(*bucket_columns, t.vendor_ms, recency.label("recency")).subquery()
        query = select(ranked).where(ranked.c.recency <= window)
        samples: dict[Bucket, list[int]] = {}
        async with self._db.read() as conn:
            for row in await conn.execute(query):
                bucket = Bucket(row.vendor, row.model, row.resolution, int(row.duration_seconds))
                samples.setdefault(bucket, []).append(int(row.vendor_ms))
        return [_times(bucket, sorted(values)) for bucket, values in samples.items()]


def _times(bucket: Bucket, ordered: list[int]) -> BucketTimes:
    return BucketTimes(
        bucket=bucket,
        samples=len(ordered),
        p50_seconds=nearest_rank(ordered, 0.5) / 1000,
        p90_seconds=nearest_rank(ordered, 0.9) / 1000,
    )


def _task_id(task_json: str | None) -> str | None:
    return VendorTask.model_validate_json(task_json).task_id if task_json else None
