"""``client.webhooks``: the project's webhook messages across jobs, and sending one again.

    for message in ai.webhooks.deliveries(outcome="failed"):   # every page, newest first
        ai.webhooks.redeliver(job_id=message.job_id, message_id=message.message_id)

``deliveries`` is an iterator on ``Infrai`` and an async iterator on ``AsyncInfrai``: it fetches the next
page as iteration reaches it. ``deliveries_page`` reads one page (``after`` its ``next``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Generic, Literal, TypeVar, cast
from urllib.parse import quote, urlencode

from infrai.calls import ClientConfig, call
from infrai.effects import Plan
from infrai.models import WebhookMessagePage, WebhookMessageStatus, WebhookRedelivery
from infrai.video import PlanRunner, new_idempotency_key

PageT = TypeVar("PageT")
RedeliveryT = TypeVar("RedeliveryT")

MessageOutcome = Literal["failed", "delivered"]


def deliveries_page_plan(
    config: ClientConfig, outcome: MessageOutcome | None, after: str | None, limit: int | None
) -> Plan[WebhookMessagePage]:
    fields = {"outcome": outcome, "after": after, "limit": limit}
    query = urlencode({name: value for name, value in fields.items() if value is not None})
    request = config.request("GET", "/v1/account/webhook-deliveries" + (f"?{query}" if query else ""))
    return (yield from call(config, request, WebhookMessagePage, repeatable=True))


def redeliver_plan(
    config: ClientConfig, job_id: str, message_id: str, idempotency_key: str
) -> Plan[WebhookRedelivery]:
    # The key is built into the request once, so a retry repeats it and is answered with the first
    # redelivery instead of a 409 (or a second POST to the receiver).
    message = f"webhook-deliveries/{quote(message_id, safe='')}"
    path = f"/v1/video/jobs/{quote(job_id, safe='')}/{message}/redeliver"
    request = config.request("POST", path, headers={"Idempotency-Key": idempotency_key})
    return (yield from call(config, request, WebhookRedelivery, repeatable=True))


class WebhooksResource(Generic[PageT, RedeliveryT]):
    def __init__(self, config: ClientConfig, run: PlanRunner) -> None:
        self._config = config
        self._run = run

    def deliveries_page(
        self, *, outcome: MessageOutcome | None = None, after: str | None = None, limit: int | None = None
    ) -> PageT:
        """One page of the project's messages (``limit`` 1-100, default 20); its ``next`` is the ``after``
        of the page that follows."""
        return cast(PageT, self._run(deliveries_page_plan(self._config, outcome, after, limit)))

    def redeliver(self, *, job_id: str, message_id: str, idempotency_key: str | None = None) -> RedeliveryT:
        """Send the message again, once: the same ``webhook-id`` and body, signed now. The result says how
        the receiver answered (``delivered``, ``failed``, ...; ``pending`` if it had not yet). Raises
        ``ConflictError`` while another redelivery of it runs, ``NotFoundError`` for no such message."""
        key = idempotency_key or new_idempotency_key()
        return cast(RedeliveryT, self._run(redeliver_plan(self._config, job_id, message_id, key)))


class Webhooks(WebhooksResource[WebhookMessagePage, WebhookRedelivery]):
    def deliveries(
        self, *, outcome: MessageOutcome | None = None, limit: int | None = None
    ) -> Iterator[WebhookMessageStatus]:
        """Every message of the project (``outcome``: only ``failed`` or ``delivered`` ones), newest first,
        fetched ``limit`` at a time."""
        after: str | None = None
        while True:
            page = self.deliveries_page(outcome=outcome, after=after, limit=limit)
            yield from page.data
            if not page.has_more or page.next is None:
                return
            after = page.next


class AsyncWebhooks(WebhooksResource[Awaitable[WebhookMessagePage], Awaitable[WebhookRedelivery]]):
    async def deliveries(
        self, *, outcome: MessageOutcome | None = None, limit: int | None = None
    ) -> AsyncIterator[WebhookMessageStatus]:
        """As ``Webhooks.deliveries``, for ``async for``."""
        after: str | None = None
        while True:
            page = await self.deliveries_page(outcome=outcome, after=after, limit=limit)
            for message in page.data:
                yield message
            if not page.has_more or page.next is None:
                return
            after = page.next
