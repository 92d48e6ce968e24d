"""A generate request's reference image: fetched once, here, through the SSRF guard, and kept in our storage.

Fetching at generate time makes every refusal an ``UnsafeInputUrl`` (``422 unsafe_url``) with a ``reason``
the caller can act on, before any credit is held or job started. The workflow and the vendors only ever
see our stored copy, so no other component fetches a customer's URL, and a job survives that URL
disappearing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.guarded_fetch import FetchedImage, FetchLimits, fetch_image
from core.models import StoredImage, VideoSpec
from core.settings import Settings
from core.url_safety import UnsafeUrl, UrlPolicy
from jobs.errors import StorageUnavailable, UnsafeInputUrl
from storage import MediaStorage, StorageError, reference_image_key


async def fetch_reference_image(url: str | None, settings: Settings) -> FetchedImage | None:
    """The checked image (None without a URL); ``UnsafeInputUrl`` when it is refused."""
    if url is None:
        return None
    policy = UrlPolicy.from_settings(settings)
    limits = FetchLimits(
        max_bytes=settings.reference_image_max_bytes,
        timeout_seconds=settings.reference_image_fetch_timeout_seconds,
    )
    try:
        return await fetch_image(url, policy, limits)
    except UnsafeUrl as err:
        raise UnsafeInputUrl("reference_image_url", err.message, err.reason) from None


async def with_stored_reference(
    spec: VideoSpec, image: FetchedImage | None, storage: MediaStorage, project_id: str, job_id: str
) -> VideoSpec:
    """``spec`` carrying our stored copy of ``image`` instead of the customer's URL (as is without one).

    A copy already stored for the job id is kept, not overwritten: the id names one request (its key and
    fingerprint), so that copy is this request's image, stored by a concurrent twin of it or by an earlier
    attempt that died before starting the job, and a started job may already render from it.
    """
    if image is None:
        return spec
    key = reference_image_key(project_id, job_id, image.content_type)
    try:
        stored = await storage.head(key)
        if stored is None:
            stored = await storage.put_stream(key, _one_chunk(image.data), image.content_type)
    except StorageError as err:
        raise StorageUnavailable(str(err)) from err
    copy = StoredImage(
        key=stored.key, content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256
    )
    return spec.model_copy(update={"reference_image_url": None, "reference_image": copy})


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data
