"""The OpenAI videos API's shapes, and how they map onto our jobs.

Read from the official ``openai`` package (``resources/videos.py``, ``types/video*.py``):
- create takes ``prompt``, ``model``, ``seconds`` ("4" | "8" | "12", default "4"), ``size`` ("WxH", default
  "720x1280") and ``input_reference`` (an uploaded image, or ``{"image_url": ...}``), sent as multipart form
  by the SDK (JSON accepted too).
- ``Video``: ``id``, ``object: "video"``, ``created_at``/``completed_at``/``expires_at`` (unix seconds),
  ``model``, ``progress`` (int), ``prompt``, ``seconds`` and ``size`` (strings), ``status`` (``queued`` |
  ``in_progress`` | ``completed`` | ``failed``), ``error`` (``{code, message}``).

Mapping: ``size`` picks the aspect (landscape, portrait or square) and the resolution tier by its short side
(<= 720 → 720p, <= 1080 → 1080p, else 4k); the answer reports the size actually rendered. ``seconds`` is any
whole number 1-60. ``sora-2-pro*`` routes ``smartest``, other ``sora*`` names ``balanced``, and any other
``model`` pins one of our catalog models. A cancelled job is ``failed`` with code ``cancelled``.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from core.models import Aspect, JobSnapshot, JobState, Prefer, Resolution

DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*$")

OpenAIStatus = Literal["queued", "in_progress", "completed", "failed"]
_STATUS: dict[JobState, OpenAIStatus] = {
    JobState.QUEUED: "queued",
    JobState.RUNNING: "in_progress",
    JobState.SUCCEEDED: "completed",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "failed",
}


class OpenAIRequestError(ValueError):
    """A create request we cannot map; ``param`` names the field, as OpenAI errors do."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    error: VideoError | None = None
    model: str
    progress: int
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str
    size: str
    status: OpenAIStatus


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


def parse_size(size: str | None) -> tuple[Aspect, Resolution]:
    match = _SIZE.match(size or DEFAULT_SIZE)
    if not match:
        raise OpenAIRequestError("size", "size must look like 1280x720 (width x height in pixels)")
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 or height == 0:
        raise OpenAIRequestError("size", "size must be positive")
    ratio = width / height
    aspect = Aspect.LANDSCAPE if ratio > 1.2 else Aspect.PORTRAIT if ratio < 1 / 1.2 else Aspect.SQUARE
    short = min(width, height)
    resolution = Resolution.P720 if short <= 720 else Resolution.P1080 if short <= 1080 else Resolution.K4
    return aspect, resolution


def parse_seconds(seconds: str | int | None) -> int:
    # The length is checked before ``int``: a few thousand digits are past Python's int-from-string limit
    # (a ValueError, which was a 500). "060" is still 60; zeros past a handful are not a real request.
    text = str(DEFAULT_SECONDS if seconds is None else seconds).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= 60):
        raise OpenAIRequestError("seconds", "seconds must be a whole number of seconds from 1 to 60")
    return int(text)


def parse_model(model: str | None) -> tuple[Prefer, str | None]:
    """How to route: ``(prefer, pinned model)``."""
    name = (model or "").strip()
    if name.lower().startswith("sora-2-pro"):
        return Prefer.SMARTEST, None
    if not name or name.lower().startswith("sora"):
        return Prefer.BALANCED, None
    return Prefer.BALANCED, name


def image_data_uri(content_type: str | None, data: bytes) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if not kind.startswith("image/"):
        raise OpenAIRequestError("input_reference", "input_reference must be an image (png, jpeg, webp)")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def video_of(snapshot: JobSnapshot) -> Video:
    spec = snapshot.spec
    aspect, resolution = (spec.aspect, spec.resolution) if spec else parse_size(DEFAULT_SIZE)
    width, height = resolution.dimensions(aspect)
    status = _STATUS[snapshot.state]
    error = snapshot.error if status == "failed" else None
    return Video(
        id=snapshot.job_id,
        created_at=int(snapshot.created_at.timestamp()),
        completed_at=_unix(snapshot.finished_at) if snapshot.state.is_final else None,
        error=VideoError(code=error.code, message=error.message) if error else None,
        model=snapshot.model or "unknown",
        progress=100 if snapshot.state is JobState.SUCCEEDED else max(0, min(100, snapshot.progress or 0)),
        prompt=spec.prompt if spec else None,
        seconds=str(spec.duration_seconds) if spec else DEFAULT_SECONDS,
        size=f"{width}x{height}",
        status=status,
    )
