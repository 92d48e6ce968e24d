"""What a job's workflow history says about one of its activities: how many attempts its last run took and
why the attempt before it failed. The survival tests use it to prove a crash really hit the activity."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType

from core.settings import Settings
from workflows.connection import connect


@dataclass(frozen=True)
class ActivityRun:
    attempt: int
    last_failure_type: (
        str | None
    )  # the ApplicationError type, or the timeout/cancel kind, of the attempt before
    last_failure_message: str | None


async def _activity_run(address: str, job_id: str, activity_name: str) -> ActivityRun:
    client = await connect(Settings(temporal_address=address))
    scheduled: set[int] = set()
    run: ActivityRun | None = None
    async for event in client.get_workflow_handle(job_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == activity_name:
                scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in scheduled:
                failure = started.last_failure if started.HasField("last_failure") else None
                kind: str | None = None
                if failure is not None:
                    if failure.HasField("application_failure_info"):
                        kind = failure.application_failure_info.type
                    elif failure.HasField("timeout_failure_info"):
                        kind = "timeout"
                    else:
                        kind = failure.WhichOneof("failure_info")
                run = ActivityRun(started.attempt, kind, failure.message if failure is not None else None)
    if run is None:
        raise AssertionError(f"{job_id} never started {activity_name}")
    return run


def activity_run(address: str, job_id: str, activity_name: str) -> ActivityRun:
    """The last started attempt of ``activity_name`` in the job's history (call from synchronous tests)."""
    return asyncio.run(_activity_run(address, job_id, activity_name))


async def _runs(address: str, job_id: str) -> int:
    client = await connect(Settings(temporal_address=address))
    return len([run async for run in client.list_workflows(f"WorkflowId = '{job_id}'")])


def workflow_runs(address: str, job_id: str) -> int:
    """How many workflow runs exist under the job's id (one, for a job started once)."""
    return asyncio.run(_runs(address, job_id))


async def _pending_attempt(address: str, job_id: str, activity_name: str) -> int:
    client = await connect(Settings(temporal_address=address))
    description = await client.get_workflow_handle(job_id).describe()
    attempts = [
        pending.attempt
        for pending in description.raw_description.pending_activities
        if pending.activity_type.name == activity_name
    ]
    return max(attempts, default=0)


def pending_attempt(address: str, job_id: str, activity_name: str) -> int:
    """The attempt a still-pending ``activity_name`` of the job is on (0 when none is pending)."""
    return asyncio.run(_pending_attempt(address, job_id, activity_name))
