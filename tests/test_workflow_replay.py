"""Every recorded history (every release: 2026-12-v1 to -v4) replays against today's workflow code:
jobs of earlier releases still in flight when this code deploys will continue on it without a
non-determinism error.

The corpus is ``tests/histories/<release>/*.json`` (``python -m tests.histories.record``); one test per
history: jobs and their webhook deliveries, and since 2026-12-v3 batches and their redeliveries. The last
tests prove the check has teeth: a next release that adds an activity before settling a job, or before a
batch waits for its items, fails every such history unless the addition is guarded by ``workflow.patched``.
"""

from __future__ import annotations

import re

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.settings import Settings
from tests.histories import RECORDING_ENCRYPTION_KEYS, RecordedHistory, recorded_histories
from tests.histories.next_build import PatchedNextBatch, PatchedNextJob, UnpatchedNextBatch, UnpatchedNextJob
from workflows.batch_webhook_delivery import BatchWebhookDeliveryWorkflow
from workflows.connection import data_converter
from workflows.video_batch import VideoBatchWorkflow
from workflows.video_job import PATCH_DEADLINE, PATCH_SETTLE_IN_TASK, SETTLE, VideoJobWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

HISTORIES = recorded_histories()
CURRENT = (VideoJobWorkflow, WebhookDeliveryWorkflow, VideoBatchWorkflow, BatchWebhookDeliveryWorkflow)

GUIDANCE = (
    "The workflow code no longer makes the commands this history recorded, so every job of that release "
    "still running would fail its next workflow task after the deploy. Guard the change with "
    '`if workflow.patched("<change-id>"):` (keep the old path in the else branch) or bump the workflow\'s '
    "version, as docs/operations/deploys.md describes; never re-record or delete a history to make this pass"
)


def _replayer(recorded: RecordedHistory, workflows: tuple[type, ...]) -> Replayer:
    keys = RECORDING_ENCRYPTION_KEYS if recorded.encrypted else None
    settings = Settings(payload_encryption_keys=keys)
    return Replayer(workflows=list(workflows), data_converter=data_converter(settings))


async def replay_problem(recorded: RecordedHistory, workflows: tuple[type, ...] = CURRENT) -> str | None:
    """None when ``recorded`` replays against ``workflows``; otherwise what broke and what to do."""
    history: WorkflowHistory = recorded.load()
    result = await _replayer(recorded, workflows).replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return None
    # The SDK wraps core's one-line reason ("[TMPRL1100] Nondeterminism error: ...") in a Rust debug dump.
    reason = re.search(r'message: "([^"]+)"', str(result.replay_failure))
    return (
        f"recorded history {recorded.name} does not replay: "
        f"{reason.group(1) if reason else result.replay_failure}. {GUIDANCE}."
    )


def test_the_corpus_covers_every_path_of_the_first_release() -> None:
    first = {h.path for h in HISTORIES if h.release == "2026-12-v1"}
    assert {
        "succeeded",
        "content_policy_at_submit",
        "content_policy_after_generation",
        "vendor_error_after_acceptance",
        "ambiguous_submit_timeout",
        "storage_error",
        "no_route",
        "invalid_input_at_every_vendor",
        "rehost_output_expired",
        "cancelled_submitting",
        "cancelled_generating",
        "cancelled_rehosting",
        "failover_after_503",
        "webhook_after_retries",
        "webhook_after_retries.delivery",
        "encrypted_succeeded",
    } <= first


DEADLINE_PATHS = {"deadline_generating", "deadline_rehosting", "deadline_not_reached"}


def test_the_corpus_holds_every_release_and_the_third_records_the_deadline_paths() -> None:
    assert {"2026-12-v1", "2026-12-v2", "2026-12-v3", "2026-12-v4"} <= {h.release for h in HISTORIES}
    first = {h.path for h in HISTORIES if h.release == "2026-12-v1"}
    third = {h.path for h in HISTORIES if h.release == "2026-12-v3"}
    assert first | DEADLINE_PATHS <= third


def test_the_recorded_deadline_fired_under_its_patch() -> None:
    """The deadline-fired history really holds the ``deadline`` patch marker and a timer that fired, so
    replaying it exercises the deadline's cancel path (not a job that merely carried a deadline)."""
    recorded = next(h for h in HISTORIES if h.name == "2026-12-v3/deadline_generating")
    events = recorded.load().events
    markers = [
        e.marker_recorded_event_attributes for e in events if e.HasField("marker_recorded_event_attributes")
    ]
    assert any(PATCH_DEADLINE.encode() in m.SerializeToString() for m in markers)
    assert any(e.HasField("timer_fired_event_attributes") for e in events)
    not_reached = next(h for h in HISTORIES if h.name == "2026-12-v3/deadline_not_reached").load().events
    assert any(e.HasField("timer_started_event_attributes") for e in not_reached)
    assert not any(e.HasField("timer_fired_event_attributes") for e in not_reached)


