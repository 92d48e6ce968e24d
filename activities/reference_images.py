"""Hand a vendor our stored copy of the job's reference image, in the form its adapter takes.

The API fetched the customer's image once, through the SSRF guard, and stored it; the job's spec carries
only the object key. Just before a submit, the copy becomes a data URI (the bytes, read from storage here,
never through Temporal) or a signed URL for vendors that only fetch URLs.
"""

from __future__ import annotations

import asyncio
import base64

from activities.failures import final_error
from core.errors import ErrorCode
from core.models import VideoSpec
from storage import MediaStorage, StorageError
from vendors.base import VideoVendor


class ReferenceImages:
    """The worker's view of stored reference images (built once, with the worker's storage)."""

    def __init__(self, storage: MediaStorage, url_ttl_seconds: int) -> None:
        self._storage = storage
        self._url_ttl_seconds = url_ttl_seconds

    async def spec_for(self, spec: VideoSpec, vendor: VideoVendor) -> VideoSpec:
        """``spec`` with ``reference_image_url`` set to our copy, in ``vendor``'s form (as is without one)."""
        image = spec.reference_image
        if image is None:
            return spec
        if vendor.reference_image_form == "url":
            url = self._storage.signed_url(image.key, self._url_ttl_seconds)
        else:
            try:
                data = await asyncio.to_thread(self._read_all, image.key)
            except StorageError as err:  # missing included
                # Not a vendor problem, and no other vendor would fare better: fail the job, don't fail over.
                message = f"the stored reference image is unreadable: {err}"
                raise final_error(ErrorCode.STORAGE_ERROR, message) from None
            url = f"data:{image.content_type};base64,{base64.b64encode(data).decode('ascii')}"
        return spec.model_copy(update={"reference_image_url": url})

    def _read_all(self, key: str) -> bytes:
        with self._storage.open_reader(key) as reader:
            return reader.read()
