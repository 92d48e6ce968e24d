"""Batches: many generate requests under one idempotency key, held whole or not at all, each item an
ordinary job (``core.batches`` says what a batch is in Temporal).

Making one, in order, so that a retried request always finishes what an interrupted one began:
1. the batch id is derived from (project, idempotency key), or from the request's fingerprint when it has
   no key: a blind retry finds its batch. A batch that exists answers at once (``200``; another body under
   its key: ``BatchConflict``);
2. every item passes the checks of a generate (``JobCreator.prepare``); refusals name their item indexes;
3. every item's credits are held in one transaction (``AccountStore.hold_batch``): one refusal and nothing
   is held;
4. every item starts as a job with an id derived from the batch's (starting an existing one finds it);
5. the ``VideoBatch`` workflow starts last: a batch that exists has all its items started. A start that
   fails before it leaves holds that the retry uses (holds are per job id), or that housekeeping releases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError, RPCStatusCode

from accounts.batch_holds import ItemHold
from accounts.errors import HoldConflict
from accounts.ledger import Attribution
from accounts.money import to_micros
from core.batches import BATCH_WORKFLOW_NAME, BatchInput
from core.ids import batch_id_for_key, batch_item_job_id, is_batch_id
from core.models import JobSnapshot
from jobs.creation import JobCreator, JobRequest, PreparedJob
from jobs.errors import BatchConflict, BatchItemsInvalid, BatchNotFound, JobConflict, JobError, JobNotFound
from jobs.idempotent_start import start_idempotent
from jobs.outages import temporal_outages_translated
from jobs.service import StartedJob
from jobs.snapshots import memo_text

_T = TypeVar("_T")
# How many items of one batch are checked, started, read or cancelled at a time.
_ITEMS_AT_ONCE = 16


@dataclass(frozen=True)
class BatchRequest:
    """A batch as the API parsed it: each item's ``fingerprint`` is its own body's; ``fingerprint`` is the
    whole request's (items, webhook), the idempotency key left out."""

    items: list[JobRequest]
    fingerprint: str
    idempotency_key: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True)
class BatchItem:
    index: int
    job_id: str
    job: JobSnapshot | None  # None: the item's job never started (or was deleted)


@dataclass(frozen=True)
class BatchView:
    batch_id: str
    created_at: datetime
    items: list[BatchItem]
    created: bool = False


def item_fingerprint(batch_fingerprint: str, index: int) -> str:
    """An item job's fingerprint names its batch and place: a different batch under the same key
    conflicts at its first item, even where the two share an item body."""
    return hashlib.sha256(f"{batch_fingerprint}\0{index}".encode()).hexdigest()


async def _each(values: Sequence[_T], run: Callable[[int, _T], Awaitable[object]]) -> None:
    gate = asyncio.Semaphore(_ITEMS_AT_ONCE)

    async def one(index: int, value: _T) -> None:
        async with gate:
            await run(index, value)

    await asyncio.gather(*(one(index, value) for index, value in enumerate(values)))


