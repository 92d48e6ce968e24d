"""A vendor's task, once a vendor accepted a job, and what the activities that poll, stop and rehost it are
asked and answer. Models, so fields can be added without breaking history (new fields get defaults).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class VendorTask(BaseModel):
    """A task a vendor accepted: the first durable fact of a job. ``links`` keeps vendor-given URLs."""

    vendor: str
    model: str
    task_id: str
    submitted_at: datetime
    links: dict[str, str] = Field(default_factory=dict)


class PollRequest(BaseModel):
    task: VendorTask
    initial_interval_seconds: float = 1.0
    max_interval_seconds: float = 15.0


class PollProgress(BaseModel):
    """Heartbeat details of the poll activity: lets a retry resume and lets status report progress."""

    progress: int | None = None
    vendor_state: str = "pending"
    polls: int = 0
    interval_seconds: float = 1.0
    # For the job's ETA: the vendor's queue position while it reports one (fal's IN_QUEUE), and when the
    # vendor accepted the task (the start of its vendor time).
    queue_position: int | None = None
    accepted_at: datetime | None = None


class CancelVendorRequest(BaseModel):
    task: VendorTask


class VendorCancel(StrEnum):
    """What a vendor-side cancel achieved; the workflow decides the charge from it (design §2).

    - ``stopped``: the vendor stopped the task before it finished; nothing was made, nothing is billed.
    - ``requested``: the vendor took the request but the task may still finish (fal signals a running
      request's runner, which decides; a Replicate prediction still ``processing``): watch it to its end.
    - ``finished``: too late, the task had already ended (fal ``ALREADY_COMPLETED``; Runway and Luma are
      read first so a finished task is never deleted): poll it to learn how it ended, a finished job.
    - ``unsupported``: the vendor has no cancel (Veo, MiniMax, Kling, Luma Agents): the task runs to its
      end, and is watched there so the charge follows what the vendor billed.
    """

    STOPPED = "stopped"
    REQUESTED = "requested"
    FINISHED = "finished"
    UNSUPPORTED = "unsupported"


class RehostRequest(BaseModel):
    job_id: str
    project_id: str
    task: VendorTask
    output_url: str
    thumbnail_url: str | None = None
