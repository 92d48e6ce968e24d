"""The local vendor's request and response bodies (documented in ``localvendor.server``)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from core.models import Aspect, Resolution
from localvendor.task_store import TaskRecord, TaskStatus

MODELS = ("local-preview",)
MAX_DURATION_SECONDS = 60
MAX_PROMPT_CHARS = 4000


class GenerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: StrictStr
    prompt: StrictStr = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    duration_seconds: StrictInt = Field(default=5, ge=1, le=MAX_DURATION_SECONDS)
    aspect: Aspect = Aspect.LANDSCAPE
    resolution: Resolution = Resolution.P720
    reference_image_url: StrictStr | None = None

    def fingerprint(self) -> str:
        """Identifies the request body for idempotency: same fields and values, same fingerprint."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class GenerationOutput(BaseModel):
    video_url: str
    thumbnail_url: str


class GenerationError(BaseModel):
    code: str
    message: str


class Generation(BaseModel):
    """A task as the API shows it."""

    id: str
    object: str = "generation"
    model: str
    status: TaskStatus
    progress: int
    prompt: str
    duration_seconds: int
    aspect: Aspect
    resolution: Resolution
    has_reference_image: bool
    attempts: int  # renders started for this task: 2 after a restart mid-render
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    output: GenerationOutput | None
    error: GenerationError | None

    @classmethod
    def of(cls, record: TaskRecord, progress: int, base_url: str) -> Generation:
        output = None
        if record.status is TaskStatus.SUCCEEDED:
            prefix = f"{base_url.rstrip('/')}/v1/generations/{record.id}"
            output = GenerationOutput(
                video_url=f"{prefix}/video.mp4", thumbnail_url=f"{prefix}/thumbnail.jpg"
            )
        error = None
        if record.error_code is not None:
            error = GenerationError(code=record.error_code, message=record.error_message or record.error_code)
        return cls(
            id=record.id,
            model=record.model,
            status=record.status,
            progress=progress,
            prompt=record.prompt,
            duration_seconds=record.duration_seconds,
            aspect=record.aspect,
            resolution=record.resolution,
            has_reference_image=record.has_reference_image,
            attempts=record.render_attempts,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            output=output,
            error=error,
        )


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
