"""A deploy with jobs in flight, on the real stack: build A's worker stops mid-job and build B's takes over.

Build B is ``tests.histories.next_build``: today's ``VideoJob`` plus one activity before settling. Jobs are
held at every point a deploy can meet them: generating (the vendor emulator holds its task), rehosting (the
output trickles out), settling (the ledger is locked, so ``settle_job`` retries: the job's history is
already past the point where B differs), and after the end (a webhook receiver answering 500 keeps the
``WebhookDelivery`` child retrying).

- B with the change behind ``workflow.patched``: every job finishes, each with one vendor task, one hold
  and one settlement; the jobs that reached the change on B ran the new activity, the one already past it
  replayed without it.
- B with the same change unpatched: the job past the change fails its workflow task (non-determinism) and
  stays running; rolling back to A finishes every job, nothing lost or done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.enums.v1.task_queue_pb2 import ROUTING_CONFIG_UPDATE_STATE_COMPLETED
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeWorkerDeploymentRequest
from temporalio.client import Client, WorkflowExecutionStatus

from core.models import JobState
from core.settings import Settings
from devstack.temporal_server import temporal_binary
from tests.emulators import runway
from tests.emulators.scenario import EmulatorState
from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.survival import TRIAL_CREDITS_USD
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.histories.next_build import AUDIT
from tests.job_invariants import check_ledger, check_media
from tests.wait import wait_until
from workflows.connection import connect
from workflows.video_job import SETTLE
from workflows.webhook_delivery import webhook_workflow_id

RUNWAY_JOB = {"vendor": "runway", "model": "gen4.5", "duration_seconds": 2}
LOCAL_JOB = {"vendor": "local", "duration_seconds": 1}


class LedgerLock:
    """An exclusive lock on the embedded accounts DB: every settle fails "database is locked" and retries,
    as in an accounts outage, until released. Readers (API authentication) are unaffected (WAL)."""

    def __init__(self, db_file: Path) -> None:
        self._conn = sqlite3.connect(db_file, isolation_level=None, timeout=30)
        self._conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):  # released already
            self._conn.rollback()
            self._conn.close()


@dataclass
class Deploy:
    """The module's stack, its Runway emulator, and the jobs one test started in a project of its own."""

    stack: Stack
    runway: EmulatorServer
    runway_state: EmulatorState
    receiver: WebhookReceiver
    temporal: Client
    key: str = ""
    project_id: str = ""
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> its prompt
    local_before: int = 0
    runway_before: int = 0
    locks: list[LedgerLock] = field(default_factory=list)

    def new_batch(self) -> None:
        self.key, self.project_id = self.stack.new_project()
        self.jobs = {}
        self.local_before = self.stack.vendor_stats()["submissions"]
        self.runway_before = self.runway_state.counters.get("submissions", 0)

    def start(self, label: str, body: dict[str, Any], **extra: Any) -> str:
        prompt = f"{label} {self.project_id}"
        response = self.stack.generate(self.key, prompt=prompt, **body, **extra)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        self.jobs[job_id] = prompt
        return job_id

    def wait_stage(self, job_id: str, stage: str) -> None:
        self.stack.wait_for(job_id, lambda job: job["stage"] == stage, timeout=30, key=self.key)

    def lock_ledger_once_submitted(self, job_ids: list[str]) -> LedgerLock:
        """Lock the ledger once the jobs' vendor tasks exist (the submit journals them in the same DB), so
        the jobs go on generating and rehosting and stop at their settle."""
        for job_id in job_ids:
            self.stack.wait_for(job_id, lambda job: job["stage"] in ("generating", "rehosting"), 30, self.key)
        self.locks.append(LedgerLock(self.stack.data_dir / "accounts.db"))
        return self.locks[-1]

    def run_build(self, build: str, workflow: str | None = None) -> None:
        """Replace the running worker (SIGTERM, as a deploy does) with ``build``: today's worker, or the
        next release's with its ``patched``/``unpatched`` workflow."""
        self.stack.stop("worker")
        self.stack.modules["worker"] = "tests.histories.next_build" if workflow else "worker"
        overrides = {"INFRAI_BUILD_ID": build}
        if workflow:
            overrides["NEXT_BUILD_WORKFLOW"] = workflow
        self.stack.start("worker", **overrides)

    def history(self, workflow_id: str) -> list[HistoryEvent]:
        async def fetch() -> list[HistoryEvent]:
            handle = self.temporal.get_workflow_handle(workflow_id)
            return [event async for event in handle.fetch_history_events()]

        return asyncio.run(fetch())

    def status(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        async def describe() -> WorkflowExecutionStatus | None:
            return (await self.temporal.get_workflow_handle(workflow_id).describe()).status

        return asyncio.run(describe())

    def settle_scheduled(self, job_id: str) -> bool:
        return any(
            event.activity_task_scheduled_event_attributes.activity_type.name == SETTLE
            for event in self.history(job_id)
        )

    def check_all_succeeded(self) -> dict[str, dict[str, Any]]:
        """Every job succeeded with one vendor task, one complete video and one settlement."""
        jobs = {job_id: self.stack.wait_final(job_id, 60, self.key) for job_id in self.jobs}
        ended = {job_id: (job["state"], self.jobs[job_id], job["error"]) for job_id, job in jobs.items()}
        assert [state for state, _, _ in ended.values()] == ["succeeded"] * len(jobs), ended
        local = [job_id for job_id, job in jobs.items() if job["vendor"] == "local"]
        stats = self.stack.vendor_stats()
        assert [stats["by_idempotency_key"].get(f"{job_id}-0") for job_id in local] == [1] * len(local)
        assert stats["submissions"] - self.local_before == len(local)
        remote = [prompt for job_id, prompt in self.jobs.items() if job_id not in local]
        tasks = [task.body.get("promptText") for task in self.runway_state.tasks.values()]
        assert [tasks.count(prompt) for prompt in remote] == [1] * len(remote)
        assert self.runway_state.counters.get("submissions", 0) - self.runway_before == len(remote)
        check_media(self.stack.data_dir / "media", self.project_id, jobs)
        check_ledger(f"sqlite:///{self.stack.data_dir / 'accounts.db'}", self.project_id, jobs)
        return jobs


def _activities(events: list[HistoryEvent]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def _builds(events: list[HistoryEvent]) -> list[str]:
    """The build that completed each workflow task, in order."""
    return [
        e.workflow_task_completed_event_attributes.worker_version.build_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]


def _nondeterminism_failures(events: list[HistoryEvent]) -> int:
    cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
    return sum(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        and e.workflow_task_failed_event_attributes.cause == cause
        for e in events
    )


@pytest.fixture(scope="module")
def deploy_stack(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    webhook_receiver: WebhookReceiver,
) -> Iterator[Deploy]:
    state = EmulatorState()
    emulator = EmulatorServer("runway", runway.create_app(state)).start()
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("rolling-upgrade"),
        RUNWAYML_API_SECRET=runway.API_KEY,
        INFRAI_RUNWAY_BASE_URL=emulator.base_url,
        INFRAI_ALLOW_PRIVATE_URLS="true",
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{webhook_receiver.port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
        INFRAI_TRIAL_CREDITS_USD=TRIAL_CREDITS_USD,
        # A locked ledger answers "database is locked" after 1 s and the settle retries a second later.
        INFRAI_DATABASE_CONNECT_TIMEOUT_SECONDS="1",
        INFRAI_ACCOUNTS_RETRY_AFTER_SECONDS="1",
        INFRAI_BUILD_ID="A",
    ) as stack:
        client = asyncio.run(connect(Settings(temporal_address=temporal_server.address)))
        yield Deploy(stack, emulator, state, webhook_receiver, client)
    emulator.stop()


@pytest.fixture
def deploy(deploy_stack: Deploy) -> Iterator[Deploy]:
    deploy_stack.runway.reset()
    deploy_stack.new_batch()
    yield deploy_stack
    for lock in deploy_stack.locks:  # a test that failed midway must not leave the ledger locked
        lock.release()
    if deploy_stack.stack.modules["worker"] != "worker":  # leave build A running for the next test
        deploy_stack.run_build("A")


def _hold_jobs_at_every_stage(deploy: Deploy, hook: str) -> tuple[str, str, str, str, LedgerLock]:
    """On build A: a job done whose webhook retries, one rehosting, one generating, one settling."""
    deploy.receiver.answer(hook, 500)
    hooked = deploy.start("hooked", LOCAL_JOB, webhook_url=deploy.receiver.url(hook))
    deploy.stack.wait_final(hooked, 60, deploy.key)
    deploy.receiver.wait_for(hook, lambda hooks: len(hooks) >= 1)

    deploy.runway.configure(download_seconds=60)
    rehosting = deploy.start("rehosting", RUNWAY_JOB)
    deploy.wait_stage(rehosting, "rehosting")
    deploy.runway.configure(download_seconds=60, hold=True)
    generating = deploy.start("generating", RUNWAY_JOB)
    deploy.wait_stage(generating, "generating")

    settling = deploy.start("settling", LOCAL_JOB)
    lock = deploy.lock_ledger_once_submitted([settling])
    wait_until(lambda: deploy.settle_scheduled(settling), what="the settle under way on build A")
    return hooked, rehosting, generating, settling, lock


def test_a_patched_workflow_change_deploys_under_jobs_in_flight(deploy: Deploy) -> None:
    started = time.monotonic()
    hook = "/rolling-patched"
    hooked, rehosting, generating, settling, lock = _hold_jobs_at_every_stage(deploy, hook)

    deploy.run_build("B", "patched")
    deploy.runway.configure(download_seconds=0)  # release generation and the rehost
    lock.release()
    deploy.receiver.answer(hook, 200)

    deploy.check_all_succeeded()
    delivery = webhook_workflow_id(hooked, JobState.SUCCEEDED)
    wait_until(lambda: deploy.status(delivery) == WorkflowExecutionStatus.COMPLETED, what="the delivery")
    histories = {job_id: deploy.history(job_id) for job_id in deploy.jobs}
    for job_id in (rehosting, generating):  # reached the change on B: ran it, and B finished the job
        assert _activities(histories[job_id]).count(AUDIT) == 1
        assert _builds(histories[job_id])[-1] == "B"
    # Already past the change when A stopped: B replayed it without the new step, then finished it.
    assert AUDIT not in _activities(histories[settling]) and _builds(histories[settling])[-1] == "B"
    assert [_nondeterminism_failures(events) for events in histories.values()] == [0] * len(histories)
    print(f"patched upgrade: {len(deploy.jobs)} jobs, A -> B, {time.monotonic() - started:.1f}s")


def test_an_unpatched_change_strands_jobs_until_rolled_back_and_none_is_lost(deploy: Deploy) -> None:
    started = time.monotonic()
    deploy.runway.configure(hold=True)
    generating = deploy.start("generating", RUNWAY_JOB)
    deploy.wait_stage(generating, "generating")
    settling = [deploy.start(f"settling {n}", LOCAL_JOB) for n in range(2)]
    lock = deploy.lock_ledger_once_submitted(settling)
    wait_until(lambda: all(map(deploy.settle_scheduled, settling)), what="the settles under way on A")

    deploy.run_build("B", "unpatched")
    lock.release()  # the settles complete: B must replay those jobs past the point where it differs
    wait_until(
        lambda: all(_nondeterminism_failures(deploy.history(job_id)) for job_id in settling),
        what="B failing each settling job's workflow task",
    )
    assert [deploy.status(job_id) for job_id in deploy.jobs] == [WorkflowExecutionStatus.RUNNING] * 3

    deploy.run_build("A")  # roll back
    deploy.runway.configure(hold=False)

    deploy.check_all_succeeded()
    for job_id in deploy.jobs:
        events = deploy.history(job_id)
        assert AUDIT not in _activities(events) and _builds(events)[-1] == "A"
    print(f"unpatched upgrade and rollback: {len(deploy.jobs)} jobs, A -> B -> A, "
          f"{time.monotonic() - started:.1f}s")  # fmt: skip


def _deployment_cli(deploy: Deploy, *args: str) -> subprocess.CompletedProcess[str]:
    address = deploy.stack.env["INFRAI_TEMPORAL_ADDRESS"]
    argv = [temporal_binary(), "worker", "deployment", *args, "--address", address]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def _make_current(deploy: Deploy, deployment: str, build: str) -> None:
    """What the operator types; retried until the version's first poll has registered it. Then what an
    operator's rollout script waits for before it counts on the new build: the server propagates the routing
    change to the task queue's partitions after the command returns, and until it has, a workflow task can
    still go to the old build."""
    args = ("set-current-version", "--deployment-name", deployment, "--build-id", build, "--yes")
    wait_until(lambda: _deployment_cli(deploy, *args).returncode == 0, what=f"{build} made current")
    wait_until(lambda: _routing_settled(deploy, deployment, build), what=f"routing to {build} propagated")


def _routing_settled(deploy: Deploy, deployment: str, build: str) -> bool:
    """True once ``build`` is current and the server says the change reached every partition of the queue
    (the CLI's describe does not print that state, so this asks the server directly)."""

    async def describe() -> bool:
        client = deploy.temporal
        request = DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
        info = (await client.workflow_service.describe_worker_deployment(request)).worker_deployment_info
        current = info.routing_config.current_deployment_version.build_id
        return current == build and info.routing_config_update_state == ROUTING_CONFIG_UPDATE_STATE_COMPLETED

    return asyncio.run(describe())


def test_with_worker_versioning_a_job_moves_to_the_build_made_current(deploy: Deploy) -> None:
    """The opt-in: INFRAI_WORKER_VERSIONING=true (auto-upgrade). Two builds run side by side; a job in flight
    on A continues on B once B is made current, so B's change still needs its patch (it has one here)."""
    started = time.monotonic()
    queue, deployment = f"versioned-{uuid.uuid4().hex[:8]}", f"infrai-test-{uuid.uuid4().hex[:8]}"
    versioned = {
        "INFRAI_TEMPORAL_TASK_QUEUE": queue,
        "INFRAI_WORKER_VERSIONING": "true",
        "INFRAI_DEPLOYMENT_NAME": deployment,
    }
    stack = deploy.stack
    stack.stop("worker")
    stack.start("worker", INFRAI_BUILD_ID="A", **versioned)
    stack.stop("api")
    stack.start("api", INFRAI_TEMPORAL_TASK_QUEUE=queue)
    stack.modules["worker-b"] = "tests.histories.next_build"
    try:
        _make_current(deploy, deployment, "A")
        deploy.runway.configure(hold=True)
        job_id = deploy.start("versioned", RUNWAY_JOB)
        deploy.wait_stage(job_id, "generating")

        stack.start("worker-b", INFRAI_BUILD_ID="B", NEXT_BUILD_WORKFLOW="patched", **versioned)
        _make_current(deploy, deployment, "B")
        deploy.runway.configure(hold=False)

        deploy.check_all_succeeded()
        events = deploy.history(job_id)
        assert _activities(events).count(AUDIT) == 1  # B finished it
        described = _deployment_cli(deploy, "describe", "--name", deployment).stdout
        assert "draining" in described  # A: no new job goes there, and it says so
    finally:  # back to the unversioned stack on its own queue for whatever runs next
        for name in ("worker-b", "worker", "api"):
            stack.stop(name)
        stack.start("api")
        stack.start("worker")
    print(f"versioned upgrade: 1 job, A -> B by set-current-version, {time.monotonic() - started:.1f}s")
