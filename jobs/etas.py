"""Honest ETAs for running jobs, from measured vendor times (``accounts/vendor_timings.py``).

A job's bucket is (vendor, model, resolution, duration). Once the bucket has ``INFRAI_ETA_MIN_SAMPLES``
measured times its p50/p90 are the estimate (``eta_source: measured``); before that, the catalog's
``typical_latency_seconds`` for the model (``eta_source: catalog``). The clock starts when the vendor
accepted the task (the poll's heartbeat says when), or now while the job is still being submitted:

- ``expected_finish_at`` = start + p50; once that has passed, start + p90; once that has passed too, now
  (the job is late and we do not pretend to know by how much);
- while the video is being rehosted the vendor's part is over: ``eta_seconds`` is 0.

The per-bucket table is read from the accounts DB at most every ``INFRAI_ETA_CACHE_SECONDS``; an
unreachable DB leaves the last table (or the catalog's figures) in use rather than failing a status read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from accounts.errors import AccountsUnavailable
from accounts.vendor_timings import Bucket, BucketTimes, VendorTimings
from core.models import JobSnapshot, Stage
from core.settings import Settings
from vendors.catalog import Catalog

logger = logging.getLogger(__name__)

EtaSource = Literal["measured", "catalog"]


@dataclass(frozen=True)
class JobEta:
    eta_seconds: int
    expected_finish_at: datetime
    eta_source: EtaSource
    queue_position: int | None = None


class EtaBoard:
    """Per-bucket measured times, cached briefly, and the ETA of a running job from them."""

    def __init__(self, timings: VendorTimings, catalog: Catalog, settings: Settings) -> None:
        self._timings = timings
        self._catalog = catalog
        self._min_samples = settings.eta_min_samples
        self._window = settings.eta_window_samples
        self._ttl = settings.eta_cache_seconds
        self._table: dict[Bucket, BucketTimes] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def bucket_times(self) -> dict[Bucket, BucketTimes]:
        """Every bucket's recent measured times (cached for ``INFRAI_ETA_CACHE_SECONDS``)."""
        if self._fresh():
            return self._table
        async with self._lock:
            if not self._fresh():
                try:
                    times = await self._timings.bucket_times(self._window)
                    self._table = {entry.bucket: entry for entry in times}
                except AccountsUnavailable as err:
                    logger.warning("vendor times unavailable; ETAs use the last known (%s)", err)
                self._read_at = time.monotonic()
        return self._table

    def _fresh(self) -> bool:
        return self._read_at is not None and time.monotonic() - self._read_at < self._ttl

    async def estimate(self, snapshot: JobSnapshot, now: datetime | None = None) -> JobEta | None:
        """The ETA of a job that is not final yet; None for a final job or one whose model is unknown."""
        if snapshot.state.is_final or not snapshot.vendor or not snapshot.model or snapshot.spec is None:
            return None
        entry = self._catalog.model(snapshot.vendor, snapshot.model)
        if entry is None:
            return None
        now = now or datetime.now(UTC)
        bucket = Bucket(
            snapshot.vendor, snapshot.model, snapshot.spec.resolution.value, snapshot.spec.duration_seconds
        )
        measured = (await self.bucket_times()).get(bucket)
        source: EtaSource = "catalog"
        p50 = p90 = float(entry.typical_latency_seconds)
        if measured is not None and measured.samples >= self._min_samples:
            source, p50, p90 = "measured", measured.p50_seconds, measured.p90_seconds
        if snapshot.stage is Stage.REHOSTING:
            return JobEta(0, now, source)
        started = snapshot.vendor_accepted_at if snapshot.stage is Stage.GENERATING else None
        finish = _expected_finish(started or now, p50, p90, now)
        eta = max(0, math.ceil((finish - now).total_seconds()))
        return JobEta(eta, finish, source, snapshot.queue_position)


def _expected_finish(started: datetime, p50: float, p90: float, now: datetime) -> datetime:
    for seconds in (p50, p90):
        finish = started + timedelta(seconds=seconds)
        if finish >= now:
            return finish
    return now
