"""Typed results of the jobs, batches, models and webhooks APIs.

Every result is an ``InfraiModel`` (``infrai.mapping_model``): a pydantic model that is also a read-only
mapping, so ``job.get("job_id")`` and ``job["state"]`` work as well as ``job.state``. The account's results
are in ``infrai.account_models``; both are importable from here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import PrivateAttr

from infrai.account_models import Account as Account
from infrai.account_models import AccountUsage as AccountUsage
from infrai.account_models import Activation as Activation
from infrai.account_models import Budget as Budget
from infrai.account_models import Budgets as Budgets
from infrai.account_models import Usage as Usage
from infrai.account_models import UsageLine as UsageLine
from infrai.account_models import UsageTotal as UsageTotal
from infrai.mapping_model import InfraiModel as InfraiModel

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Stage = Literal["submitting", "generating", "rehosting"]
Resolution = Literal["720p", "1080p", "4k"]
Aspect = Literal["16:9", "9:16", "1:1"]
Prefer = Literal["balanced", "cheapest", "smartest"]

FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class JobCost(InfraiModel):
    estimated_usd: Decimal
    settled_usd: Decimal | None = None


class JobError(InfraiModel):
    code: str
    message: str
    retryable: bool = False
    billed: bool = False


class VideoFile(InfraiModel):
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    frame_count: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    content_type: str = "video/mp4"


class JobWarning(InfraiModel):
    code: str
    message: str


class VideoJob(InfraiModel):
    job_id: str
    state: JobState
    stage: Stage | None = None
    progress: int | None = None
    vendor: str | None = None
    model: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost: JobCost | None = None
    error: JobError | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    video: VideoFile | None = None
    deadline_at: datetime | None = None
    # While the job runs: when the vendor is expected to finish, whether that comes from measured jobs
    # ("measured") or the catalog ("catalog"), and the place in the vendor's queue where it says.
    eta_seconds: int | None = None
    expected_finish_at: datetime | None = None
    eta_source: Literal["measured", "catalog"] | None = None
    queue_position: int | None = None
    warnings: list[JobWarning] = []

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class BatchItem(VideoJob):
    """One item of a batch: its place in the request (``index``) and its job."""

    index: int


class BatchCounts(InfraiModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class VideoBatch(InfraiModel):
    """A batch of jobs (``client.video.generate_batch``). ``batch.wait()`` polls until every item ended
    (on an ``AsyncInfrai`` batch, ``await batch.wait()``)."""

    batch_id: str
    state: Literal["running", "completed"]
    created_at: datetime | None = None
    item_count: int = 0
    counts: BatchCounts = BatchCounts()
    # The server also sends ``items`` (one per request item, in order), read as ``batch["items"]`` (plain
    # dicts) or typed as ``batch.jobs``: a field named ``items`` would hide ``Mapping.items()``.
    _waiter: Any = PrivateAttr(default=None)

    @property
    def jobs(self) -> list[BatchItem]:
        """The items, in request order, each a ``VideoJob`` with its ``index``."""
        return [BatchItem.model_validate(item) for item in (self.model_extra or {}).get("items", [])]

    @property
    def is_final(self) -> bool:
        return self.state == "completed"

    def wait(self, *, timeout: float | None = 600.0) -> Any:
        """Poll until every item has ended and return the batch then (an awaitable of it when the batch
        came from ``AsyncInfrai``). Raises ``infrai.TimeoutError`` (with ``.batch``) after ``timeout``."""
        if self._waiter is None:
            raise RuntimeError("this batch was not made by a client: use client.video.wait_batch(batch_id)")
        return self._waiter(self.batch_id, timeout)


class CancelResult(InfraiModel):
    ok: bool
    job_id: str
    state: JobState


class MeasuredLatency(InfraiModel):
    """Vendor time (accepted → finished) of a model's recent jobs at one resolution and duration."""

    resolution: str
    duration_seconds: int
    samples: int
    p50_seconds: float
    p90_seconds: float
    used_for_eta: bool = False


class VideoModelInfo(InfraiModel):
    """One model of ``GET /v1/video/models``: capabilities, prices, lifecycle and measured times."""

    id: str
    vendor: str
    model: str
    name: str
    available: bool
    resolutions: list[str] = []
    durations_seconds: list[int] = []
    typical_latency_seconds: int | None = None
    measured_latency: list[MeasuredLatency] = []
    lifecycle: Literal["active", "deprecated", "retired"] = "active"
    deprecated_on: date | None = None
    retired_on: date | None = None
    successor: str | None = None
    aliases: list[str] = []


class ModelList(InfraiModel):
    data: list[VideoModelInfo]
    catalog_updated: date | None = None


class WebhookMessageStatus(InfraiModel):
    """One webhook message (one ``webhook-id``) of a job and how its delivery stands."""

    job_id: str
    message_id: str
    event: str
    outcome: Literal["delivered", "failed"]
    attempts: int
    last_outcome: str
    last_status_code: int | None = None
    last_error: str | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None


class WebhookMessagePage(InfraiModel):
    data: list[WebhookMessageStatus]
    has_more: bool = False
    next: str | None = None


class WebhookRedelivery(InfraiModel):
    """How a redelivery went: ``outcome`` ``delivered``, ``failed``, ``gone``, ``refused``, or ``pending``
    when the receiver had not answered yet. ``replayed``: an earlier redelivery with the same key."""

    job_id: str
    message_id: str
    event: str
    outcome: str
    attempt: int | None = None
    status_code: int | None = None
    error: str | None = None
    requested_at: datetime | None = None
    replayed: bool = False

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"
