"""Typed results that also behave as read-only mappings.

The public API promises ``job.get("job_id")`` and ``job["state"]`` as well as ``job.state``, so every
result is a pydantic model that is also a ``Mapping``. Fields the server adds later are kept
(``extra="allow"``): they show up as attributes, as keys and in ``dict(job)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Stage = Literal["submitting", "generating", "rehosting"]
Resolution = Literal["720p", "1080p", "4k"]
Aspect = Literal["16:9", "9:16", "1:1"]
Prefer = Literal["balanced", "cheapest", "smartest"]

FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class InfraiModel(BaseModel, Mapping[str, Any]):
    """Base of every result: attribute access, mapping access, and unknown fields preserved."""

    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        # Extras are read from where pydantic keeps them, not with getattr: a server field named like a
        # Mapping method (GET /v1/account sends ``keys``) would otherwise come back as that method.
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    # BaseModel iterates (name, value) pairs; a Mapping iterates its keys, and dict(model) relies on that.
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        yield from type(self).model_fields
        yield from self.model_extra or {}

    def __len__(self) -> int:
        return len(type(self).model_fields) + len(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (decimals and datetimes as strings), extra fields included."""
        return self.model_dump(mode="json")


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


class Activation(InfraiModel):
    """A project API key. ``created`` is False when activate() reused the saved credentials."""

    project_id: str
    key_id: str | None = None
    api_key: str
    balance_usd: Decimal | None = None
    trial_credits_usd: Decimal | None = None
    created: bool = True


class AccountUsage(InfraiModel):
    jobs_charged: int = 0
    charged_usd: Decimal = Decimal(0)


class Account(InfraiModel):
    project_id: str
    balance_usd: Decimal
    held_usd: Decimal | None = None
    available_usd: Decimal | None = None
    usage: AccountUsage | None = None
    # The server also sends ``keys`` (the project's key ids). It stays an untyped extra, read as
    # ``account["keys"]``: a typed field of that name would hide ``Mapping.keys()``, which dict() relies on.


class Budget(InfraiModel):
    """A project's (``scope="project"``) or a key's caps, None where there is none, and what counts
    against them now: spend is settled charges plus open holds in the UTC day / month."""

    scope: Literal["project", "key"]
    key_id: str | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    max_concurrent_jobs: int | None = None
    spent_today_usd: Decimal = Decimal(0)
    spent_this_month_usd: Decimal = Decimal(0)
    running_jobs: int = 0
    day_resets_at: datetime | None = None
    month_resets_at: datetime | None = None


class Budgets(InfraiModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    project: Budget
    # ``keys`` would hide Mapping.keys() (see Account); the key budgets are ``key_budgets``.
    key_budgets: list[Budget] = Field(default_factory=list, alias="keys")


class UsageLine(InfraiModel):
    """One group of a usage report: its ``day``, ``vendor`` (+ ``model``) or ``key_id``, and the charges."""

    day: date | None = None
    vendor: str | None = None
    model: str | None = None
    key_id: str | None = None
    jobs: int
    charged_usd: Decimal
    charged_micros: int


class UsageTotal(InfraiModel):
    jobs: int
    charged_usd: Decimal
    charged_micros: int


class Usage(InfraiModel):
    """``GET /v1/account/usage``: ``data`` (one line per group) and the ``total``; ``usage["from"]`` and
    ``usage["to"]`` are the UTC days it covers."""

    group_by: str
    data: list[UsageLine]
    total: UsageTotal


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
