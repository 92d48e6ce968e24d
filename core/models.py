"""Domain models shared by the API, the workflow and the activities.

Everything that crosses the Temporal boundary is a pydantic model so fields can be added without breaking
history (new fields get defaults). Video bytes never travel through Temporal: only object keys do.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Split out by concern, and importable from here as before: a job's timings, a vendor's task with the
# requests about it, and the media a job keeps in our storage.
from core.job_timings import JobTimings as JobTimings
from core.stored_media import StoredImage as StoredImage
from core.stored_media import StoredVideo as StoredVideo
from core.stored_media import VideoDimensions as VideoDimensions
from core.vendor_tasks import CancelVendorRequest as CancelVendorRequest
from core.vendor_tasks import PollProgress as PollProgress
from core.vendor_tasks import PollRequest as PollRequest
from core.vendor_tasks import RehostRequest as RehostRequest
from core.vendor_tasks import VendorCancel as VendorCancel
from core.vendor_tasks import VendorTask as VendorTask


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Stage(StrEnum):
    SUBMITTING = "submitting"
    GENERATING = "generating"
    REHOSTING = "rehosting"


class Aspect(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"


class Resolution(StrEnum):
    P720 = "720p"
    P1080 = "1080p"
    K4 = "4k"

    @property
    def short_side(self) -> int:
        return {Resolution.P720: 720, Resolution.P1080: 1080, Resolution.K4: 2160}[self]

    def dimensions(self, aspect: Aspect) -> tuple[int, int]:
        """Width and height in pixels of this resolution at ``aspect`` (720p 16:9 is 1280x720)."""
        short = self.short_side
        long = short * 16 // 9
        if aspect is Aspect.LANDSCAPE:
            return long, short
        if aspect is Aspect.PORTRAIT:
            return short, long
        return short, short


class Prefer(StrEnum):
    BALANCED = "balanced"
    CHEAPEST = "cheapest"
    SMARTEST = "smartest"


class ErrorInfo(BaseModel):
    code: str
    message: str
    retryable: bool = False
    billed: bool = False


# How a vendor adapter wants a job's reference image in ``VideoSpec.reference_image_url``: our stored copy
# inline as a data URI, or a signed URL of it that the vendor fetches (vendors that take no inline images).
ReferenceImageForm = Literal["data_uri", "url"]


class VideoSpec(BaseModel):
    """What the customer asked to be rendered, already validated by the API.

    In a job's input ``reference_image`` is our stored copy and ``reference_image_url`` is empty (no
    customer URL, no megabytes of data URI in the history); the submit activity fills
    ``reference_image_url`` with that copy, as a data URI or a signed URL, for the vendor adapter.
    """

    prompt: str
    reference_image_url: str | None = None
    reference_image: StoredImage | None = None
    duration_seconds: int = 5
    aspect: Aspect = Aspect.LANDSCAPE
    resolution: Resolution = Resolution.P720

    @property
    def has_reference_image(self) -> bool:
        return self.reference_image is not None or bool(self.reference_image_url)


class RouteCandidate(BaseModel):
    vendor: str
    model: str
    estimated_cost_usd: Decimal


WEBHOOK_EVENT_STATES = (JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
"""The state changes a webhook can subscribe to (a job is ``queued`` only before anything happened)."""
DEFAULT_WEBHOOK_EVENTS = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class WebhookTarget(BaseModel):
    """Where to announce a job's state changes, and which ones (already vetted by the API)."""

    url: str
    events: list[JobState] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS))


class JobInput(BaseModel):
    """The workflow's one input object: the job and the route the API chose for it."""

    job_id: str
    project_id: str
    spec: VideoSpec
    route: list[RouteCandidate]
    created_at: datetime
    timings: JobTimings = Field(default_factory=JobTimings)
    webhook: WebhookTarget | None = None
    # Cancel the job if it has not finished this many seconds after its workflow started (None: never).
    deadline_seconds: int | None = None


class VendorOutcome(BaseModel):
    """How a vendor task ended, as the poll activity saw it."""

    state: JobState
    output_url: str | None = None
    thumbnail_url: str | None = None
    error: ErrorInfo | None = None
    cost_usd: Decimal | None = None
    polls: int = 0


