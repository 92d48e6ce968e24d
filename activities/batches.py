"""The batch workflow's one long activity: wait until every item of a batch has ended, and say how.

The items are ordinary ``VideoJob`` workflows, which know nothing of their batch, so the batch cannot be
told when they end: it asks. One item at a time, in order (a batch ends when its slowest item does, so
waiting on each in turn costs nothing), with ``describe`` and a growing pause between asks, heartbeating
the index reached, so a worker that dies mid-wait is replaced within a heartbeat timeout and the retry
resumes where it stopped. An item whose workflow does not exist never started (its start failed and the
request was not retried): it counts as failed, and its credit hold is released by housekeeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError, RPCStatusCode

from accounts.money import format_usd
from core.batches import BatchInput, BatchItemOutcome, BatchOutcome
from core.errors import ErrorCode
from core.models import ErrorInfo, JobState
from jobs.snapshots import CLOSED_STATUSES, closed_snapshot

AWAIT_BATCH_ITEMS = "await_batch_items"


class BatchActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=AWAIT_BATCH_ITEMS)
    async def await_batch_items(self, batch: BatchInput) -> BatchOutcome:
        """How every item ended, once the last one did."""
        details = activity.info().heartbeat_details
        index = int(details[0]) if details else 0
        pause = batch.timings.poll_initial_interval_seconds
        while index < len(batch.job_ids):
            activity.heartbeat(index)
            desc = await self._describe(batch.job_ids[index])
            if desc is None or desc.status in CLOSED_STATUSES:
                index += 1
                continue
            await asyncio.sleep(pause)
            pause = min(pause * 2, batch.timings.poll_max_interval_seconds)
        activity.heartbeat(index)
        items = [await self._outcome(i, job_id) for i, job_id in enumerate(batch.job_ids)]
        return BatchOutcome(batch_id=batch.batch_id, finished_at=datetime.now(UTC), items=items)

    async def _outcome(self, index: int, job_id: str) -> BatchItemOutcome:
        desc = await self._describe(job_id)
        if desc is None:
            return BatchItemOutcome(
                index=index,
                job_id=job_id,
                state=JobState.FAILED,
                error=ErrorInfo(code=ErrorCode.VENDOR_ERROR, message="the item's job never started"),
            )
        snapshot = await closed_snapshot(desc)
        settled = snapshot.cost.settled_usd
        return BatchItemOutcome(
            index=index,
            job_id=job_id,
            state=snapshot.state,
            error=snapshot.error,
            settled_usd=format_usd(settled) if settled is not None else None,
        )

    async def _describe(self, job_id: str) -> WorkflowExecutionDescription | None:
        try:
            return await self._client.get_workflow_handle(job_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
