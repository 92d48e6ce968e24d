"""A job whose workflow task keeps failing (here: a deliberately broken ``VideoJob``, as a bad deploy or a
non-determinism would make it) shows in ``/ops/stuck-jobs`` and ``infrai_stuck_jobs``; housekeeping
reports it and keeps its hold, until it has been stuck past the limit: then it terminates it and releases
the hold. The API and Temporal are the real ones; the broken workflow and housekeeping run on a worker in
this process, on the API's task queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from accounts.store import AccountStore
from activities.housekeeping import HousekeepingActivities
from core.ids import new_job_id
from core.settings import Settings
from observability.stuck_jobs import find_stuck_jobs
from storage import build_storage
from tests.fixtures.accounts import fetch_all
from tests.fixtures.housekeeping import run_housekeeping
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer, launch_temporal_server
from workflows.connection import connect
from workflows.housekeeping import (
    HousekeepingWorkflow,
    ensure_housekeeping_schedule,
    housekeeping_schedule_id,
)

# The server flags a workflow after this many consecutive failed workflow tasks (its default is 5, which
# with the retries ~10 s apart took about a minute); on this module's own server, after two.
FLAGGED_AFTER_FAILED_TASKS = 2
LISTED_WITHIN_SECONDS = 180.0


@workflow.defn(name="VideoJob")
class BrokenVideoJob:
    @workflow.run
    async def run(self, _: str) -> None:
        raise RuntimeError("deliberately broken: every workflow task of this job fails")


@pytest.fixture(scope="module")
def flagging_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalServer]:
    """A dev server of this module's own, flagging a job after ``FLAGGED_AFTER_FAILED_TASKS`` failed tasks."""
    flag_after = {
        "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute": str(FLAGGED_AFTER_FAILED_TASKS)
    }
    server = launch_temporal_server(tmp_path_factory.mktemp("stuck-temporal"), dynamic_config=flag_after)
    yield server
    server.process.stop(timeout=10)


@pytest.fixture(scope="module")
def api_only(flagging_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(flagging_server, tmp_path_factory.mktemp("stuck"), ("api",)) as running:
        yield running


async def _listed(api_url: str, client: Client, queue: str, job_id: str) -> dict[str, Any]:
    """The job as ``/ops/stuck-jobs`` lists it. Asked once Temporal's visibility shows the job flagged: the
    API keeps its answer for 30 s, and an answer from before the flag would hold the test up that long."""
    deadline = time.monotonic() + LISTED_WITHIN_SECONDS
    while job_id not in {job.job_id for job in await find_stuck_jobs(client, queue)}:
        if time.monotonic() > deadline:
            raise AssertionError(f"Temporal did not flag {job_id} within {LISTED_WITHIN_SECONDS:g}s")
        await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        while time.monotonic() < deadline:
            body = (await http.get("/ops/stuck-jobs")).raise_for_status().json()
            for job in body["stuck_jobs"]:
                if job["job_id"] == job_id:
                    return dict(job)
            await asyncio.sleep(1)
    raise AssertionError(f"{job_id} not listed as stuck within {LISTED_WITHIN_SECONDS:g}s")


def _ledger(accounts_url: str, job_id: str) -> list[tuple[str, str]]:
    sql = "SELECT kind, reason FROM ledger_entries WHERE job_id = :j ORDER BY entry_id"
    return [(str(kind), str(reason)) for kind, reason in fetch_all(accounts_url, sql, j=job_id)]


async def test_a_job_whose_workflow_task_keeps_failing_is_reported_then_terminated_with_its_hold_released(
    api_only: Stack, flagging_server: TemporalServer
) -> None:
    temporal_client = await connect(Settings(temporal_address=flagging_server.address))
    queue = api_only.env["INFRAI_TEMPORAL_TASK_QUEUE"]
    settings = Settings(
        data_dir=api_only.data_dir, temporal_task_queue=queue, stuck_job_terminate_after_hours=24
    )
    _, project_id = await asyncio.to_thread(api_only.new_project)
    job_id = new_job_id()
    accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
    storage = build_storage(settings)
    housekeeping = HousekeepingActivities(temporal_client, accounts, storage, settings)
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[BrokenVideoJob, HousekeepingWorkflow],
        activities=[
            housekeeping.handle_stuck_jobs,
            housekeeping.release_stranded_holds,
            housekeeping.expire_media,
        ],
        workflow_runner=UnsandboxedWorkflowRunner(),  # the broken class lives in this test module
    )
    try:
        await accounts.hold(project_id, job_id, Decimal("0.30"), request="fingerprint")
        async with worker:
            await ensure_housekeeping_schedule(temporal_client, queue, timedelta(hours=1))
            handle = await temporal_client.start_workflow("VideoJob", "input", id=job_id, task_queue=queue)

            listed = await _listed(api_only.api_url, temporal_client, queue, job_id)
            assert listed["workflow_task_attempts"] >= 2
            assert "category=WorkflowTaskFailed" in listed["problems"]
            async with httpx.AsyncClient(base_url=api_only.api_url, timeout=30) as http:
                metrics = (await http.get("/metrics")).text
            assert "infrai_stuck_jobs 1.0" in metrics.splitlines()

            # Stuck for less than the limit: reported, left running, its hold kept.
            report = await run_housekeeping(temporal_client, queue)
            assert report.stuck is not None
            assert (report.stuck.stuck, report.stuck.terminated) == ([job_id], [])
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            assert [kind for kind, _ in _ledger(settings.resolved_database_url, job_id)] == ["hold"]

            settings.stuck_job_terminate_after_hours = 1e-6  # the operator's limit, now passed
            report = await run_housekeeping(temporal_client, queue)
            assert report.stuck is not None and report.stuck.terminated == [job_id]
            assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
            assert _ledger(settings.resolved_database_url, job_id)[-1] == (
                "release",
                "reconciled:stuck_terminated",
            )
    finally:
        await temporal_client.get_schedule_handle(housekeeping_schedule_id(queue)).delete()
        await storage.aclose()
        await accounts.aclose()
