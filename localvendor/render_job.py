"""What the renderer is asked to make and what it hands back."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.models import Aspect, Resolution

FRAMES_PER_SECOND = 24


class RenderCancelled(Exception):
    """The render saw its stop flag and gave up; no file was left at the output path."""


class RenderJob(BaseModel):
    """One video to render. Everything about its look is a function of these fields alone."""

    model_config = ConfigDict(frozen=True)

    prompt: str = Field(min_length=1)
    duration_seconds: int = Field(ge=1, le=600)
    aspect: Aspect = Aspect.LANDSCAPE
    resolution: Resolution = Resolution.P720
    fps: int = Field(default=FRAMES_PER_SECOND, ge=1, le=120)
    reference_image: bytes | None = None

    @property
    def dimensions(self) -> tuple[int, int]:
        return self.resolution.dimensions(self.aspect)

    @property
    def frame_count(self) -> int:
        return self.duration_seconds * self.fps


class RenderResult(BaseModel):
    video_path: Path
    thumbnail_path: Path
    width: int
    height: int
    fps: int
    frame_count: int
    duration_seconds: float
    size_bytes: int
    render_seconds: float
