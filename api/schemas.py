"""Request and response bodies of the video API (they are the OpenAPI document's schemas)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from api.deadlines import MAX_DEADLINE_SECONDS, MIN_DEADLINE_SECONDS
from core.models import Aspect, ErrorInfo, JobState, Prefer, Resolution, Stage, VideoDimensions
from core.webhook_targets import MAX_WEBHOOK_URL_CHARS

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,254}$"
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$"
MAX_PROMPT_CHARS = 4000
MAX_DURATION_SECONDS = 60
DEFAULT_DURATION_SECONDS = 5
MAX_REFERENCE_URL_CHARS = 8 * 1024 * 1024  # a data: URI of a ~6 MB image

_ALLOWED_CONTROL = {"\n", "\r", "\t"}
WebhookEvent = Literal["running", "succeeded", "failed", "cancelled"]


def _clean_text(value: str, field: str) -> str:
    """Refuse what would corrupt storage or logs downstream: lone surrogates, NUL and control chars."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} contains invalid unicode (a lone surrogate)") from None
    for char in value:
        if char not in _ALLOWED_CONTROL and unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"{field} contains a control character (U+{ord(char):04X})")
    return value


class GenerateRequest(BaseModel):
    """Body of ``POST /v1/video/generate``."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_PROMPT_CHARS,
            description="What to show: up to 4000 characters (code points), not blank, no control "
            "characters other than tab and newlines.",
            # Enforced (with a clearer message) by the validator below; declared so clients and fuzzers
            # know a blank prompt is invalid.
            json_schema_extra={"pattern": r"\S"},
        ),
    ]
    reference_image_url: Annotated[
        str | None,
        Field(
            max_length=MAX_REFERENCE_URL_CHARS,
            description="An http(s) URL of a public image, or a data:image/...;base64 URI, to animate.",
        ),
    ] = None
    duration_seconds: Annotated[
        int | None, Field(ge=1, le=MAX_DURATION_SECONDS, strict=True, description="Default 5 seconds.")
    ] = None
    aspect: Aspect = Aspect.LANDSCAPE
    resolution: Resolution = Resolution.P720
    prefer: Prefer = Prefer.BALANCED
    model: Annotated[str | None, Field(pattern=_NAME_PATTERN, description="Pin a model id.")] = None
    vendor: Annotated[str | None, Field(pattern=_NAME_PATTERN, description="Pin a vendor id.")] = None
    idempotency_key: Annotated[
        str | None,
        Field(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Same key and body → the same job. Also accepted as the Idempotency-Key header.",
        ),
    ] = None
    webhook_url: Annotated[
        str | None,
        Field(
            max_length=MAX_WEBHOOK_URL_CHARS,
            description="An http(s) URL that gets a signed POST (Standard Webhooks) on each state change "
            "in webhook_events; the secret is at GET /v1/account/webhook-secret.",
        ),
    ] = None
    webhook_events: Annotated[
        list[WebhookEvent] | None,
        Field(min_length=1, max_length=4, description="Default: the final states."),
    ] = None
    deadline_seconds: Annotated[
        int | None,
        Field(
            ge=MIN_DEADLINE_SECONDS,
            le=MAX_DEADLINE_SECONDS,
            strict=True,
            description="Cancel the job if it has not finished this many seconds after it started (5 s "
            "to 24 h): the vendor task is stopped as a cancel stops it, a job no vendor had started costs "
            "nothing, and the job ends `cancelled` with error code `deadline_exceeded`. Also accepted as "
            "the Cancel-After header (`90s`, `5m`, `1h30m`).",
        ),
    ] = None

    @field_validator("prompt")
    @classmethod
    def _prompt_has_content(cls, value: str) -> str:
        value = _clean_text(value, "prompt").strip()
        if not value:
            raise ValueError("prompt must not be blank")
        return value

    @field_validator("reference_image_url", "webhook_url")
    @classmethod
    def _url_is_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _clean_text(value, info.field_name or "url").strip()

    def fingerprint(self) -> str:
        """Identifies the request's content (defaults applied, the idempotency key left out)."""
        # Webhook fields and the deadline only when given, so requests without them keep the fingerprint
        # they always had.
        optional = ("webhook_url", "webhook_events", "deadline_seconds")
        unset = {name for name in optional if getattr(self, name) is None}
        body = self.model_dump(mode="json", exclude={"idempotency_key", *unset})
        body["duration_seconds"] = self.duration_seconds or DEFAULT_DURATION_SECONDS
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def money(value: Decimal | None) -> str | None:
    """USD amounts as strings with at least two decimals and no float rounding: "0.25", "0.000125"."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


class JobCostOut(BaseModel):
    estimated_usd: str = Field(description="Estimated cost in USD credits at submission.")
    settled_usd: str | None = Field(None, description="What was finally charged, once settled.")


class VideoMeta(VideoDimensions):
    frame_count: int | None = None
    size_bytes: int
    sha256: str
    content_type: str


class JobWarning(BaseModel):
    code: str = Field(examples=["model_deprecated"])
    message: str


class VideoJob(BaseModel):
    """A video job as clients see it. ``video_url``/``thumbnail_url`` are fresh signed URLs each call."""

    job_id: str = Field(examples=["vid_0123456789abcdefghijklmnop"])
    state: JobState
    stage: Stage | None = None
    progress: int | None = Field(None, ge=0, le=100)
    vendor: str | None = None
    model: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost: JobCostOut
    error: ErrorInfo | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    video: VideoMeta | None = None
    deadline_at: datetime | None = Field(
        None, description="When the job's deadline cancels it if it has not finished (none without one)."
    )
    eta_seconds: int | None = Field(
        None, ge=0, description="Running jobs: seconds until the vendor is expected to finish."
    )
    expected_finish_at: datetime | None = Field(None, description="Running jobs: when that is expected.")
    eta_source: Literal["measured", "catalog"] | None = Field(
        None,
        description="`measured`: the p50/p90 of recent jobs in the same vendor, model, resolution and "
        "duration; `catalog`: the catalog's typical latency (too few measured jobs yet).",
    )
    queue_position: int | None = Field(
        None, ge=0, description="Requests ahead of this one in the vendor's queue, where it reports one."
    )
    warnings: list[JobWarning] = Field(
        default_factory=list, description="E.g. `model_deprecated` on a job started on a deprecated model."
    )


class CancelResult(BaseModel):
    ok: bool = Field(description="True when the job is cancelled or its cancellation is under way.")
    job_id: str
    state: JobState
