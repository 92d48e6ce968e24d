"""Turn a request's ``reference_image_url`` into checked image bytes, once, at submit time.

Our workflow sends the image inline (a data URI of our stored copy), so this normally fetches nothing; an
http(s) URL from any other caller goes through the same SSRF guard as the API (``core.guarded_fetch``).
The server keeps the bytes in the task's folder, so a render restarted after a crash does not depend on the
URL still answering.
"""

from __future__ import annotations

from core.guarded_fetch import FetchLimits, fetch_image
from core.url_safety import UnsafeUrl, UrlPolicy


class ReferenceImageError(Exception):
    """The reference image could not be used; the message is safe to show the caller."""


async def load_reference_image(url: str, policy: UrlPolicy, limits: FetchLimits) -> bytes:
    try:
        image = await fetch_image(url, policy, limits)
    except UnsafeUrl as exc:
        raise ReferenceImageError(f"reference image refused ({exc.reason}): {exc.message}") from exc
    return image.data