class SubmitRequest(BaseModel):
    job_id: str
    attempt_key: str
    spec: VideoSpec
    vendor: str
    model: str


class JobCost(BaseModel):
    estimated_usd: Decimal
    settled_usd: Decimal | None = None


class VendorAttempt(BaseModel):
    vendor: str
    model: str
    task_id: str | None = None
    outcome: str


# The snapshot's fields that every view of a job (the API's ``VideoJob``, a webhook's ``data``) shows as they
# are; each view adds its own cost, media and links.
_SHOWN_AS_IS = (
    "job_id",
    "state",
    "stage",
    "progress",
    "vendor",
    "model",
    "created_at",
    "started_at",
    "finished_at",
    "error",
)


class JobSnapshot(BaseModel):
    """The job as the workflow knows it: answered by the ``status`` query and kept in the memo at the end."""

    model_config = ConfigDict(use_enum_values=False)

    job_id: str
    project_id: str
    state: JobState = JobState.QUEUED
    stage: Stage | None = None
    progress: int | None = None
    vendor: str | None = None
    model: str | None = None
    spec: VideoSpec | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost: JobCost
    error: ErrorInfo | None = None
    media: StoredVideo | None = None
    attempts: list[VendorAttempt] = Field(default_factory=list)
    # A cancel arrived; the job still runs while the vendor's answer decides how it ends (design §2).
    cancel_requested: bool = False
    # When the job's deadline cancels it if it has not finished by then (None: no deadline).
    deadline_at: datetime | None = None
    # Never set by the workflow: the API fills them in from the poll activity's last heartbeat (for ETAs).
    queue_position: int | None = None
    vendor_accepted_at: datetime | None = None

    def shown_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SHOWN_AS_IS}


class ProjectIdentity(BaseModel):
    """Who is calling: the project an API key belongs to, and which key (its non-secret id)."""

    project_id: str
    key_id: str


class SettleRequest(BaseModel):
    """Input of the ``settle_job`` activity: how a job ended and what, if anything, it costs the project.

    ``billed`` says whether the project pays: the vendor charged us (success, or a vendor that bills despite
    failure or cancel). When False the hold is released and nothing is charged, whatever ``charge_usd`` is.
    """

    job_id: str
    project_id: str
    outcome: JobState
    charge_usd: Decimal = Decimal(0)
    reason: str = ""
    billed: bool = False


class SettleResult(BaseModel):
    """What settling moved: credits charged, and credits of the hold returned to the available balance.

    ``uncollected_usd`` is the part of a charge above what the project could still pay (a vendor's actual
    cost beyond the estimate and the remaining balance); balances never go negative, we absorb it.
    """

    charged_usd: Decimal
    released_usd: Decimal
    uncollected_usd: Decimal = Decimal(0)


class WebhookEnvelope(BaseModel):
    """What every webhook message carries, whatever it is about (a job's ``WebhookMessage``, a batch's
    ``BatchWebhookMessage``): whose it is, where it goes, when it happened and how its delivery retries.
    ``message_id`` is the Standard Webhooks ``webhook-id``: the same for every attempt."""

    message_id: str
    project_id: str
    url: str
    occurred_at: datetime
    timings: JobTimings = Field(default_factory=JobTimings)
    # Attempts of this message recorded before this delivery started: 0 for the message's own delivery, the
    # count so far for a redelivery (``jobs.webhook_redelivery``), so the attempt numbers carry on.
    attempts_before: int = 0


class WebhookMessage(WebhookEnvelope):
    """One job's state change, delivered (and retried) by the ``WebhookDelivery`` workflow."""

    job_id: str
    event: JobState
    job: JobSnapshot


class WebhookReceipt(BaseModel):
    """A delivered message: which attempt the receiver acknowledged, with what status."""

    attempt: int
    status_code: int


class WebhookAttempt(BaseModel):
    """One delivery attempt as recorded in the accounts DB (``webhook_deliveries``)."""

    job_id: str
    project_id: str
    message_id: str
    event: str
    attempt: int
    outcome: str  # "delivered" | "failed" | "gone" | "refused"
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    created_at: datetime | None = None
