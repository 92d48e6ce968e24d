"""The webhook delivery activity: one signed POST of a job's state change, each attempt recorded.

Signed per the Standard Webhooks specification with the ``standardwebhooks`` package: ``webhook-id`` (the
same for every attempt of a message, so receivers can drop duplicates), ``webhook-timestamp`` (this attempt)
and ``webhook-signature`` (``v1,`` + HMAC-SHA256 of ``id.timestamp.body`` with the project's secret). The
body is the same for every attempt: ``{"type": "video.job.<state>", "timestamp": ..., "data": <job>}``, or
for a batch's one message ``{"type": "batch.completed", ..., "data": <batch>}`` (``deliver_batch_webhook``).

Temporal retries the activity (the ``WebhookDelivery`` workflow's retry policy: backoff for hours); this
function makes one attempt and says whether another one may help:
- 2xx: delivered. 410 Gone: the receiver asked us to stop, final. Anything else (other statuses, redirects,
  timeouts, refused connections): retry, after ``Retry-After`` when the receiver sent one.
- The URL goes through the SSRF guard again at every attempt (DNS may have changed since generate), and the
  POST goes to the address vetted there. A refusal is final.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from accounts.errors import AccountsUnavailable
from accounts.money import format_usd
from accounts.store import AccountStore
from core.batches import BATCH_COMPLETED, BatchWebhookMessage
from core.errors import ErrorCode
from core.job_timings import JobTimings
from core.models import (
    ErrorInfo,
    JobSnapshot,
    Stage,
    VideoDimensions,
    WebhookAttempt,
    WebhookEnvelope,
    WebhookMessage,
    WebhookReceipt,
)
from core.settings import Settings
from core.url_safety import UnsafeUrl, parse_allowlist
from core.webhook_targets import VettedUrl, vet_webhook_url

logger = logging.getLogger(__name__)

# The activity's name on the wire: workflows call it by method, the API and tests look it up by this name.
DELIVER_WEBHOOK = "deliver_webhook"
DELIVER_BATCH_WEBHOOK = "deliver_batch_webhook"

USER_AGENT = "Infrai-Webhooks/1.0"
WEBHOOK_REJECTED = "webhook_rejected"
WEBHOOK_GONE = "webhook_gone"


class WebhookCost(BaseModel):
    estimated_usd: str
    settled_usd: str | None = None


class WebhookVideo(VideoDimensions):
    size_bytes: int
    sha256: str
    content_type: str


class WebhookJob(BaseModel):
    """The job in a webhook's ``data``. No media URLs: signed URLs expire while a delivery may retry for
    hours, so ``url`` names the job resource, which mints fresh ones."""

    job_id: str
    url: str
    state: str
    stage: Stage | None = None
    progress: int | None = None
    vendor: str | None = None
    model: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost: WebhookCost
    error: ErrorInfo | None = None
    video: WebhookVideo | None = None


def webhook_body(message: WebhookMessage, public_base_url: str) -> str:
    """The message's JSON body, byte-for-byte the same for every attempt."""
    job: JobSnapshot = message.job
    media = job.media
    data = WebhookJob(
        **job.shown_fields(),
        url=f"{public_base_url.rstrip('/')}/v1/video/jobs/{job.job_id}",
        cost=WebhookCost(
            estimated_usd=format_usd(job.cost.estimated_usd),
            settled_usd=format_usd(job.cost.settled_usd) if job.cost.settled_usd is not None else None,
        ),
        video=WebhookVideo.model_validate(media.model_dump()) if media else None,
    )
    return _body(f"video.job.{message.event.value}", message, data.model_dump(mode="json"))


def batch_webhook_body(message: BatchWebhookMessage, public_base_url: str) -> str:
    """``{"type": "batch.completed", "timestamp", "data": {batch_id, url, counts, items}}``, the same bytes
    for every attempt; each item is ``{index, job_id, state, error, settled_usd}``."""
    outcome = message.outcome
    data = {
        "batch_id": message.batch_id,
        "url": f"{public_base_url.rstrip('/')}/v1/video/batches/{message.batch_id}",
        "counts": outcome.counts(),
        "items": [item.model_dump(mode="json") for item in outcome.items],
    }
    return _body(BATCH_COMPLETED, message, data)


