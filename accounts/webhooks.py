"""Webhook signing secrets and the delivery log: the statements, run inside the store's transactions.

The secret is made the first time anything needs it (the account route, a generate with a webhook, or a
delivery) and never changes after, so every reader sees the same one. Two first readers at once both try
to insert; the primary key keeps one and both read it back. It is stored sealed (``accounts.sealing``,
bound to its project); rows written before sealing existed read as they are.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.database import Database
from accounts.sealing import SecretSealer
from accounts.tables import as_utc, webhook_deliveries, webhook_secrets
from core.models import WebhookAttempt

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SEALING_PURPOSE = "webhook-secret"
SECRET_BYTES = 32  # the Standard Webhooks spec asks for 24-64 random bytes
_ERROR_CHARS = 300


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def get_or_create_secret(
    db: Database, conn: AsyncConnection, sealer: SecretSealer, project_id: str, now: datetime
) -> str:
    sealed = sealer.seal(SEALING_PURPOSE, project_id, new_webhook_secret())
    await conn.execute(
        db.insert_or_ignore(webhook_secrets, "project_id").values(
            project_id=project_id, secret=sealed, created_at=now
        )
    )
    stored = await conn.scalar(
        select(webhook_secrets.c.secret).where(webhook_secrets.c.project_id == project_id)
    )
    return sealer.open(SEALING_PURPOSE, project_id, str(stored))


async def record_attempt(conn: AsyncConnection, attempt: WebhookAttempt, now: datetime) -> None:
    await conn.execute(
        insert(webhook_deliveries).values(
            **attempt.model_dump(exclude={"error", "created_at"}),
            error=attempt.error[:_ERROR_CHARS] if attempt.error else None,
            created_at=now,
        )
    )


async def attempts_of_job(conn: AsyncConnection, project_id: str, job_id: str) -> list[WebhookAttempt]:
    rows = await conn.execute(
        select(webhook_deliveries)
        .where(webhook_deliveries.c.project_id == project_id, webhook_deliveries.c.job_id == job_id)
        .order_by(webhook_deliveries.c.delivery_id)
    )
    # A row is an attempt (the model ignores the row's own delivery_id); only the timestamp needs care.
    return [
        WebhookAttempt.model_validate({**row._mapping, "created_at": as_utc(row.created_at)}) for row in rows
    ]
