"""What our storage holds for a job: the customer's reference image, copied in by the API, and the video the
rehost activity stored. Models, so fields can be added without breaking history (new fields get defaults).
"""

from __future__ import annotations

from pydantic import BaseModel


class StoredImage(BaseModel):
    """A customer's reference image, fetched once by the API through the URL guard and kept in our storage:
    vendors get this copy, so no component fetches the customer's URL again and a job survives it going
    away."""

    key: str
    content_type: str
    size_bytes: int
    sha256: str


class VideoDimensions(BaseModel):
    """How long and how large a stored video is, as the rehost measured it (None: it could not tell).

    The first fields of the video facts customers see (the API's ``video``, a webhook's ``video``)."""

    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None


class StoredVideo(BaseModel):
    video_key: str
    thumbnail_key: str | None = None
    content_type: str = "video/mp4"
    size_bytes: int
    sha256: str
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    frame_count: int | None = None
