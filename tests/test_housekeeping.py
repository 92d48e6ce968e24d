"""Housekeeping on the real stack: the worker schedules it, and a triggered round releases stranded holds
and deletes media past retention while keeping newer media and the media of running jobs (local files on
the stack; S3 through moto with the activity run on its own)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from accounts.store import AccountStore
from activities.housekeeping import HousekeepingActivities
from core.ids import new_job_id
from core.settings import Settings
from storage import build_storage
from tests.fixtures.accounts import fetch_all
from tests.fixtures.housekeeping import run_housekeeping
from tests.fixtures.s3 import MotoS3
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.wait import wait_until
from workflows.connection import connect
from workflows.housekeeping import HousekeepingReport, housekeeping_schedule_id

DAY = 24 * 3600


@pytest.fixture(scope="module")
def hk_stack(temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("housekeeping"),
        INFRAI_HOUSEKEEPING_INTERVAL_SECONDS="3600",  # rounds come from the tests' triggers
        INFRAI_HOLD_RECONCILE_AFTER_SECONDS="1",
        INFRAI_MEDIA_RETENTION_DAYS="1",
        INFRAI_REFERENCE_IMAGE_RETENTION_DAYS="1",
    ) as running:
        yield running


def _queue(stack: Stack) -> str:
    return stack.env["INFRAI_TEMPORAL_TASK_QUEUE"]


async def _client(stack: Stack) -> Client:
    return await connect(Settings(temporal_address=stack.temporal.address))


def test_the_worker_schedules_housekeeping_and_a_restart_keeps_an_operators_pause(hk_stack: Stack) -> None:
    async def described() -> tuple[bool, timedelta, ScheduleActionStartWorkflow]:
        client = await _client(hk_stack)
        schedule = await client.get_schedule_handle(housekeeping_schedule_id(_queue(hk_stack))).describe()
        action = schedule.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        return schedule.schedule.state.paused, schedule.schedule.spec.intervals[0].every, action

    async def pause(paused: bool) -> None:
        client = await _client(hk_stack)
        handle = client.get_schedule_handle(housekeeping_schedule_id(_queue(hk_stack)))
        await (handle.pause(note="operator") if paused else handle.unpause())

    async def scheduled() -> bool:
        try:
            await described()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    wait_until(lambda: asyncio.run(scheduled()), what="the schedule")  # the worker is starting
    paused, every, action = asyncio.run(described())
    assert (paused, every) == (False, timedelta(hours=1))
    assert (action.workflow, action.task_queue) == ("Housekeeping", _queue(hk_stack))

    asyncio.run(pause(True))
    try:
        hk_stack.stop("worker")
        hk_stack.start("worker", INFRAI_HOUSEKEEPING_INTERVAL_SECONDS="1800")
        # Updated to the new interval once the worker is up, and still paused.
        wait_until(lambda: asyncio.run(described())[:2] == (True, timedelta(minutes=30)), what="update")
    finally:
        asyncio.run(pause(False))
        hk_stack.stop("worker")
        hk_stack.start("worker")


def test_a_triggered_round_releases_a_hold_whose_job_never_started(hk_stack: Stack) -> None:
    _, project_id = hk_stack.new_project()
    job_id = new_job_id()
    accounts_url = f"sqlite:///{hk_stack.data_dir / 'accounts.db'}"

    async def hold_then_housekeep() -> HousekeepingReport:
        store = await AccountStore.open(accounts_url, settings=Settings(data_dir=hk_stack.data_dir))
        try:
            await store.hold(project_id, job_id, Decimal("0.50"), request="fingerprint")
        finally:
            await store.aclose()
        await asyncio.sleep(1.2)  # past INFRAI_HOLD_RECONCILE_AFTER_SECONDS: an API that died for good
        return await run_housekeeping(await _client(hk_stack), _queue(hk_stack))

    report = asyncio.run(hold_then_housekeep())

    assert job_id in report.released_holds and report.failed_steps == []
    ledger = fetch_all(
        accounts_url, "SELECT kind, reason FROM ledger_entries WHERE job_id = :j ORDER BY entry_id", j=job_id
    )
    assert ledger == [("hold", "hold:fingerprint"), ("release", "reconciled:no_workflow")]
    sql = "SELECT held_micros FROM projects WHERE project_id = :p"
    [(held,)] = fetch_all(accounts_url, sql, p=project_id)
    assert held == 0


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def _files(media: Path, kind: str, job_id: str) -> list[Path]:
    return sorted(p for p in media.glob(f"{kind}/*/{job_id}/*") if not p.name.startswith("."))


def _put(path: Path, data: bytes, days_old: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    _age(path, days_old)
    return path


def test_a_triggered_round_deletes_media_past_retention_and_keeps_newer_media_and_running_jobs_media(
    hk_stack: Stack,
) -> None:
    media = hk_stack.data_dir / "media"
    old_job, new_job = (hk_stack.generate().json()["job_id"] for _ in range(2))
    for job_id in (old_job, new_job):
        assert hk_stack.wait_final(job_id)["state"] == "succeeded"
    old_files = _files(media, "videos", old_job)
    assert [p.name for p in old_files] == ["thumbnail.jpg", "video.mp4"]
    project_dir = old_files[0].parent.parent.name
    for path in old_files:
        _age(path, 2)
    old_reference = _put(media / "references" / project_dir / old_job / "reference.png", b"png", 2)
    young_reference = _put(media / "references" / project_dir / new_job / "reference.png", b"png", 0.5)
    running_job = new_job_id()
    running_files = [
        _put(media / "videos" / project_dir / running_job / "video.mp4", b"mp4", 3),
        _put(media / "references" / project_dir / running_job / "reference.png", b"png", 3),
    ]

    async def housekeep_beside_a_running_job() -> HousekeepingReport:
        client = await _client(hk_stack)
        # A job still running: its workflow waits on a queue no worker polls.
        handle = await client.start_workflow(
            "VideoJob", "input", id=running_job, task_queue=_queue(hk_stack) + "-nobody"
        )
        try:
            return await run_housekeeping(client, _queue(hk_stack))
        finally:
            await handle.terminate(reason="test over")

    report = asyncio.run(housekeep_beside_a_running_job())

    assert report.media is not None and report.failed_steps == []
    assert (report.media.deleted, report.media.kept_running) == (3, 2)
    assert not any(p.exists() for p in [*old_files, old_reference])
    assert [p.name for p in _files(media, "videos", new_job)] == ["thumbnail.jpg", "video.mp4"]
    assert young_reference.exists() and all(p.exists() for p in running_files)
    assert hk_stack.job(old_job)["state"] == "succeeded"  # the job's record outlives its media


def test_nothing_is_deleted_while_retention_is_off(temporal_server: TemporalServer, tmp_path: Path) -> None:
    with started_stack(temporal_server, tmp_path, ("worker",)) as stack:
        ancient = _put(tmp_path / "media" / "videos" / "proj_x" / new_job_id() / "video.mp4", b"mp4", 3650)

        async def housekeep() -> HousekeepingReport:
            return await run_housekeeping(await _client(stack), _queue(stack))

        report = asyncio.run(housekeep())

    assert report.media is not None and report.media.deleted == 0
    assert ancient.exists()


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_retention_on_s3_deletes_old_objects_of_finished_jobs_only(
    moto_s3: MotoS3, temporal_client: Client, tmp_path: Path
) -> None:
    retention_seconds = 2.0  # S3 keeps whole seconds: objects written apart by more than that
    days = retention_seconds / DAY
    settings = moto_s3.settings(
        moto_s3.new_bucket(), tmp_path, media_retention_days=days, reference_image_retention_days=days
    )
    storage = build_storage(settings)
    accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
    finished, running, young = new_job_id(), new_job_id(), new_job_id()  # finished: its workflow is gone
    handle = await temporal_client.start_workflow(
        "VideoJob", "input", id=running, task_queue=f"nobody-polls-{running}"
    )
    try:
        old = [f"videos/proj_a/{finished}/video.mp4", f"references/proj_a/{finished}/reference.png"]
        running_keys = [f"videos/proj_a/{running}/video.mp4", f"references/proj_a/{running}/reference.png"]
        for key in old + running_keys:
            await storage.put_stream(key, _one_chunk(b"media"), "application/octet-stream")
        await asyncio.sleep(retention_seconds + 1.2)
        young_key = f"videos/proj_a/{young}/video.mp4"
        await storage.put_stream(young_key, _one_chunk(b"media"), "video/mp4")
        housekeeping = HousekeepingActivities(temporal_client, accounts, storage, settings)

        expiry = await ActivityEnvironment().run(housekeeping.expire_media)

        assert (expiry.deleted, expiry.deleted_bytes, expiry.kept_running) == (2, 10, 2)
        remaining = {item.key async for item in storage.list_objects("")}
        assert remaining == {*running_keys, young_key}
    finally:
        await handle.terminate(reason="test over")
        await accounts.aclose()
        await storage.aclose()
