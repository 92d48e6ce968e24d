"""A reference image's bytes for vendors that want bytes rather than a URL (Veo).

The workflow hands adapters our stored copy as a data URI, so normally nothing is fetched here. An http(s)
URL (an adapter used on its own) goes through ``core.guarded_fetch`` like every fetch of a customer URL.
"""

from __future__ import annotations

import base64

from pydantic import BaseModel

from core.errors import ErrorCode, VendorError
from core.guarded_fetch import FetchLimits, fetch_image
from core.url_safety import UnsafeUrl, UrlPolicy

# Refusals that say the address itself is off limits; the others are about what it served.
_UNSAFE_REASONS = {
    "unsupported_scheme",
    "malformed_url",
    "credentials_in_url",
    "private_address",
    "metadata_address",
    "unresolvable_host",
    "too_many_redirects",
}


class ReferenceImage(BaseModel):
    data: bytes
    mime_type: str

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


async def fetch_reference_image(url: str, policy: UrlPolicy, limits: FetchLimits) -> ReferenceImage:
    """The checked image at ``url`` (or in a data URI); refusals are ``VendorError`` before any submit."""
    try:
        image = await fetch_image(url, policy, limits)
    except UnsafeUrl as exc:
        message = f"reference image refused: {exc.message}"
        if exc.reason == "timeout":
            raise VendorError(ErrorCode.TIMEOUT, message, retryable=True) from exc
        if exc.reason == "fetch_failed":
            raise VendorError(ErrorCode.INVALID_INPUT, message, retryable=True) from exc
        code = ErrorCode.UNSAFE_URL if exc.reason in _UNSAFE_REASONS else ErrorCode.INVALID_INPUT
        raise VendorError(code, message) from exc
    return ReferenceImage(data=image.data, mime_type=image.content_type)
