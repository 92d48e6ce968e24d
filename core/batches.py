"""Batches: many generate requests made at once under one idempotency key, each item an ordinary job.

A batch is its ``VideoBatch`` workflow (id ``bat_...``): its memo says whose it is, which request made it
and how many items it has; item ``i`` is the job ``batch_item_job_id(batch_id, i)``. The workflow waits
for every item to end and then sends the batch's one webhook (``batch.completed``), if it has one.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.job_timings import JobTimings
from core.models import ErrorInfo, JobState, WebhookEnvelope

BATCH_WORKFLOW_NAME = "VideoBatch"
MAX_BATCH_ITEMS = 100
BATCH_COMPLETED = "batch.completed"


class BatchInput(BaseModel):
    """What the batch workflow starts with (one typed input, so fields can be added)."""

    batch_id: str
    project_id: str
    job_ids: list[str]
    created_at: datetime
    webhook_url: str | None = None
    timings: JobTimings = Field(default_factory=JobTimings)


class BatchItemOutcome(BaseModel):
    """How one item ended, as the batch's webhook reports it."""

    index: int
    job_id: str
    state: JobState
    error: ErrorInfo | None = None
    settled_usd: str | None = None


class BatchOutcome(BaseModel):
    """Every item of a batch, once all of them ended."""

    batch_id: str
    finished_at: datetime | None = None
    items: list[BatchItemOutcome]

    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in JobState}
        for item in self.items:
            counts[item.state.value] += 1
        return counts


class BatchWebhookMessage(WebhookEnvelope):
    """One ``batch.completed`` message: the same ``message_id`` and body for every attempt."""

    batch_id: str
    outcome: BatchOutcome


def batch_webhook_message_id(batch_id: str) -> str:
    return f"msg_{batch_id}_completed"