def _body(event_type: str, message: WebhookEnvelope, data: dict[str, Any]) -> str:
    """The body every message has, ``{"type", "timestamp", "data"}``, as compact JSON."""
    payload = {
        "type": event_type,
        "timestamp": message.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Outgoing:
    """A message as it goes out: where to, and what its attempts are recorded under (``subject_id``: the
    job's id, or the batch's)."""

    message_id: str
    subject_id: str
    project_id: str
    event: str
    url: str
    timings: JobTimings
    attempts_before: int = 0  # a redelivery's attempts carry on from the message's earlier ones

    @classmethod
    def of(cls, message: WebhookMessage | BatchWebhookMessage) -> Outgoing:
        """A job's message goes out under the job's id and state, a batch's under the batch's id."""
        if isinstance(message, WebhookMessage):
            subject_id, event = message.job_id, message.event.value
        else:
            subject_id, event = message.batch_id, BATCH_COMPLETED
        return cls(
            message_id=message.message_id,
            subject_id=subject_id,
            project_id=message.project_id,
            event=event,
            url=message.url,
            timings=message.timings,
            attempts_before=message.attempts_before,
        )


def signed_headers(secret: str, message_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }


def _pinned(target: VettedUrl) -> tuple[str, str, dict[str, Any]]:
    """The URL rewritten to the vetted address, the Host header, and the TLS server name to present."""
    address = target.addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    parts = urlsplit(target.url)
    url = urlunsplit((parts.scheme, f"{literal}:{target.port}", parts.path or "/", parts.query, ""))
    extensions: dict[str, Any] = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url, parts.netloc, extensions


def _retry_after(response: httpx.Response, cap_seconds: float) -> timedelta | None:
    value = response.headers.get("retry-after", "")
    if not value.isdigit():
        return None
    return timedelta(seconds=min(int(value), cap_seconds))


class WebhookActivities:
    def __init__(self, store: AccountStore, http: httpx.AsyncClient, settings: Settings) -> None:
        self._store = store
        self._http = http
        self._public_base_url = settings.public_base_url
        self._allowlist = parse_allowlist(settings.url_allowlist.split(","))
        self._allow_private = settings.allow_private_urls

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver_webhook(self, message: WebhookMessage) -> WebhookReceipt:
        return await self._deliver(Outgoing.of(message), webhook_body(message, self._public_base_url))

    @activity.defn(name=DELIVER_BATCH_WEBHOOK)
    async def deliver_batch_webhook(self, message: BatchWebhookMessage) -> WebhookReceipt:
        """A batch's ``batch.completed``: signed, sent, retried and recorded (under the batch id) like a
        job's webhook."""
        return await self._deliver(Outgoing.of(message), batch_webhook_body(message, self._public_base_url))

    async def _deliver(self, message: Outgoing, body: str) -> WebhookReceipt:
        attempt = message.attempts_before + activity.info().attempt
        try:
            target = await vet_webhook_url(
                message.url, allowlist=self._allowlist, allow_private=self._allow_private
            )
        except UnsafeUrl as err:
            await self._record(message, attempt, "refused", error=f"{err.reason}: {err.message}")
            raise ApplicationError(
                f"webhook URL refused: {err.message}", type=str(ErrorCode.UNSAFE_URL), non_retryable=True
            ) from None
        secret = await self._secret(message.project_id)
        url, host, extensions = _pinned(target)
        headers = {**signed_headers(secret, message.message_id, body, datetime.now(UTC)), "host": host}
        started = time.monotonic()
        try:
            async with self._http.stream(
                "POST",
                url,
                content=body.encode(),
                headers=headers,
                extensions=extensions,
                timeout=message.timings.webhook_timeout_seconds,
            ) as response:
                status = response.status_code
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
            await self._record(message, attempt, "failed", error=error, started=started)
            raise ApplicationError(f"webhook not delivered: {error}", type=WEBHOOK_REJECTED) from None
        if 200 <= status < 300:
            await self._record(message, attempt, "delivered", status=status, started=started)
            return WebhookReceipt(attempt=attempt, status_code=status)
        if status == 410:
            await self._record(message, attempt, "gone", status=status, started=started)
            raise ApplicationError("the receiver answered 410 Gone", type=WEBHOOK_GONE, non_retryable=True)
        await self._record(message, attempt, "failed", status=status, started=started)
        raise ApplicationError(
            f"the receiver answered {status}",
            type=WEBHOOK_REJECTED,
            next_retry_delay=_retry_after(response, message.timings.webhook_retry_max_interval_seconds),
        )

    async def _secret(self, project_id: str) -> str:
        try:
            return (await self._store.webhook_secret(project_id)).get_secret_value()
        except AccountsUnavailable as err:
            raise ApplicationError(
                str(err),
                type=str(ErrorCode.SERVICE_UNAVAILABLE),
                next_retry_delay=timedelta(seconds=err.retry_after_seconds),
            ) from err

    async def _record(
        self,
        message: Outgoing,
        attempt: int,
        outcome: str,
        *,
        status: int | None = None,
        error: str | None = None,
        started: float | None = None,
    ) -> None:
        """Log the attempt; a DB outage must not turn a delivered webhook into a failed one."""
        duration = int((time.monotonic() - started) * 1000) if started is not None else 0
        record = WebhookAttempt(
            job_id=message.subject_id,
            project_id=message.project_id,
            message_id=message.message_id,
            event=message.event,
            attempt=attempt,
            outcome=outcome,
            status_code=status,
            error=error,
            duration_ms=duration,
        )
        try:
            await self._store.record_webhook_attempt(record)
        except AccountsUnavailable:
            logger.warning("could not record webhook attempt %s of %s", attempt, message.message_id)