BATCH_PATHS = {
    "batch_succeeded",
    "batch_cancelled",
    "batch_webhook_after_retries",
    "batch_redelivered.redelivery",
    "batch_redelivery_failed.redelivery",
}


def test_the_third_release_records_the_batch_paths_under_their_own_workflow_types() -> None:
    third = {h.path: h.workflow_type for h in HISTORIES if h.release == "2026-12-v3"}
    assert third.keys() >= BATCH_PATHS
    assert {third[path] for path in BATCH_PATHS if "." not in path} == {"VideoBatch"}
    assert {third[path] for path in BATCH_PATHS if path.endswith(".redelivery")} == {"BatchWebhookDelivery"}


def test_the_fourth_release_settles_inside_the_workflow_task() -> None:
    """From 2026-12-v4 (the ``settle-in-task`` patch) a job settles in a local activity: no settle
    activity task, and the job ends in the workflow task that learnt the rehost's result."""
    for path in ("succeeded", "vendor_error_after_acceptance", "cancelled_generating"):
        events = next(h for h in HISTORIES if h.name == f"2026-12-v4/{path}").load().events
        scheduled = [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
        markers = [
            e.marker_recorded_event_attributes.SerializeToString()
            for e in events
            if e.HasField("marker_recorded_event_attributes")
        ]
        assert SETTLE not in scheduled, path
        assert any(PATCH_SETTLE_IN_TASK.encode() in marker for marker in markers), path
        assert any(SETTLE.encode() in marker for marker in markers), path  # the local activity's result


def _third(path: str) -> RecordedHistory:
    return next(h for h in HISTORIES if h.name == f"2026-12-v3/{path}")


def test_the_recorded_batch_paths_were_really_taken() -> None:
    """The retried webhook was delivered at a later attempt, and the two redeliveries cover both ends of
    ``BatchWebhookDelivery``: its one attempt refused (the workflow fails) and delivered (it completes)."""
    retried = _third("batch_webhook_after_retries").load().events
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in retried
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts[-1] >= 2  # the last activity is deliver_batch_webhook
    failed = _third("batch_redelivery_failed.redelivery").load().events[-1]
    delivered = _third("batch_redelivered.redelivery").load().events[-1]
    assert failed.HasField("workflow_execution_failed_event_attributes")
    assert delivered.HasField("workflow_execution_completed_event_attributes")


@pytest.mark.parametrize("recorded", HISTORIES, ids=lambda h: h.name)
async def test_recorded_history_replays_on_the_current_workflow(recorded: RecordedHistory) -> None:
    problem = await replay_problem(recorded)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def _histories_of(workflow_type: str) -> list[RecordedHistory]:
    return [h for h in HISTORIES if h.workflow_type == workflow_type]


def _job_histories() -> list[RecordedHistory]:
    return _histories_of("VideoJob")


async def test_an_unpatched_extra_activity_before_settle_is_caught_with_guidance() -> None:
    recorded = next(h for h in HISTORIES if h.path == "succeeded")
    problem = await replay_problem(recorded, (UnpatchedNextJob, WebhookDeliveryWorkflow))
    assert problem is not None
    print(problem)  # the message a developer sees (pytest -s)
    assert "Nondeterminism" in problem and recorded.name in problem
    assert "workflow.patched" in problem and "docs/operations/deploys.md" in problem


async def test_every_job_history_catches_the_unpatched_change() -> None:
    broken = [h.name for h in _job_histories() if await replay_problem(h, (UnpatchedNextJob,)) is not None]
    assert broken == [h.name for h in _job_histories()]  # every path settles, so every one breaks


async def test_every_batch_history_catches_the_unpatched_change() -> None:
    batches = _histories_of("VideoBatch")
    problems = {h.name: await replay_problem(h, (UnpatchedNextBatch,)) for h in batches}
    broken = [name for name, problem in problems.items() if problem and "Nondeterminism" in problem]
    assert batches and broken == [h.name for h in batches]  # every batch waits for its items, so breaks


async def test_the_same_change_guarded_by_a_patch_replays_every_history() -> None:
    patched = (PatchedNextJob, WebhookDeliveryWorkflow, PatchedNextBatch, BatchWebhookDeliveryWorkflow)
    problems = [await replay_problem(h, patched) for h in HISTORIES]
    assert [p for p in problems if p is not None] == []
