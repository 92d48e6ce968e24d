"""Final snapshots of closed jobs, kept in the API process so their status needs no describe.

A closed job's final snapshot (the one the workflow wrote to its memo) never changes, so answering from
memory is as true as asking Temporal again; each answer still mints fresh media URLs. What can change
is whether the job exists at all: a delete through any API process writes a tombstone first, and the
callers check tombstones on every hit, so a deleted job disappears here as everywhere. The entries expire
after a while anyway, for the one operator action that can reopen a closed workflow (a reset).
"""

from __future__ import annotations

from core.expiring_map import ExpiringMap
from core.models import JobSnapshot

# A reset by an operator is the only way a closed job changes; this bounds how long it goes unseen.
CLOSED_SNAPSHOT_TTL_SECONDS = 300.0
CLOSED_SNAPSHOT_MAX_ENTRIES = 20_000  # a few KB each: tens of MB at most


class ClosedJobCache:
    """Least-recently-used, bounded, time-limited map of job id → final snapshot."""

    def __init__(
        self, ttl_seconds: float = CLOSED_SNAPSHOT_TTL_SECONDS, max_entries: int = CLOSED_SNAPSHOT_MAX_ENTRIES
    ) -> None:
        self._entries = ExpiringMap[str, JobSnapshot](ttl_seconds, max_entries)

    def get(self, job_id: str) -> JobSnapshot | None:
        snapshot = self._entries.get(job_id)
        # A copy: callers may adjust what they present, the cached final snapshot must stay as written.
        return snapshot.model_copy(deep=True) if snapshot is not None else None

    def put(self, snapshot: JobSnapshot) -> None:
        if not snapshot.state.is_final:
            raise ValueError(f"only final snapshots are cached, not {snapshot.state.value}")
        self._entries.put(snapshot.job_id, snapshot.model_copy(deep=True))

    def forget(self, job_id: str) -> None:
        self._entries.pop(job_id)

    def __len__(self) -> int:
        return len(self._entries)
