"""The ``BatchWebhookDelivery`` workflow: a batch's ``batch.completed`` sent on its own, outside its batch.

The ``VideoBatch`` workflow sends its one message itself; this workflow exists for a redelivery of that
message (``jobs.webhook_redelivery``), as ``WebhookDelivery`` delivers a job's: it runs the same
``deliver_batch_webhook`` activity with the message's timings (one attempt, for a redelivery) and fails,
never retried as a workflow, when the message did not get through.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from core.batches import BatchWebhookMessage
    from core.models import WebhookReceipt
    from workflows.webhook_delivery import delivered_or_failed

BATCH_WEBHOOK_WORKFLOW_NAME = "BatchWebhookDelivery"


@workflow.defn(name=BATCH_WEBHOOK_WORKFLOW_NAME)
class BatchWebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, message: BatchWebhookMessage) -> WebhookReceipt:
        return await delivered_or_failed(
            WebhookActivities.deliver_batch_webhook, message, summary="send batch.completed"
        )
