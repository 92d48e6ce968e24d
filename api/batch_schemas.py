"""Request and response bodies of ``/v1/video/batches`` (OpenAPI schemas), and how a batch is presented."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from api.media_links import MediaLinks
from api.presenter import present_job
from api.schemas import IDEMPOTENCY_KEY_PATTERN, GenerateRequest, JobCostOut, VideoJob, _clean_text
from core.batches import MAX_BATCH_ITEMS
from core.errors import ErrorCode
from core.models import ErrorInfo, JobState
from core.webhook_targets import MAX_WEBHOOK_URL_CHARS
from jobs.batches import BatchItem, BatchView


class BatchCreateRequest(BaseModel):
    """Body of ``POST /v1/video/batches``."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[GenerateRequest],
        Field(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            description="1-100 generate bodies (as POST /v1/video/generate takes them, without "
            "idempotency_key). Every item is checked before anything is held; refusals name the item index.",
        ),
    ]
    idempotency_key: Annotated[
        str | None,
        Field(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Same key and body → the same batch. Also accepted as the Idempotency-Key header. "
            "Without one, the batch's id is derived from its body: the same body is the same batch.",
        ),
    ] = None
    webhook_url: Annotated[
        str | None,
        Field(
            max_length=MAX_WEBHOOK_URL_CHARS,
            description="An http(s) URL that gets one signed POST (Standard Webhooks, type "
            "`batch.completed`) once every item has ended.",
        ),
    ] = None

    @field_validator("webhook_url")
    @classmethod
    def _url_is_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _clean_text(value, info.field_name or "url").strip()

    def fingerprint(self) -> str:
        """The batch's content: every item's fingerprint in order, and the webhook URL."""
        body = {"items": [item.fingerprint() for item in self.items], "webhook_url": self.webhook_url}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class BatchCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class BatchItemOut(VideoJob):
    """One item: its place in the request and its job, as ``GET /v1/video/jobs/{job_id}`` shows it."""

    index: int


class VideoBatch(BaseModel):
    batch_id: str = Field(examples=["bat_0123456789abcdefghijklmnop"])
    state: Literal["running", "completed"] = Field(description="`completed` once every item has ended.")
    created_at: datetime
    item_count: int
    counts: BatchCounts = Field(description="How many items are in each state.")
    items: list[BatchItemOut]


def _present_item(item: BatchItem, links: MediaLinks, created: datetime) -> BatchItemOut:
    if item.job is None:  # never started (its start failed and the request was not retried), or deleted
        return BatchItemOut(
            index=item.index,
            job_id=item.job_id,
            state=JobState.FAILED,
            created_at=created,
            cost=JobCostOut(estimated_usd="0.00"),
            error=ErrorInfo(code=ErrorCode.NOT_FOUND, message="this item's job does not exist"),
        )
    job = present_job(item.job, links)
    return BatchItemOut(index=item.index, **job.model_dump())


def present_batch(batch: BatchView, links: MediaLinks) -> VideoBatch:
    items = [_present_item(item, links, batch.created_at) for item in batch.items]
    counts = BatchCounts()
    for item in items:
        setattr(counts, item.state.value, getattr(counts, item.state.value) + 1)
    finished = all(item.state.is_final for item in items)
    return VideoBatch(
        batch_id=batch.batch_id,
        state="completed" if finished else "running",
        created_at=batch.created_at,
        item_count=len(items),
        counts=counts,
        items=items,
    )
