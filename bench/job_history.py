"""What one job's history says about where its time went: the throughput measure's diagnosis.

Read from the server's own timestamps: when the job started, when its first activity (the vendor submit)
completed, when it completed, and for each activity and for the workflow tasks how long each waited in its
task queue (scheduled → started) and how long it ran (started → completed). A burst that falls short of
its baseline shows here whether jobs waited for a worker slot or poller (long waits) or for the work
itself (long runs).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

WORKFLOW_TASK = "workflow task"


@dataclass
class JobTimes:
    """One job's start, first-activity completion and completion, and each stage's (wait, run) seconds."""

    started: datetime
    accepted: datetime
    finished: datetime
    stages: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def _when(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime()


@dataclass
class _Reading:
    """The history walked so far: scheduled and started times by event id, and what they belong to."""

    first_activity: str
    names: dict[int, str] = field(default_factory=dict)
    times: dict[int, datetime] = field(default_factory=dict)
    stages: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    started: datetime | None = None
    accepted: datetime | None = None
    finished: datetime | None = None

    def stage(self, name: str, scheduled_id: int, started_id: int, completed: datetime) -> None:
        wait = (self.times[started_id] - self.times[scheduled_id]).total_seconds()
        self.stages[name].append((wait, (completed - self.times[started_id]).total_seconds()))

    def read(self, event: HistoryEvent) -> None:
        kind = event.event_type
        self.times[event.event_id] = _when(event)
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self.started = _when(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self.names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            name = self.names[done.scheduled_event_id]
            self.stage(name, done.scheduled_event_id, done.started_event_id, _when(event))
            if name == self.first_activity and self.accepted is None:
                self.accepted = _when(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            done_task = event.workflow_task_completed_event_attributes
            self.stage(WORKFLOW_TASK, done_task.scheduled_event_id, done_task.started_event_id, _when(event))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            self.finished = _when(event)


async def job_times(client: Client, job_id: str, first_activity: str) -> JobTimes:
    """Read one completed job's history (``first_activity``: the activity whose completion is "accepted")."""
    history = await client.get_workflow_handle(job_id).fetch_history()
    reading = _Reading(first_activity)
    for event in history.events:
        reading.read(event)
    if reading.started is None or reading.accepted is None or reading.finished is None:
        raise RuntimeError(f"job {job_id} did not complete its {first_activity} and itself")
    return JobTimes(reading.started, reading.accepted, reading.finished, dict(reading.stages))


def stage_note(jobs: list[JobTimes]) -> str:
    """Median queue wait / run per stage over every job, e.g. ``submit_to_vendor 12 / 30 ms``."""
    merged: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for job in jobs:
        for name, samples in job.stages.items():
            merged[name].extend(samples)
    parts = []
    for name, samples in merged.items():
        wait = statistics.median(sample[0] for sample in samples) * 1000
        run = statistics.median(sample[1] for sample in samples) * 1000
        parts.append(f"{name} {wait:.0f} / {run:.0f} ms")
    return "median wait / run: " + ", ".join(parts)
