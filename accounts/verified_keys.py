"""Recently verified API keys, so most requests skip the database (``AccountStore.authenticate``).

Only positive results are kept, for ``INFRAI_API_KEY_CACHE_SECONDS``; revoking a key forgets it at once in
this process (other processes stop trusting it when their entry expires).
"""

from __future__ import annotations

from core.expiring_map import ExpiringMap
from core.models import ProjectIdentity


class VerifiedKeyCache:
    """Recently verified keys by hash, so most requests skip the database. Positive results only."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._entries = ExpiringMap[str, ProjectIdentity](ttl_seconds, max_entries)

    def get(self, key_hash: str) -> ProjectIdentity | None:
        return self._entries.get(key_hash)

    def put(self, key_hash: str, identity: ProjectIdentity) -> None:
        if self._ttl > 0:
            self._entries.put(key_hash, identity)

    def forget_key(self, key_id: str) -> None:
        for key_hash in [h for h, identity in self._entries.items() if identity.key_id == key_id]:
            self._entries.pop(key_hash)
