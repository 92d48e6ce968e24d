"""The webhook delivery log read by message: a project's messages across jobs, and one message's last attempt.

``webhook_deliveries`` holds one row per attempt. A *message* (one ``webhook-id``) is the group of its
attempts: ``delivered`` once any attempt was, ``failed`` while none was (its last attempt failed, was
refused, or the receiver answered 410). Messages are listed newest first by their first attempt, which
never moves, so a page boundary stays put while later attempts (retries, redeliveries) are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.engine import Row

from accounts.database import Database
from accounts.tables import as_utc, webhook_deliveries

_log = webhook_deliveries.c


class MessageOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class WebhookMessageSummary:
    """One message and how its delivery stands. ``position`` orders the listing (its first attempt)."""

    position: int
    job_id: str
    message_id: str
    event: str
    outcome: MessageOutcome
    attempts: int
    last_outcome: str
    last_status_code: int | None
    last_error: str | None
    first_attempt_at: datetime
    last_attempt_at: datetime


@dataclass(frozen=True)
class MessagePage:
    messages: list[WebhookMessageSummary]
    has_more: bool


class WebhookDeliveryLog:
    """Reads of the delivery log by message (the attempts are written by ``AccountStore``)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def messages(
        self, project_id: str, *, outcome: MessageOutcome | None, before: int | None, limit: int
    ) -> MessagePage:
        """The project's messages (only those with ``outcome`` when given), newest first, strictly before
        the ``before`` position when given."""
        delivered = func.sum(
            cast(case((_log.outcome == MessageOutcome.DELIVERED.value, 1), else_=0), Integer)
        )
        grouped = (
            select(
                _log.job_id,
                _log.message_id,
                func.min(_log.delivery_id).label("position"),
                func.max(_log.delivery_id).label("last_id"),
                func.count().label("attempts"),
                delivered.label("delivered"),
                func.min(_log.created_at).label("first_at"),
            )
            .where(_log.project_id == project_id)
            .group_by(_log.job_id, _log.message_id)
        )
        if outcome is MessageOutcome.FAILED:
            grouped = grouped.having(delivered == 0)
        elif outcome is MessageOutcome.DELIVERED:
            grouped = grouped.having(delivered > 0)
        if before is not None:
            grouped = grouped.having(func.min(_log.delivery_id) < before)
        summary = grouped.subquery()
        last = webhook_deliveries.alias("last_attempt")
        query = (
            select(summary, last.c.event, last.c.outcome, last.c.status_code, last.c.error, last.c.created_at)
            .join(last, last.c.delivery_id == summary.c.last_id)
            .order_by(summary.c.position.desc())
            .limit(limit + 1)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return MessagePage(messages=[_summary(row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def attempts_of_message(self, project_id: str, job_id: str, message_id: str) -> int:
        """How many attempts of the message are recorded (the highest attempt number)."""
        query = select(func.coalesce(func.max(_log.attempt), 0)).where(
            _log.project_id == project_id, _log.job_id == job_id, _log.message_id == message_id
        )
        async with self._db.read() as conn:
            return int(await conn.scalar(query) or 0)


def _summary(row: Row[Any]) -> WebhookMessageSummary:
    fields = row._mapping
    return WebhookMessageSummary(
        position=int(fields["position"]),
        job_id=fields["job_id"],
        message_id=fields["message_id"],
        event=fields["event"],
        outcome=MessageOutcome.DELIVERED if fields["delivered"] else MessageOutcome.FAILED,
        attempts=int(fields["attempts"]),
        last_outcome=fields["outcome"],
        last_status_code=fields["status_code"],
        last_error=fields["error"],
        first_attempt_at=as_utc(fields["first_at"]),
        last_attempt_at=as_utc(fields["created_at"]),
    )
