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


def running_views(
    ttl_seconds: float = RUNNING_VIEW_TTL_SECONDS, max_entries: int = RUNNING_VIEW_MAX_ENTRIES
) -> ExpiringMap[str, RunningView]:
    """Job id → its ``RunningView``: least recently read out first when full, each good for a second."""
    return ExpiringMap[str, RunningView](ttl_seconds, max_entries)
