"""The ``BatchWebhookDelivery`` workflow: a batch's ``batch.completed`` sent on its own, outside its batch.

The ``VideoBatch`` workflow sends its one message itself; this workflow exists for a redelivery of that
message (``jobs.webhook_redelivery``), as ``WebhookDelivery`` delivers a job's: it runs the same
``deliver_batch_webhook`` activity with the message's timings (one attempt, for a redelivery) and fails,
never retried as a workflow, when the message did not get through.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from core.batches import BatchWebhookMessage
    from core.models import WebhookReceipt
    from workflows.webhook_delivery import deliver_with_retries

BATCH_WEBHOOK_WORKFLOW_NAME = "BatchWebhookDelivery"


@workflow.defn(name=BATCH_WEBHOOK_WORKFLOW_NAME)
class BatchWebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, message: BatchWebhookMessage) -> WebhookReceipt:
        try:
            return await deliver_with_retries(
                WebhookActivities.deliver_batch_webhook,
                message,
                message.timings,
                summary="send batch.completed",
            )
        except ActivityError as err:
            raise ApplicationError(
                f"webhook {message.message_id} not delivered: {err.cause or err}",
                type="webhook_not_delivered",
                non_retryable=True,
            ) from None
