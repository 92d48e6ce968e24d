"""Webhook delivery: one small workflow per (job, state change), started by the job and then left alone.

The ``VideoJob`` workflow starts a ``WebhookDelivery`` child for each state change the customer asked for,
with parent-close policy *abandon*: the job ends (``succeeded``, its workflow closed) at once, while the
child retries its one ``deliver_webhook`` activity with backoff for hours (``JobTimings.webhook_*``). Each
attempt is recorded by the activity (``webhook_deliveries``); the child's own history in the Temporal UI
shows the last failure and how it ended. A delivery that never gets through fails the child, never the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from core.batches import BatchWebhookMessage
    from core.job_timings import JobTimings
    from core.models import JobInput, JobSnapshot, JobState, WebhookMessage, WebhookReceipt

WEBHOOK_WORKFLOW_NAME = "WebhookDelivery"

_Message = TypeVar("_Message", WebhookMessage, BatchWebhookMessage)


def webhook_workflow_id(job_id: str, state: JobState) -> str:
    return f"{job_id}.webhook.{state.value}"


def webhook_message_id(job_id: str, state: JobState) -> str:
    """The Standard Webhooks ``webhook-id``: stable, so a receiver can recognise a repeated message."""
    return f"msg_{job_id}_{state.value}"


async def deliver_with_retries(
    deliver: Callable[[WebhookActivities, _Message], Awaitable[WebhookReceipt]],
    message: _Message,
    timings: JobTimings,
    summary: str | None = None,
) -> WebhookReceipt:
    """One delivery activity, retried with backoff (``JobTimings.webhook_*``) until it gets through or
    ``webhook_retry_for_seconds`` runs out; a job's and a batch's webhooks retry alike."""
    return await workflow.execute_activity_method(
        deliver,
        message,
        start_to_close_timeout=timedelta(seconds=timings.webhook_timeout_seconds + 10),
        schedule_to_close_timeout=timedelta(seconds=timings.webhook_retry_for_seconds),
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=timings.webhook_retry_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=timings.webhook_retry_max_interval_seconds),
        ),
        summary=summary,
    )


async def delivered_or_failed(
    deliver: Callable[[WebhookActivities, _Message], Awaitable[WebhookReceipt]],
    message: _Message,
    summary: str | None = None,
) -> WebhookReceipt:
    """A delivery workflow's whole run (``WebhookDelivery``, ``BatchWebhookDelivery``): the message's
    receipt, or, once its retries ran out, the workflow fails (not retried) saying why."""
    try:
        return await deliver_with_retries(deliver, message, message.timings, summary)
    except ActivityError as err:
        raise ApplicationError(
            f"webhook {message.message_id} not delivered: {err.cause or err}",
            type="webhook_not_delivered",
            non_retryable=True,
        ) from None


@workflow.defn(name=WEBHOOK_WORKFLOW_NAME)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, message: WebhookMessage) -> WebhookReceipt:
        return await delivered_or_failed(WebhookActivities.deliver_webhook, message)


class JobWebhooks:
    """The job workflow's side: start one delivery per subscribed state change, never wait for it.

    ``announce`` is called from synchronous bookkeeping, so it only schedules the child's start;
    ``started`` is awaited before the job workflow returns, so no start is lost with its end.
    """

    def __init__(self, job: JobInput) -> None:
        self._job = job
        self._announced: set[JobState] = set()
        self._starting: list[asyncio.Task[None]] = []

    def announce(self, snapshot: JobSnapshot) -> None:
        target = self._job.webhook
        state = snapshot.state
        if target is None or state not in target.events or state in self._announced:
            return
        self._announced.add(state)
        message = WebhookMessage(
            message_id=webhook_message_id(self._job.job_id, state),
            job_id=self._job.job_id,
            project_id=self._job.project_id,
            event=state,
            url=target.url,
            occurred_at=workflow.now(),
            job=snapshot.model_copy(deep=True),
            timings=self._job.timings,
        )
        self._starting.append(asyncio.create_task(self._start(message)))

    async def _start(self, message: WebhookMessage) -> None:
        try:
            await workflow.start_child_workflow(
                WEBHOOK_WORKFLOW_NAME,
                message,
                id=webhook_workflow_id(message.job_id, message.event),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except Exception as err:  # a webhook must never fail the job
            workflow.logger.warning("webhook %s not started: %s", message.message_id, err)

    async def started(self) -> None:
        if self._starting:
            await asyncio.gather(*self._starting)
