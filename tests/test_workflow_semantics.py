"""The VideoJob workflow's decisions — failover, no resubmit after acceptance, content policy, cancel,
settlement — on the real time-skipping test server, with stand-in activities registered under the same
names (the workflow itself is never patched)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.failures import application_error, final_error
from core.errors import ErrorCode, VendorError
from core.models import (
    CancelVendorRequest,
    ErrorInfo,
    JobInput,
    JobSnapshot,
    JobState,
    PollRequest,
    RehostRequest,
    RouteCandidate,
    SettleRequest,
    SettleResult,
    StoredVideo,
    SubmitRequest,
    VendorCancel,
    VendorOutcome,
    VendorTask,
    VideoSpec,
)
from workflows.video_job import (
    POLL_QUEUE_SUFFIX,
    REHOST_QUEUE_SUFFIX,
    STATUS_QUERY,
    WORKFLOW_NAME,
    VideoJobWorkflow,
)


@dataclass
class Script:
    """How each stand-in vendor behaves, and what the workflow asked of them."""

    submit_errors: dict[str, VendorError] = field(default_factory=dict)
    outcome: VendorOutcome = field(
        default_factory=lambda: VendorOutcome(state=JobState.SUCCEEDED, output_url="http://vendor/out.mp4")
    )
    poll_forever: bool = False
    rehost_error: ApplicationError | None = None
    # What the vendor's cancel achieves, and how a task the cancel did not stop ends when watched.
    stop_answer: VendorCancel = VendorCancel.STOPPED
    outcome_after_cancel: VendorOutcome | None = None
    # Hold a submit (or rehost) open until the test releases it: the instants a cancel must survive.
    submit_gate: asyncio.Event | None = None
    submit_started: asyncio.Event = field(default_factory=asyncio.Event)
    rehost_gate: asyncio.Event | None = None
    rehost_started: asyncio.Event = field(default_factory=asyncio.Event)
    submits: list[SubmitRequest] = field(default_factory=list)
    cancels: list[CancelVendorRequest] = field(default_factory=list)
    settles: list[SettleRequest] = field(default_factory=list)
    settle_failures: int = 0  # how many settles fail first (the ledger unavailable)
    poll_started: asyncio.Event = field(default_factory=asyncio.Event)


class StandIns:
    def __init__(self, script: Script) -> None:
        self.script = script

    @activity.defn(name="submit_to_vendor")
    async def submit(self, req: SubmitRequest) -> VendorTask:
        self.script.submits.append(req)
        self.script.submit_started.set()
        if self.script.submit_gate is not None:
            await self.script.submit_gate.wait()
        error = self.script.submit_errors.get(req.vendor)
        if error is not None:
            raise application_error(error)
        return VendorTask(vendor=req.vendor, model=req.model, task_id=f"task-{req.attempt_key}",
                          submitted_at=datetime.now(UTC))  # fmt: skip

    @activity.defn(name="poll_vendor")
    async def poll(self, req: PollRequest) -> VendorOutcome:
        self.script.poll_started.set()
        if self.script.cancels:  # watching a task the cancel did not stop
            return self.script.outcome_after_cancel or self.script.outcome
        while self.script.poll_forever:
            activity.heartbeat()
            await asyncio.sleep(0.1)
        return self.script.outcome

    @activity.defn(name="stop_vendor_task")
    async def cancel(self, req: CancelVendorRequest) -> VendorCancel:
        self.script.cancels.append(req)
        return self.script.stop_answer

    @activity.defn(name="rehost_video")
    async def rehost(self, req: RehostRequest) -> StoredVideo:
        self.script.rehost_started.set()
        if self.script.rehost_gate is not None:
            await self.script.rehost_gate.wait()
        if self.script.rehost_error is not None:
            raise self.script.rehost_error
        return StoredVideo(video_key=f"videos/{req.job_id}/video.mp4", size_bytes=10, sha256="0" * 64)

    @activity.defn(name="settle_job")
    async def settle(self, req: SettleRequest) -> SettleResult:
        self.script.settles.append(req)
        if len(self.script.settles) <= self.script.settle_failures:
            raise ApplicationError("accounts database unavailable", type="service_unavailable")
        return SettleResult(charged_usd=req.charge_usd, released_usd=Decimal(0))

    def all(self) -> list[object]:
        return [self.submit, self.poll, self.cancel, self.rehost, self.settle]


ROUTE = [
    RouteCandidate(vendor="alpha", model="a-1", estimated_cost_usd=Decimal("2.00")),
    RouteCandidate(vendor="beta", model="b-1", estimated_cost_usd=Decimal("1.50")),
]


@dataclass
class Harness:
    client: Client
    script: Script
    task_queue: str

    async def start(self, route: list[RouteCandidate] = ROUTE) -> tuple[str, object]:
        job_id = f"vid_{uuid.uuid4().hex[:26]}"
        job = JobInput(job_id=job_id, project_id="proj_test", spec=VideoSpec(prompt="a test"), route=route,
                       created_at=datetime.now(UTC))  # fmt: skip
        handle = await self.client.start_workflow(
            WORKFLOW_NAME, job, id=job_id, task_queue=self.task_queue, result_type=JobSnapshot
        )
        return job_id, handle


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


async def _failure(handle: object) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()  # type: ignore[attr-defined]
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_success_settles_the_vendor_cost_or_the_estimate(harness: Harness) -> None:
    _, handle = await harness.start()
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert isinstance(snapshot, JobSnapshot)
    assert snapshot.state is JobState.SUCCEEDED and snapshot.media is not None
    assert [s.vendor for s in harness.script.submits] == ["alpha"]
    assert harness.script.settles[-1].charge_usd == Decimal("2.00")
    assert harness.script.settles[-1].outcome is JobState.SUCCEEDED


async def test_a_vendor_down_before_accepting_fails_over_to_the_next(harness: Harness) -> None:
    harness.script.submit_errors["alpha"] = VendorError(
        ErrorCode.VENDOR_UNAVAILABLE, "503 from alpha", retryable=False, accepted=False
    )
    _, handle = await harness.start()
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert snapshot.state is JobState.SUCCEEDED
    assert (snapshot.vendor, snapshot.model) == ("beta", "b-1")
    assert [s.vendor for s in harness.script.submits] == ["alpha", "beta"]
    assert [a.outcome for a in snapshot.attempts] == ["rejected:vendor_unavailable", "succeeded"]
    assert harness.script.settles[-1].charge_usd == Decimal("1.50")


async def test_a_content_policy_refusal_is_final_and_never_tried_elsewhere(harness: Harness) -> None:
    harness.script.submit_errors["alpha"] = VendorError(ErrorCode.CONTENT_POLICY, "refused", billed=False)
    _, handle = await harness.start()
    failure = await _failure(handle)
    assert failure.type == "content_policy"
    assert [s.vendor for s in harness.script.submits] == ["alpha"]
    assert harness.script.settles[-1].charge_usd == Decimal(0)


async def test_a_task_that_failed_after_acceptance_is_never_resubmitted(harness: Harness) -> None:
    harness.script.outcome = VendorOutcome(
        state=JobState.FAILED,
        error=ErrorInfo(code=ErrorCode.VENDOR_ERROR, message="render crashed", billed=True),
    )
    job_id, handle = await harness.start()
    failure = await _failure(handle)
    assert failure.type == "vendor_error"
    assert len(harness.script.submits) == 1
    assert harness.script.settles[-1].charge_usd == Decimal("2.00")  # the vendor billed it
    described = await harness.client.get_workflow_handle(job_id).describe()
    final = await described.memo_value("job", type_hint=JobSnapshot)
    assert final.state is JobState.FAILED and final.error is not None and final.error.billed is True


async def test_a_moderation_block_after_acceptance_is_content_policy_unbilled(harness: Harness) -> None:
    harness.script.outcome = VendorOutcome(
        state=JobState.FAILED,
        error=ErrorInfo(code=ErrorCode.CONTENT_POLICY, message="filtered", billed=False),
    )
    _, handle = await harness.start()
    failure = await _failure(handle)
    assert failure.type == "content_policy"
    assert len(harness.script.submits) == 1
    assert harness.script.settles[-1].charge_usd == Decimal(0)


async def test_cancel_while_generating_cancels_the_vendor_task_and_releases(harness: Harness) -> None:
    harness.script.poll_forever = True
    job_id, handle = await harness.start()
    await asyncio.wait_for(harness.script.poll_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()  # type: ignore[attr-defined]
    assert isinstance(caught.value.cause, CancelledError)
    assert [c.task.task_id for c in harness.script.cancels] == [f"task-{job_id}-0"]
    assert harness.script.settles[-1].outcome is JobState.CANCELLED
    assert harness.script.settles[-1].charge_usd == Decimal(0)
    final = await (await harness.client.get_workflow_handle(job_id).describe()).memo_value(
        "job", type_hint=JobSnapshot
    )
    assert final.state is JobState.CANCELLED and final.error is not None and final.error.code == "cancelled"


async def test_status_query_reports_stage_and_vendor(harness: Harness) -> None:
    harness.script.poll_forever = True
    _, handle = await harness.start()
    await asyncio.wait_for(harness.script.poll_started.wait(), 30)
    snapshot = await handle.query(STATUS_QUERY, result_type=JobSnapshot)  # type: ignore[attr-defined]
    assert snapshot.state is JobState.RUNNING and snapshot.stage == "generating"
    assert snapshot.vendor == "alpha"
    harness.script.poll_forever = False
    await handle.result()  # type: ignore[attr-defined]


async def test_a_rejection_with_our_key_fails_over(harness: Harness) -> None:
    harness.script.submit_errors["alpha"] = VendorError(ErrorCode.VENDOR_ERROR, "401 from alpha")
    _, handle = await harness.start()
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert snapshot.state is JobState.SUCCEEDED and snapshot.vendor == "beta"


async def test_a_submit_whose_outcome_is_unknown_is_never_sent_to_the_next_vendor(harness: Harness) -> None:
    # What the submit activity hands over for a vendor that cannot look tasks up: final and ambiguous.
    harness.script.submit_errors["alpha"] = VendorError(ErrorCode.TIMEOUT, "alpha: no answer", ambiguous=True)
    _, handle = await harness.start()
    failure = await _failure(handle)
    assert failure.type == "timeout"
    assert [s.vendor for s in harness.script.submits] == ["alpha"]  # no failover
    assert harness.script.settles[-1].charge_usd == Decimal(0)
    assert "not sent to another vendor" in failure.message


async def test_an_output_gone_before_rehost_fails_the_job_as_a_vendor_error(harness: Harness) -> None:
    harness.script.rehost_error = final_error(ErrorCode.VENDOR_ERROR, "the output answered HTTP 403")
    _, handle = await harness.start()
    failure = await _failure(handle)
    assert failure.type == "vendor_error" and "403" in failure.message
    assert harness.script.settles[-1].charge_usd == Decimal(0)


async def _final(harness: Harness, job_id: str) -> JobSnapshot:
    described = await harness.client.get_workflow_handle(job_id).describe()
    snapshot = await described.memo_value("job", type_hint=JobSnapshot)
    assert isinstance(snapshot, JobSnapshot)
    return snapshot


async def _cancelled(handle: object) -> None:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()  # type: ignore[attr-defined]
    assert isinstance(caught.value.cause, CancelledError)


async def test_cancel_during_a_submit_waits_for_its_outcome_and_stops_the_task_it_created(
    harness: Harness,
) -> None:
    harness.script.submit_gate = asyncio.Event()
    job_id, handle = await harness.start()
    await asyncio.wait_for(harness.script.submit_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    assert harness.script.settles == []  # nothing ends while the submit's outcome is unknown
    harness.script.submit_gate.set()  # the vendor answers: it did create the task
    await _cancelled(handle)
    assert [c.task.task_id for c in harness.script.cancels] == [f"task-{job_id}-0"]
    assert [s.vendor for s in harness.script.submits] == ["alpha"]
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [(JobState.CANCELLED, Decimal(0))]
    final = await _final(harness, job_id)
    assert final.state is JobState.CANCELLED and final.error is not None and not final.error.billed


async def test_cancel_during_a_rejected_submit_never_tries_the_next_vendor(harness: Harness) -> None:
    harness.script.submit_gate = asyncio.Event()
    harness.script.submit_errors["alpha"] = VendorError(ErrorCode.VENDOR_UNAVAILABLE, "503", accepted=False)
    _, handle = await harness.start()
    await asyncio.wait_for(harness.script.submit_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    harness.script.submit_gate.set()
    await _cancelled(handle)
    assert [s.vendor for s in harness.script.submits] == ["alpha"]
    assert harness.script.cancels == []  # no task was created, so none to stop
    assert harness.script.settles[-1].charge_usd == Decimal(0)


async def test_cancel_that_reaches_a_finished_task_delivers_the_video_and_charges(harness: Harness) -> None:
    harness.script.poll_forever = True
    harness.script.stop_answer = VendorCancel.FINISHED  # fal ALREADY_COMPLETED: the vendor bills it
    _, handle = await harness.start()
    await asyncio.wait_for(harness.script.poll_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert snapshot.state is JobState.SUCCEEDED and snapshot.media is not None
    assert snapshot.cancel_requested is True
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [
        (JobState.SUCCEEDED, Decimal("2.00"))
    ]


async def test_a_task_that_cannot_be_stopped_and_is_refused_refunds_the_hold(harness: Harness) -> None:
    harness.script.poll_forever = True
    harness.script.stop_answer = VendorCancel.UNSUPPORTED  # Veo, MiniMax, Kling: no cancel
    harness.script.outcome_after_cancel = VendorOutcome(
        state=JobState.FAILED,
        error=ErrorInfo(code=ErrorCode.CONTENT_POLICY, message="filtered", billed=False),
    )
    job_id, handle = await harness.start()
    await asyncio.wait_for(harness.script.poll_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    await _cancelled(handle)
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [(JobState.CANCELLED, Decimal(0))]
    final = await _final(harness, job_id)
    assert final.error is not None and "unbilled" in final.error.message and not final.error.billed


async def test_a_task_that_cannot_be_stopped_and_fails_billed_is_charged(harness: Harness) -> None:
    harness.script.poll_forever = True
    harness.script.stop_answer = VendorCancel.UNSUPPORTED
    harness.script.outcome_after_cancel = VendorOutcome(
        state=JobState.FAILED, error=ErrorInfo(code=ErrorCode.VENDOR_ERROR, message="crashed", billed=True)
    )
    job_id, handle = await harness.start()
    await asyncio.wait_for(harness.script.poll_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    await _cancelled(handle)
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [
        (JobState.CANCELLED, Decimal("2.00"))
    ]
    final = await _final(harness, job_id)
    assert final.state is JobState.CANCELLED and final.error is not None and final.error.billed


async def test_a_cancel_after_the_vendor_made_the_video_changes_nothing(harness: Harness) -> None:
    harness.script.rehost_gate = asyncio.Event()
    job_id, handle = await harness.start()
    await asyncio.wait_for(harness.script.rehost_started.wait(), 30)
    await handle.cancel()  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    harness.script.rehost_gate.set()
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert snapshot.state is JobState.SUCCEEDED and snapshot.media is not None
    assert harness.script.cancels == []  # nothing to stop: the video exists
    assert [(s.outcome, s.charge_usd) for s in harness.script.settles] == [
        (JobState.SUCCEEDED, Decimal("2.00"))
    ]
    assert (await _final(harness, job_id)).state is JobState.SUCCEEDED


async def test_a_cancel_that_arrives_before_the_first_workflow_task_sends_nothing_to_a_vendor(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Started and cancelled while no worker polls its queue: the cancel comes with the start.
    script = Script()
    stand_ins = StandIns(script)
    task_queue = f"wf-{uuid.uuid4().hex[:8]}"
    harness = Harness(time_skipping_env.client, script, task_queue)
    job_id, handle = await harness.start()
    await handle.cancel()  # type: ignore[attr-defined]
    async with (
        Worker(
            harness.client, task_queue=task_queue, workflows=[VideoJobWorkflow], activities=stand_ins.all()
        ),
        Worker(harness.client, task_queue=task_queue + POLL_QUEUE_SUFFIX, activities=[stand_ins.poll]),
    ):
        await _cancelled(handle)
    assert script.submits == [] and script.cancels == []
    assert [(s.outcome, s.charge_usd) for s in script.settles] == [(JobState.CANCELLED, Decimal(0))]
    final = await _final(harness, job_id)
    assert final.state is JobState.CANCELLED and final.error is not None and not final.error.billed


async def test_a_settle_failing_in_the_workflow_task_is_retried_as_an_activity(harness: Harness) -> None:
    """The settle runs inside the workflow task first; the ledger unavailable then, it is retried as a
    regular activity (visible as pending, retried for a day) and the job still succeeds, charged once."""
    harness.script.settle_failures = 2
    _, handle = await harness.start()
    snapshot = await handle.result()  # type: ignore[attr-defined]
    assert snapshot.state is JobState.SUCCEEDED
    assert len(harness.script.settles) == 3  # the in-task attempt, then the activity's two attempts
    assert snapshot.cost.settled_usd == Decimal("2.00")
