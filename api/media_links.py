"""The signed links a presented job carries: the storage's signatures, valid for the configured time."""

from __future__ import annotations

from dataclasses import dataclass

from storage import MediaStorage


@dataclass(frozen=True)
class MediaLinks:
    """Mints fresh signed URLs for stored media; every presenter of jobs and batches shares one."""

    storage: MediaStorage
    ttl_seconds: int

    def url(self, key: str) -> str:
        return self.storage.signed_url(key, self.ttl_seconds)
