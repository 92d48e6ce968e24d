"""The message a redelivery sends again, read back from where its first delivery was started.

A message's body is made from what its delivery was started with (``occurred_at`` included, which only
the workflow's clock knew), so a redelivery reads that input back from Temporal's history rather than
rebuilding it; the same input makes byte-for-byte the same body:
- a job's message: the input of the job's ``WebhookDelivery`` child (its first history event);
- a batch's ``batch.completed``: the input the ``VideoBatch`` workflow scheduled its one
  ``deliver_batch_webhook`` activity with (that workflow sends it itself; its history is a handful of
  events). A batch without a webhook, or whose items are still running, has no such message yet.
A redelivery is then started as ``workflow_name`` (``WebhookDelivery`` or ``BatchWebhookDelivery``) with
that input, under ``redelivery_id``: one workflow id per message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.batches import BATCH_COMPLETED, BatchWebhookMessage, batch_webhook_message_id
from core.models import JobState, WebhookMessage
from jobs.errors import WebhookMessageNotFound
from workflows.batch_webhook_delivery import BATCH_WEBHOOK_WORKFLOW_NAME
from workflows.webhook_delivery import WEBHOOK_WORKFLOW_NAME, webhook_message_id, webhook_workflow_id

_DELIVER_BATCH_WEBHOOK = "deliver_batch_webhook"  # activities.webhooks.DELIVER_BATCH_WEBHOOK


@dataclass(frozen=True)
class OriginalMessage:
    """A message as first sent. ``subject_id``: the job's id, or the batch's (what its attempts are
    recorded and listed under, as ``job_id``); ``event``: as the listing says it."""

    message: WebhookMessage | BatchWebhookMessage
    subject_id: str
    event: str
    workflow_name: str
    redelivery_id: str


def job_redelivery_id(job_id: str, state: JobState) -> str:
    return webhook_workflow_id(job_id, state) + ".redelivery"


def batch_redelivery_id(batch_id: str) -> str:
    return f"{batch_id}.webhook.completed.redelivery"


def job_message_state(job_id: str, message_id: str) -> JobState:
    """The state change a job's message announces; ``WebhookMessageNotFound`` for no such message id."""
    for state in JobState:
        if webhook_message_id(job_id, state) == message_id:
            return state
    raise WebhookMessageNotFound(job_id, message_id)


async def job_original(
    client: Client, job_id: str, state: JobState, rpc_timeout: timedelta
) -> OriginalMessage:
    """The message the job's own delivery workflow was started with."""
    message_id = webhook_message_id(job_id, state)
    async for event in _history(client, webhook_workflow_id(job_id, state), job_id, message_id, rpc_timeout):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [message] = await client.data_converter.decode(payloads, [WebhookMessage])
        assert isinstance(message, WebhookMessage)
        return OriginalMessage(
            message, job_id, state.value, WEBHOOK_WORKFLOW_NAME, job_redelivery_id(job_id, state)
        )
    raise WebhookMessageNotFound(job_id, message_id)


async def batch_original(
    client: Client, batch_id: str, message_id: str, rpc_timeout: timedelta
) -> OriginalMessage:
    """The ``batch.completed`` message the batch's workflow scheduled its delivery with."""
    if message_id != batch_webhook_message_id(batch_id):
        raise WebhookMessageNotFound(batch_id, message_id)
    async for event in _history(client, batch_id, batch_id, message_id, rpc_timeout):
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name != _DELIVER_BATCH_WEBHOOK:
            continue  # another event (an unset field reads as empty), or the wait for the items
        [message] = await client.data_converter.decode(scheduled.input.payloads, [BatchWebhookMessage])
        assert isinstance(message, BatchWebhookMessage)
        return OriginalMessage(
            message, batch_id, BATCH_COMPLETED, BATCH_WEBHOOK_WORKFLOW_NAME, batch_redelivery_id(batch_id)
        )
    raise WebhookMessageNotFound(batch_id, message_id)


async def _history(
    client: Client, workflow_id: str, subject_id: str, message_id: str, rpc_timeout: timedelta
) -> AsyncIterator[HistoryEvent]:
    """The workflow's history events, first first; no such workflow is no such message."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        async for event in handle.fetch_history_events(rpc_timeout=rpc_timeout):
            yield event
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise WebhookMessageNotFound(subject_id, message_id) from None
