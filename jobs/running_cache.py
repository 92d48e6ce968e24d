"""What a running job's status reads from its description, kept for a second in the API process.

A running job's status comes from its ``status`` query. The description adds only what the workflow cannot
know itself: whose job it is (the memo's project, fixed when the job started) and the vendor's progress from
the poll activity's last heartbeat. The worker sends heartbeats to Temporal at most every few seconds (it
throttles them: ``worker_max_heartbeat_throttle_seconds``), so describing the job again within a second
reads the same progress. A client that polls a job's status often (the SDKs' waits do) then costs one
Temporal call a time, the query, and not two.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.expiring_map import ExpiringMap
from core.vendor_tasks import PollProgress

RUNNING_VIEW_TTL_SECONDS = 1.0
RUNNING_VIEW_MAX_ENTRIES = 20_000  # a few hundred bytes each


@dataclass(frozen=True)
class RunningView:
    """What the last description of a running job said: its project and the vendor's progress."""

    project_id: str | None
    progress: PollProgress | None


class RunningJobCache:
    """Least-recently-used, bounded map of job id → ``RunningView``, each entry good for a second."""

    def __init__(
        self, ttl_seconds: float = RUNNING_VIEW_TTL_SECONDS, max_entries: int = RUNNING_VIEW_MAX_ENTRIES
    ) -> None:
        self._entries = ExpiringMap[str, RunningView](ttl_seconds, max_entries)

    def get(self, job_id: str) -> RunningView | None:
        return self._entries.get(job_id)

    def put(self, job_id: str, view: RunningView) -> None:
        self._entries.put(job_id, view)

    def forget(self, job_id: str) -> None:
        self._entries.pop(job_id)
