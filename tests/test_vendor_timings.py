"""Measured vendor times in the accounts DB (SQLite and PostgreSQL) and the ETAs made from them: one sample
per submit attempt however often it is recorded, p50/p90 by nearest rank over a bucket's most recent
samples, and a running job's ETA from the bucket once it has enough (the catalog's figure before)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from accounts.store import AccountStore
from core.models import (
    JobCost,
    JobSnapshot,
    JobState,
    Resolution,
    Stage,
    SubmitRequest,
    VendorTask,
    VideoSpec,
)
from core.settings import Settings
from jobs.etas import EtaBoard
from vendors.catalog import load_catalog

CATALOG = load_catalog()
VENDOR, MODEL = "local", "local-preview"
TYPICAL = CATALOG.model(VENDOR, MODEL).typical_latency_seconds  # type: ignore[union-attr]


async def finished_task(store: AccountStore, seconds: int, duration: int) -> float | None:
    """A job whose task the vendor accepted and finished ``seconds`` after that acceptance."""
    job_id = f"vid_{uuid.uuid4().hex[:26]}"
    spec = VideoSpec(prompt="p", duration_seconds=duration, resolution=Resolution.P1080)
    request = SubmitRequest(job_id=job_id, attempt_key=f"{job_id}:0", spec=spec, vendor=VENDOR, model=MODEL)
    journal = store.submit_journal()
    await journal.sending(request)
    task = VendorTask(vendor=VENDOR, model=MODEL, task_id=uuid.uuid4().hex, submitted_at=datetime.now(UTC))
    await journal.accepted(request.attempt_key, task)
    return await store.vendor_timings().record_finished(
        job_id, task, datetime.now(UTC) + timedelta(seconds=seconds)
    )


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def running(duration: int, stage: Stage, accepted_at: datetime | None = None) -> JobSnapshot:
    return JobSnapshot(
        job_id="vid_x",
        project_id="p",
        state=JobState.RUNNING,
        stage=stage,
        vendor=VENDOR,
        model=MODEL,
        spec=VideoSpec(prompt="p", duration_seconds=duration, resolution=Resolution.P1080),
        created_at=datetime.now(UTC),
        cost=JobCost(estimated_usd=0),
        vendor_accepted_at=accepted_at,
    )


def board(store: AccountStore, window: int = 5) -> EtaBoard:
    settings = Settings(eta_min_samples=3, eta_window_samples=window, eta_cache_seconds=0)
    return EtaBoard(store.vendor_timings(), CATALOG, settings)


async def test_a_task_recorded_twice_is_one_sample(account_store: AccountStore) -> None:
    job_id = f"vid_{uuid.uuid4().hex[:26]}"
    spec = VideoSpec(prompt="p", duration_seconds=41, resolution=Resolution.P1080)
    request = SubmitRequest(job_id=job_id, attempt_key=f"{job_id}:0", spec=spec, vendor=VENDOR, model=MODEL)
    journal, timings = account_store.submit_journal(), account_store.vendor_timings()
    await journal.sending(request)
    task = VendorTask(vendor=VENDOR, model=MODEL, task_id="t-twice", submitted_at=datetime.now(UTC))
    await journal.accepted(request.attempt_key, task)
    await journal.accepted(request.attempt_key, task)  # a retried submit found the same task
    first = await timings.record_finished(job_id, task, datetime.now(UTC) + timedelta(seconds=30))
    await timings.record_finished(job_id, task, datetime.now(UTC) + timedelta(seconds=90))  # a retried poll
    assert first is not None and first >= 30
    table = {b.duration_seconds: t for b, t in (await board(account_store).bucket_times()).items()}
    assert table[41].samples == 1 and table[41].p50_seconds == first


async def test_an_unjournaled_task_is_not_measured(account_store: AccountStore) -> None:
    task = VendorTask(vendor=VENDOR, model=MODEL, task_id="t-none", submitted_at=datetime.now(UTC))
    assert (
        await account_store.vendor_timings().record_finished("vid_unknown", task, datetime.now(UTC)) is None
    )


async def test_percentiles_are_nearest_rank_over_the_most_recent_window(account_store: AccountStore) -> None:
    offsets = (100, 10, 20, 30, 40, 50, 60)  # each task finishes that long after now
    recorded = [await finished_task(account_store, seconds, 42) for seconds in offsets]
    assert all(value is not None for value in recorded)
    # The window is the 5 that finished last: the 10 s and 20 s tasks finished first and fall out of it.
    by_finish = sorted(zip(offsets, recorded, strict=True), reverse=True)
    latest = [value for _, value in by_finish[:5] if value is not None]
    times = next(
        t for b, t in (await board(account_store).bucket_times()).items() if b.duration_seconds == 42
    )
    assert times.samples == 5
    assert times.p50_seconds == nearest_rank(latest, 0.5)
    assert times.p90_seconds == nearest_rank(latest, 0.9)


async def test_the_eta_is_the_catalogs_until_the_bucket_has_enough_samples(
    account_store: AccountStore,
) -> None:
    etas, now = board(account_store), datetime.now(UTC)
    for count in range(3):
        eta = await etas.estimate(running(43, Stage.GENERATING, now), now)
        assert eta is not None and eta.eta_source == "catalog"
        assert eta.expected_finish_at == now + timedelta(seconds=TYPICAL)
        await finished_task(account_store, 200 + count, 43)
    eta = await etas.estimate(running(43, Stage.GENERATING, now), now)
    assert eta is not None and eta.eta_source == "measured"


async def test_a_late_job_moves_from_p50_to_p90_then_to_now(account_store: AccountStore) -> None:
    recorded = [await finished_task(account_store, seconds, 44) for seconds in (100, 200, 300)]
    p50, p90 = nearest_rank(recorded, 0.5), nearest_rank(recorded, 0.9)  # type: ignore[arg-type]
    etas, accepted = board(account_store), datetime.now(UTC)
    for elapsed, expected in ((0, p50), (p50 + 1, p90), (p90 + 1, None)):
        now = accepted + timedelta(seconds=elapsed)
        eta = await etas.estimate(running(44, Stage.GENERATING, accepted), now)
        assert eta is not None
        if expected is None:
            assert (eta.eta_seconds, eta.expected_finish_at) == (0, now)
        else:
            assert eta.expected_finish_at == accepted + timedelta(seconds=expected)
            # Seconds until the expected finish, rounded up, as timedeltas count them (whole microseconds):
            # in floats, 300.004 - 201.004 is 99.00000000000003, which would round up to 100.
            until_finish = timedelta(seconds=expected) - timedelta(seconds=elapsed)
            assert eta.eta_seconds == math.ceil(until_finish.total_seconds())
    rehosting = await etas.estimate(running(44, Stage.REHOSTING, accepted))
    assert rehosting is not None and rehosting.eta_seconds == 0
    final = running(44, Stage.GENERATING, accepted)
    final.state = JobState.SUCCEEDED
    assert await etas.estimate(final) is None
