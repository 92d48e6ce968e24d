"""Redelivering a webhook message: the same message (same ``webhook-id``, same body), signed afresh, once.

A redelivery is a new run of the unchanged ``WebhookDelivery`` workflow, given the message the job's own
delivery was started with (read back from that workflow's history, so the body is byte-for-byte the same):
- Its workflow id is ``<job>.webhook.<state>.redelivery``, one per message, started with conflict policy
  *fail* and reuse policy *allow duplicate*: while a redelivery of the message runs another is refused
  (``RedeliveryInProgress``, a double click), and once it ended the next one is a new run of that id.
- With an ``Idempotency-Key``, a repeat of the latest redelivery's key answers that redelivery (running or
  ended) instead of refusing or sending again.
- One attempt: the timings leave no room for a retry (the retry interval is as long as the whole delivery
  may take, and Temporal schedules no retry that would start past that). A receiver still down answers
  ``failed`` at once; the caller may try again. The job's own delivery keeps its retries meanwhile.
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
from core.models import JobState, JobTimings, WebhookAttempt, WebhookMessage, WebhookReceipt
from jobs.errors import RedeliveryInProgress, WebhookMessageNotFound
from jobs.outages import temporal_outages_translated
from jobs.reads import JobReads
from jobs.snapshots import memo_text
from workflows.webhook_delivery import WEBHOOK_WORKFLOW_NAME, webhook_message_id, webhook_workflow_id

PENDING = "pending"
_KEY_MEMO = "idempotency_key"
_BEFORE_MEMO = "attempts_before"
_WAIT_MARGIN_SECONDS = 5.0


def redelivery_workflow_id(job_id: str, state: JobState) -> str:
    return webhook_workflow_id(job_id, state) + ".redelivery"


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
    redelivery answered a repeated ``Idempotency-Key``."""

    job_id: str
    message_id: str
    event: JobState
    outcome: str
    attempt: int | None
    status_code: int | None
    error: str | None
    requested_at: datetime
    replayed: bool


def _state_of(job_id: str, message_id: str) -> JobState:
    for state in JobState:
        if webhook_message_id(job_id, state) == message_id:
            return state
    raise WebhookMessageNotFound(job_id, message_id)


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
        self, job_id: str, message_id: str, project_id: str, idempotency_key: str | None
    ) -> Redelivery:
        """Send the job's message again (see the module docstring). ``WebhookMessageNotFound`` for a
        message this job of this project never sent; ``RedeliveryInProgress`` for a double click."""
        state = _state_of(job_id, message_id)
        await self._jobs.ensure_owned(job_id, project_id)
        digest = _key_digest(idempotency_key) if idempotency_key else None
        async with temporal_outages_translated(4 * self._rpc_timeout.total_seconds()):
            message = await self._original(job_id, state)
            if message.project_id != project_id:
                raise WebhookMessageNotFound(job_id, message_id)
            description = await self._repeat_of(job_id, state, digest)
            replayed = description is not None
            if description is None:
                description = await self._start(message, digest)
        before = int(await memo_text(description, _BEFORE_MEMO) or 0)
        handle = self._client.get_workflow_handle(
            description.id, run_id=description.run_id, result_type=WebhookReceipt
        )
        return await self._outcome(handle, message, before, description.start_time, replayed)

    async def _original(self, job_id: str, state: JobState) -> WebhookMessage:
        """The message the job's own delivery workflow was started with (its first history event)."""
        handle = self._client.get_workflow_handle(webhook_workflow_id(job_id, state))
        try:
            async for event in handle.fetch_history_events(page_size=1, rpc_timeout=self._rpc_timeout):
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [message] = await self._client.data_converter.decode(payloads, [WebhookMessage])
                assert isinstance(message, WebhookMessage)
                return message
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        raise WebhookMessageNotFound(job_id, webhook_message_id(job_id, state))

    async def _latest(self, workflow_id: str) -> WorkflowExecutionDescription | None:
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            return await handle.describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def _repeat_of(
        self, job_id: str, state: JobState, digest: str | None
    ) -> WorkflowExecutionDescription | None:
        """The latest redelivery when it was made with this same idempotency key."""
        if digest is None:
            return None
        latest = await self._latest(redelivery_workflow_id(job_id, state))
        if latest is not None and await memo_text(latest, _KEY_MEMO) == digest:
            return latest
        return None

    async def _start(self, message: WebhookMessage, digest: str | None) -> WorkflowExecutionDescription:
        before = await self._accounts.webhook_log().attempts_of_message(
            message.project_id, message.job_id, message.message_id
        )
        again = message.model_copy(
            update={"timings": single_attempt(message.timings), "attempts_before": before}
        )
        workflow_id = redelivery_workflow_id(message.job_id, message.event)
        try:
            handle: WorkflowHandle[object, object] = await self._client.start_workflow(
                WEBHOOK_WORKFLOW_NAME,
                again,
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                memo={_KEY_MEMO: digest or "", _BEFORE_MEMO: str(before)},
                rpc_timeout=self._rpc_timeout,
            )
        except WorkflowAlreadyStartedError:
            # Another redelivery runs: the same request repeated (same key, raced) is answered with it.
            repeat = await self._repeat_of(message.job_id, message.event, digest)
            if repeat is None:
                raise RedeliveryInProgress(message.job_id, message.message_id) from None
            return repeat
        return await handle.describe(rpc_timeout=self._rpc_timeout)

    async def _outcome(
        self,
        handle: WorkflowHandle[object, WebhookReceipt],
        message: WebhookMessage,
        before: int,
        requested_at: datetime,
        replayed: bool,
    ) -> Redelivery:
        outcome, error, receipt = PENDING, None, None
        wait = message.timings.webhook_timeout_seconds + _WAIT_MARGIN_SECONDS
        async with temporal_outages_translated(wait + self._rpc_timeout.total_seconds()):
            try:
                receipt = await asyncio.wait_for(handle.result(), wait)
                outcome = "delivered"
            except TimeoutError:
                pass
            except WorkflowFailureError as failure:
                outcome, error = "failed", str(failure.cause or failure)
        attempt = await self._attempt_after(message, before)
        if attempt is not None and outcome != PENDING:
            outcome, error = attempt.outcome, attempt.error
        return Redelivery(
            job_id=message.job_id,
            message_id=message.message_id,
            event=message.event,
            outcome=outcome,
            attempt=attempt.attempt if attempt else (receipt.attempt if receipt else None),
            status_code=attempt.status_code if attempt else (receipt.status_code if receipt else None),
            error=error,
            requested_at=requested_at,
            replayed=replayed,
        )

    async def _attempt_after(self, message: WebhookMessage, before: int) -> WebhookAttempt | None:
        """The redelivery's recorded attempt (None before it was made, or if recording it failed)."""
        attempts = await self._accounts.webhook_attempts(message.project_id, message.job_id)
        mine = [a for a in attempts if a.message_id == message.message_id and a.attempt > before]
        return mine[-1] if mine else None
