"""The ``VideoBatch`` workflow: a batch's record in Temporal, and its one ``batch.completed`` webhook.

The API holds every item's credits and starts every item as an ordinary ``VideoJob`` *before* it starts
this workflow, so a batch that exists has all its items started. The workflow then waits for them all to
end (``await_batch_items``: one long heartbeating activity, so the history stays a handful of events
however long the items take) and, if the batch has a webhook URL, sends ``batch.completed`` once, with
the same retries as a job's webhook. A delivery that never gets through is logged, never a failed batch.
Cancelling a batch cancels its items (the API does, through the normal cancel path); this workflow simply
sees them end.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from activities.webhooks import WebhookActivities
    from core.batches import (
        BATCH_WORKFLOW_NAME,
        BatchInput,
        BatchOutcome,
        BatchWebhookMessage,
        batch_webhook_message_id,
    )
    from workflows.webhook_delivery import deliver_with_retries

# Items are jobs, each bounded by its own timeouts (hours); the wait only needs an upper bound.
_ITEMS_WAIT_LIMIT = timedelta(days=7)


@workflow.defn(name=BATCH_WORKFLOW_NAME)
class VideoBatchWorkflow:
    @workflow.run
    async def run(self, batch: BatchInput) -> BatchOutcome:
        timings = batch.timings
        outcome = await workflow.execute_activity_method(
            BatchActivities.await_batch_items,
            batch,
            start_to_close_timeout=_ITEMS_WAIT_LIMIT,
            heartbeat_timeout=timedelta(seconds=timings.poll_heartbeat_timeout_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
            ),
            summary="wait for every item of the batch to end",
        )
        if batch.webhook_url is not None:
            await self._announce(batch, outcome)
        return outcome

    async def _announce(self, batch: BatchInput, outcome: BatchOutcome) -> None:
        timings = batch.timings
        message = BatchWebhookMessage(
            message_id=batch_webhook_message_id(batch.batch_id),
            batch_id=batch.batch_id,
            project_id=batch.project_id,
            url=batch.webhook_url or "",
            occurred_at=workflow.now(),
            outcome=outcome,
            timings=timings,
        )
        try:
            await deliver_with_retries(
                WebhookActivities.deliver_batch_webhook, message, timings, summary="send batch.completed"
            )
        except ActivityError as err:
            workflow.logger.warning(
                "batch webhook %s not delivered: %s", message.message_id, err.cause or err
            )
