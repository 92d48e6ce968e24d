"""A job's deadline inside the ``VideoJob`` workflow, on the real time-skipping test server with the stand-in
activities of ``tests/test_workflow_semantics.py`` (registered under the real names; the workflow itself is
never patched). The deadline cancels through the customer's cancel path, so each test mirrors a cancel test
there, with the deadline instead of ``handle.cancel()``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.errors import ErrorCode
from core.models import JobInput, JobSnapshot, JobState, VendorCancel, VideoSpec
from tests.test_workflow_semantics import ROUTE, Harness, Script, StandIns
from workflows.video_job import (
    POLL_QUEUE_SUFFIX,
    REHOST_QUEUE_SUFFIX,
    STATUS_QUERY,
    WORKFLOW_NAME,
    VideoJobWorkflow,
)

DEADLINE = 5


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    script = Script()
    task_queue = f"wf-{uuid.uuid4().hex[:8]}"
    stand_ins = StandIns(script)
    client = time_skipping_env.client
    async with (
        Worker(client, task_queue=task_queue, workflows=[VideoJobWorkflow], activities=stand_ins.all()),
        Worker(client, task_queue=task_queue + POLL_QUEUE_SUFFIX, activities=[stand_ins.poll]),
        Worker(client, task_queue=task_queue + REHOST_QUEUE_SUFFIX, activities=[stand_ins.rehost]),
    ):
        yield Harness(client, script, task_queue)


async def _start(harness: Harness, deadline_seconds: int = DEADLINE) -> tuple[str, WorkflowHandle]:  # type: ignore[type-arg]
    job_id = f"vid_{uuid.uuid4().hex[:26]}"
    job = JobInput(job_id=job_id, project_id="proj_test", spec=VideoSpec(prompt="a test"), route=ROUTE,
                   created_at=datetime.now(UTC), deadline_seconds=deadline_seconds)  # fmt: skip
    handle = await harness.client.start_workflow(
        WORKFLOW_NAME, job, id=job_id, task_queue=harness.task_queue, result_type=JobSnapshot
    )
    return job_id, handle


async def _final(harness: Harness, job_id: str) -> JobSnapshot:
    described = await harness.client.get_workflow_handle(job_id).describe()
    snapshot = await described.memo_value("job", type_hint=JobSnapshot)
    assert isinstance(snapshot, JobSnapshot)
    return snapshot


async def _ended_by_deadline(handle: WorkflowHandle) -> ApplicationError:  # type: ignore[type-arg]
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorCode.DEADLINE_EXCEEDED
    assert cause.non_retryable
    return cause


async def test_a_deadline_passing_while_generating_stops_the_vendor_task_and_charges_nothing(
    harness: Harness,
) -> None:
    harness.script.poll_forever = True
    job_id, handle = await _start(harness)
    await _ended_by_deadline(handle)
    assert [c.task.task_id for c in harness.script.cancels] == [f"task-{job_id}-0"]
    assert [(s.outcome, s.charge_usd, s.reason) for s in harness.script.settles] == [
        (JobState.CANCELLED, Decimal(0), "deadline_exceeded")
    ]
    final = await _final(harness, job_id)
    assert final.state is JobState.CANCELLED and final.error is not None
    assert final.error.code == ErrorCode.DEADLINE_EXCEEDED and not final.error.billed
    assert f"{DEADLINE} s deadline" in final.error.message
    assert final.deadline_at is not None and final.started_at is not None
    assert final.finished_at is not None and final.finished_at >= final.deadline_at


async def test_a_deadline_passing_during_a_submit_awaits_it_and_stops_the_task_it_created(
    harness: Harness,
) -> None:
    harness.script.submit_gate = asyncio.Event()
    job_id, handle = await _start(harness)
    await asyncio.wait_for(harness.script.submit_started.wait(), 30)
    # Past the deadline (the test server skips ahead while the workflow waits): nothing ends while the
    # submit's outcome is unknown.
    await _wait_for_detail(harness, job_id)
    assert harness.script.settles == []
    harness.script.submit_gate.set()  # the vendor answers: it did create the task
    await _ended_by_deadline(handle)
    assert [c.task.task_id for c in harness.script.cancels] == [f"task-{job_id}-0"]
    assert [s.vendor for s in harness.script.submits] == ["alpha"]
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [(JobState.CANCELLED, Decimal(0))]
    assert (await _final(harness, job_id)).error.code == ErrorCode.DEADLINE_EXCEEDED  # type: ignore[union-attr]


async def _wait_for_detail(harness: Harness, job_id: str) -> None:
    """Until the workflow says its deadline passed (its current details)."""
    handle = harness.client.get_workflow_handle(job_id)
    for _ in range(600):
        snapshot = await handle.query(STATUS_QUERY, result_type=JobSnapshot)
        if snapshot.cancel_requested:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the deadline never passed")


async def _timer_fired(handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
    for _ in range(600):
        history = await handle.fetch_history()
        if any(e.HasField("timer_fired_event_attributes") for e in history.events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the deadline's timer never fired")


async def test_a_job_that_finishes_before_its_deadline_is_unaffected(harness: Harness) -> None:
    _, handle = await _start(harness, deadline_seconds=3600)
    snapshot = await handle.result()
    assert snapshot.state is JobState.SUCCEEDED and snapshot.error is None
    assert not snapshot.cancel_requested and harness.script.cancels == []
    assert snapshot.deadline_at is not None and snapshot.finished_at is not None
    assert snapshot.finished_at < snapshot.deadline_at
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [
        (JobState.SUCCEEDED, Decimal("2.00"))
    ]
    # The workflow is closed: its timer was dropped with it and nothing fires later.
    described = await handle.describe()
    assert described.status is not None and described.status.name == "COMPLETED"


async def test_a_deadline_passing_after_the_vendor_made_the_video_changes_nothing(harness: Harness) -> None:
    harness.script.rehost_gate = asyncio.Event()
    _, handle = await _start(harness)
    await asyncio.wait_for(harness.script.rehost_started.wait(), 30)
    await _timer_fired(handle)
    harness.script.rehost_gate.set()
    snapshot = await handle.result()
    assert snapshot.state is JobState.SUCCEEDED and snapshot.media is not None
    assert harness.script.cancels == [] and not snapshot.cancel_requested


async def test_a_task_the_vendor_finished_before_the_deadline_stop_is_delivered_and_charged(
    harness: Harness,
) -> None:
    harness.script.poll_forever = True
    harness.script.stop_answer = VendorCancel.FINISHED
    _, handle = await _start(harness)
    snapshot = await handle.result()
    assert snapshot.state is JobState.SUCCEEDED and snapshot.media is not None
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [
        (JobState.SUCCEEDED, Decimal("2.00"))
    ]


async def test_a_deadline_that_passed_before_any_worker_ran_the_job_sends_nothing_to_a_vendor(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    script = Script()
    stand_ins = StandIns(script)
    task_queue = f"wf-{uuid.uuid4().hex[:8]}"
    harness = Harness(time_skipping_env.client, script, task_queue)
    job_id, handle = await _start(harness)
    await asyncio.sleep(DEADLINE + 1)  # no worker polls the queue meanwhile: the deadline passes unseen
    async with (
        Worker(
            harness.client, task_queue=task_queue, workflows=[VideoJobWorkflow], activities=stand_ins.all()
        ),
        Worker(harness.client, task_queue=task_queue + POLL_QUEUE_SUFFIX, activities=[stand_ins.poll]),
    ):
        await _ended_by_deadline(handle)
    assert script.submits == [] and script.cancels == []
    assert [(s.outcome, s.charge_usd) for s in script.settles] == [(JobState.CANCELLED, Decimal(0))]
    final = await _final(harness, job_id)
    assert final.error is not None and final.error.code == ErrorCode.DEADLINE_EXCEEDED


async def test_a_job_without_a_deadline_has_no_timer(harness: Harness) -> None:
    job_id, handle = await _start(harness, deadline_seconds=DEADLINE)
    await handle.result()
    history = await harness.client.get_workflow_handle(job_id).fetch_history()
    assert any(e.HasField("timer_started_event_attributes") for e in history.events)
    harness.script.settles.clear()
    job = JobInput(job_id=f"vid_{uuid.uuid4().hex[:26]}", project_id="proj_test",
                   spec=VideoSpec(prompt="a test"), route=ROUTE, created_at=datetime.now(UTC))  # fmt: skip
    plain = await harness.client.start_workflow(
        WORKFLOW_NAME, job, id=job.job_id, task_queue=harness.task_queue, result_type=JobSnapshot
    )
    snapshot = await plain.result()
    assert snapshot.deadline_at is None
    history = await plain.fetch_history()
    assert not any(e.HasField("timer_started_event_attributes") for e in history.events)
    assert not any(e.HasField("marker_recorded_event_attributes") and b"deadline" in e.SerializeToString()
                   for e in history.events)  # fmt: skip
