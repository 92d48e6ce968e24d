"""Redelivering a webhook message: the same message (same ``webhook-id``, same body), signed afresh, once.

A job's message and a batch's ``batch.completed`` alike: the listing names both by ``job_id`` (a batch's
id for a batch's) and ``message_id``, and so does a redelivery. It is a new run of a delivery workflow
given the message the original delivery was started with, read back from Temporal's history so the body
is byte-for-byte the same (``jobs.webhook_originals``): the unchanged ``WebhookDelivery`` for a job's, the
``BatchWebhookDelivery`` for a batch's (whose own delivery ran inside its ``VideoBatch`` workflow).
- Its workflow id is ``<job>.webhook.<state>.redelivery`` (``<batch>.webhook.completed.redelivery``), one
  per message, started with conflict policy *fail* and reuse policy *allow duplicate*: while a redelivery
  of the message runs another is refused (``RedeliveryInProgress``, a double click), and once it ended
  the next one is a new run of that id.
- With an ``Idempotency-Key``, a repeat of the latest redelivery's key answers that redelivery (running or
  ended) instead of refusing or sending again.
- One attempt: the timings leave no room for a retry (the retry interval is as long as the whole delivery
  may take, and Temporal schedules no retry that would start past that). A receiver still down answers
  ``failed`` at once; the caller may try again. The original delivery keeps its retries meanwhile.
- Its attempt is recorded like any other, numbered after the message's earlier ones (``attempts_before``).

The caller waits up to the attempt's timeout for its outcome; a slower one answers ``pending``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from accounts.store import AccountStore
from core.ids import is_batch_id
from core.job_timings import JobTimings
from core.models import WebhookAttempt, WebhookReceipt
from jobs.errors import RedeliveryInProgress, WebhookMessageNotFound
from jobs.outages import temporal_outages_translated
from jobs.reads import JobReads
from jobs.snapshots import memo_text
from jobs.webhook_originals import OriginalMessage, batch_original, job_message_state, job_original

PENDING = "pending"
_KEY_MEMO = "idempotency_key"
_BEFORE_MEMO = "attempts_before"
_WAIT_MARGIN_SECONDS = 5.0


def single_attempt(timings: JobTimings) -> JobTimings:
    """Timings under which the delivery workflow makes exactly one attempt (see the module docstring)."""
    whole = timings.webhook_timeout_seconds + 10  # the workflow's start-to-close timeout of an attempt
    return timings.model_copy(
        update={
            "webhook_retry_for_seconds": whole,
            "webhook_retry_initial_seconds": whole,
            "webhook_retry_max_interval_seconds": whole,
        }
    )


@dataclass(frozen=True)
class Redelivery:
    """How a redelivery went: ``outcome`` is the attempt's (``delivered``, ``failed``, ``gone``,
    ``refused``) or ``pending`` when it had not ended within the wait. ``replayed``: an earlier
    redelivery answered a repeated ``Idempotency-Key``. ``job_id`` and ``event`` as the listing says them
    (a batch's id and ``batch.completed`` for a batch's message)."""

    job_id: str
    message_id: str
    event: str
    outcome: str
    attempt: int | None
    status_code: int | None
    error: str | None
    requested_at: datetime
    replayed: bool


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class WebhookRedeliveries:
    def __init__(
        self, client: Client, jobs: JobReads, accounts: AccountStore, task_queue: str, rpc_timeout: timedelta
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._accounts = accounts
        self._task_queue = task_queue
        self._rpc_timeout = rpc_timeout

    async def redeliver(
        self, subject_id: str, message_id: str, project_id: str, idempotency_key: str | None
    ) -> Redelivery:
        """Send the message again (see the module docstring); ``subject_id`` is a job's id, or a batch's.
        ``WebhookMessageNotFound`` for a message that job or batch of this project never sent;
        ``RedeliveryInProgress`` for a double click."""
        state = None
        if not is_batch_id(subject_id):  # a batch's owner is the project its message names, below
            state = job_message_state(subject_id, message_id)
            await self._jobs.ensure_owned(subject_id, project_id)
        digest = _key_digest(idempotency_key) if idempotency_key else None
        async with temporal_outages_translated(4 * self._rpc_timeout.total_seconds()):
            if state is None:
                original = await batch_original(self._client, subject_id, message_id, self._rpc_timeout)
            else:
                original = await job_original(self._client, subject_id, state, self._rpc_timeout)
            if original.message.project_id != project_id:
                raise WebhookMessageNotFound(subject_id, message_id)
            description = await self._repeat_of(original, digest)
            replayed = description is not None
            if description is None:
                description = await self._start(original, digest)
        before = int(await memo_text(description, _BEFORE_MEMO) or 0)
        handle = self._client.get_workflow_handle(
            description.id, run_id=description.run_id, result_type=WebhookReceipt
        )
        return await self._outcome(handle, original, before, description.start_time, replayed)

    async def _latest(self, workflow_id: str) -> WorkflowExecutionDescription | None:
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            return await handle.describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def _repeat_of(
        self, original: OriginalMessage, digest: str | None
    ) -> WorkflowExecutionDescription | None:
        """The latest redelivery when it was made with this same idempotency key."""
        if digest is None:
            return None
        latest = await self._latest(original.redelivery_id)
        if latest is not None and await memo_text(latest, _KEY_MEMO) == digest:
            return latest
        return None

    async def _start(self, original: OriginalMessage, digest: str | None) -> WorkflowExecutionDescription:
        message = original.message
        before = await self._accounts.webhook_log().attempts_of_message(
            message.project_id, original.subject_id, message.message_id
        )
        again = message.model_copy(
            update={"timings": single_attempt(message.timings), "attempts_before": before}
        )
        try:
            handle: WorkflowHandle[object, object] = await self._client.start_workflow(
                original.workflow_name,
                again,
                id=original.redelivery_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                memo={_KEY_MEMO: digest or "", _BEFORE_MEMO: str(before)},
                rpc_timeout=self._rpc_timeout,
            )
        except WorkflowAlreadyStartedError:
            # Another redelivery runs: the same request repeated (same key, raced) is answered with it.
            repeat = await self._repeat_of(original, digest)
            if repeat is None:
                raise RedeliveryInProgress(original.subject_id, message.message_id) from None
            return repeat
        return await handle.describe(rpc_timeout=self._rpc_timeout)

    async def _outcome(
        self,
        handle: WorkflowHandle[object, WebhookReceipt],
        original: OriginalMessage,
        before: int,
        requested_at: datetime,
        replayed: bool,
    ) -> Redelivery:
        outcome, error, receipt = PENDING, None, None
        wait = original.message.timings.webhook_timeout_seconds + _WAIT_MARGIN_SECONDS
        async with temporal_outages_translated(wait + self._rpc_timeout.total_seconds()):
            try:
                receipt = await asyncio.wait_for(handle.result(), wait)
                outcome = "delivered"
            except TimeoutError:
                pass
            except WorkflowFailureError as failure:
                outcome, error = "failed", str(failure.cause or failure)
        attempt = await self._attempt_after(original, before)
        if attempt is not None and outcome != PENDING:
            outcome, error = attempt.outcome, attempt.error
        return Redelivery(
            job_id=original.subject_id,
            message_id=original.message.message_id,
            event=original.event,
            outcome=outcome,
            attempt=attempt.attempt if attempt else (receipt.attempt if receipt else None),
            status_code=attempt.status_code if attempt else (receipt.status_code if receipt else None),
            error=error,
            requested_at=requested_at,
            replayed=replayed,
        )

    async def _attempt_after(self, original: OriginalMessage, before: int) -> WebhookAttempt | None:
        """The redelivery's recorded attempt (None before it was made, or if recording it failed)."""
        message = original.message
        attempts = await self._accounts.webhook_attempts(message.project_id, original.subject_id)
        mine = [a for a in attempts if a.message_id == message.message_id and a.attempt > before]
        return mine[-1] if mine else None
