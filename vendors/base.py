"""The small protocol every vendor adapter implements.

An adapter translates our ``VideoSpec`` into the vendor's wire format and the vendor's answers and errors
into our taxonomy (``VendorError`` with an ``ErrorCode``), once, here. It never sees Temporal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from core.models import ErrorInfo, ReferenceImageForm, VendorCancel, VendorTask, VideoSpec


class VendorStatus(BaseModel):
    """One poll's view of a vendor task."""

    state: str  # "pending" | "running" | "succeeded" | "failed" | "cancelled"
    progress: int | None = None  # 0-100 when the vendor reports it
    output_url: str | None = None
    thumbnail_url: str | None = None
    error: ErrorInfo | None = None  # set when state is "failed", already in our taxonomy
    cost_usd: Decimal | None = None  # the vendor's own figure for what it billed, when it reports one
    queue_position: int | None = None  # requests ahead of this one in the vendor's queue (fal), when told

    @property
    def is_final(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


class VideoVendor(Protocol):
    """What the activities need from a vendor."""

    name: str
    reference_image_form: ReferenceImageForm
    # True where the vendor itself answers a repeated submit under the same key with the same task (the
    # local vendor's Idempotency-Key): a retried submit may then simply send again.
    idempotent_submit: bool

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        """Create the vendor task. Raises ``VendorError`` (``accepted=False``) when nothing was created."""
        ...

    async def poll(self, task: VendorTask) -> VendorStatus:
        """Read the task's state once. Raises ``VendorError`` on transport or protocol failure."""
        ...

    async def cancel(self, task: VendorTask) -> VendorCancel:
        """Ask the vendor to stop the task: ``stopped``, ``finished`` (it had already ended) or
        ``unsupported`` (the vendor has no cancel). Raises ``VendorError`` when the answer is unknown."""
        ...

    def download_headers(self, task: VendorTask, url: str) -> dict[str, str]:
        """Headers needed to download the vendor's output (e.g. an API key); secrets stay in the worker."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TaskFinder(Protocol):
    """An adapter that can find a task it created by our idempotency key (Kling's ``external_task_id``).

    Only such vendors get an ambiguous submit retried: the retry looks the task up before creating another.
    Kling is the only one today; every other adapter's docstring says why its vendor offers no reliable
    lookup (the local vendor needs none: its ``Idempotency-Key`` makes a repeated submit return the task).
    """

    async def find_task(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask | None:
        """The task created under ``idempotency_key``, or None when the vendor has none."""
        ...