@dataclass(frozen=True, eq=False)  # a per-request holder of references, like JobCreator
class BatchService:
    creator: JobCreator
    client: Client
    task_queue: str
    rpc_timeout: timedelta

    # -- create ----------------------------------------------------------------------------------------

    async def create(self, request: BatchRequest, project_id: str, key_id: str | None = None) -> BatchView:
        """Start the batch (or find it); ``key_id`` is the API key asking: its caps apply to the batch as
        a whole, and each item's charge is attributed to it."""
        key = request.idempotency_key or f"body:{request.fingerprint}"
        batch_id = batch_id_for_key(project_id, key)
        async with self._outages_translated():
            desc = await self._describe(batch_id)
        if desc is not None:
            if await memo_text(desc, "fingerprint") != request.fingerprint:
                raise BatchConflict(batch_id)
            return await self.status(batch_id, project_id)
        items = [
            dataclasses.replace(
                item, fingerprint=item_fingerprint(request.fingerprint, index), idempotency_key=None
            )
            for index, item in enumerate(request.items)
        ]
        prepared = await self._prepare(items, project_id)
        job_ids = [batch_item_job_id(batch_id, index) for index in range(len(items))]
        holds = [
            ItemHold(
                job_id,
                to_micros(max(c.estimated_cost_usd for c in job.route)),
                job.request.fingerprint,
                Attribution(key_id=key_id, vendor=job.route[0].vendor, model=job.route[0].model),
            )
            for job_id, job in zip(job_ids, prepared, strict=True)
        ]
        try:
            held = await self.creator.accounts.hold_batch(project_id, holds)
        except HoldConflict:
            raise BatchConflict(batch_id) from None
        started = await self._start_items(prepared, job_ids, held, project_id, batch_id)
        created_at = datetime.now(UTC)
        await self._start_batch(
            BatchInput(
                batch_id=batch_id,
                project_id=project_id,
                job_ids=job_ids,
                created_at=created_at,
                webhook_url=request.webhook_url,
                timings=self.creator.settings.job_timings(),
            ),
            request.fingerprint,
        )
        return BatchView(batch_id, created_at, started, created=True)

    async def _prepare(self, items: list[JobRequest], project_id: str) -> list[PreparedJob]:
        prepared: dict[int, PreparedJob] = {}
        failures: list[tuple[int, JobError]] = []

        async def check(index: int, item: JobRequest) -> None:
            try:
                prepared[index] = await self.creator.prepare(item, project_id)
            except JobError as error:
                failures.append((index, error))

        await _each(items, check)
        if failures:
            raise BatchItemsInvalid(sorted(failures, key=lambda failure: failure[0]))
        return [prepared[index] for index in range(len(items))]

    async def _start_items(
        self,
        prepared: list[PreparedJob],
        job_ids: list[str],
        held: list[bool],
        project_id: str,
        batch_id: str,
    ) -> list[BatchItem]:
        """Start every held item (or find it started); an item whose hold was settled already is only
        looked up: it ended, or it never started and its hold was released, and then it never will."""
        started: dict[int, BatchItem] = {}

        async def start(index: int, job: PreparedJob) -> None:
            job_id, fingerprint = job_ids[index], job.request.fingerprint
            found: StartedJob | None
            try:
                if held[index]:
                    found = await self.creator.launch(job, project_id, job_id, job.route)
                else:
                    found = await self.creator.jobs.find_existing(job_id, project_id, fingerprint)
            except JobConflict:
                raise BatchConflict(batch_id) from None
            started[index] = BatchItem(index, job_id, found.snapshot if found is not None else None)

        await _each(prepared, start)
        return [started[index] for index in range(len(prepared))]

    async def _start_batch(self, batch: BatchInput, fingerprint: str) -> None:
        memo = {
            "project": batch.project_id,
            "fingerprint": fingerprint,
            "created_at": batch.created_at.isoformat(),
            "items": len(batch.job_ids),
        }
        async with self._outages_translated():
            await start_idempotent(
                self.client,
                BATCH_WORKFLOW_NAME,
                batch,
                workflow_id=batch.batch_id,
                task_queue=self.task_queue,
                memo=memo,
                rpc_timeout=self.rpc_timeout,
                summary=f"batch of {len(batch.job_ids)} videos",
            )

    # -- read and cancel -------------------------------------------------------------------------------

    async def status(self, batch_id: str, project_id: str) -> BatchView:
        """Every item as its job's status says; ``BatchNotFound`` for another project's batch."""
        desc = await self._owned(batch_id, project_id)
        count = await desc.memo_value("items", 0, type_hint=int)
        created = await memo_text(desc, "created_at")
        job_ids = [batch_item_job_id(batch_id, index) for index in range(count)]
        snapshots: dict[int, JobSnapshot | None] = {}

        async def read(index: int, job_id: str) -> None:
            try:
                snapshots[index] = await self.creator.jobs.status(job_id, project_id)
            except JobNotFound:
                snapshots[index] = None

        await _each(job_ids, read)
        items = [BatchItem(index, job_id, snapshots[index]) for index, job_id in enumerate(job_ids)]
        created_at = datetime.fromisoformat(created) if created else desc.start_time
        return BatchView(batch_id, created_at, items)

    async def cancel(self, batch_id: str, project_id: str) -> BatchView:
        """Cancel every unfinished item through the normal cancel path; the batch as it is then."""
        before = await self.status(batch_id, project_id)
        unfinished = [
            item.job_id for item in before.items if item.job is not None and not item.job.state.is_final
        ]

        async def cancel(_: int, job_id: str) -> None:
            with suppress(JobNotFound):  # deleted meanwhile: nothing to cancel
                await self.creator.jobs.cancel(job_id, project_id)

        await _each(unfinished, cancel)
        return await self.status(batch_id, project_id)

    async def ensure_owned(self, batch_id: str, project_id: str) -> None:
        """``BatchNotFound`` unless the batch is this project's (cheap: its items are not read)."""
        await self._owned(batch_id, project_id)

    async def _owned(self, batch_id: str, project_id: str) -> WorkflowExecutionDescription:
        if not is_batch_id(batch_id):
            raise BatchNotFound(batch_id)
        async with self._outages_translated():
            desc = await self._describe(batch_id)
        if desc is None or await memo_text(desc, "project") != project_id:
            raise BatchNotFound(batch_id)
        return desc

    async def _describe(self, batch_id: str) -> WorkflowExecutionDescription | None:
        try:
            return await self.client.get_workflow_handle(batch_id).describe(rpc_timeout=self.rpc_timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    def _outages_translated(self) -> AbstractAsyncContextManager[None]:
        return temporal_outages_translated(2 * self.rpc_timeout.total_seconds())
