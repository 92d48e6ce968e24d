"""Typed results that also behave as read-only mappings.

The public API promises ``job.get("job_id")`` and ``job["state"]`` as well as ``job.state``, so every
result is a pydantic model that is also a ``Mapping``. Fields the server adds later are kept
(``extra="allow"``): they show up as attributes, as keys and in ``dict(job)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


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
