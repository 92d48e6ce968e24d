"""Webhook signing secrets sealed at rest: a wider column, and every plain-text secret sealed.

Revision ID: 0005_webhook_secret_encryption
Revises: 0004_vendor_submits

The rows are sealed with the ``SecretSealer`` that ``accounts.migrate.upgrade_to_head`` hands over (the
opening store's, from ``INFRAI_ACCOUNTS_ENCRYPTION_KEYS`` or the data folder's key). Run without one, the
column is still widened and the rows stay plain text, which reads correctly. Downgrading opens the rows
again (the old code reads only plain text), so it needs the sealer too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from accounts.migrate import SEALER_ATTRIBUTE
from accounts.sealing import SecretSealer, is_sealed

revision: str = "0005_webhook_secret_encryption"
down_revision: str | None = "0004_vendor_submits"

# Written out rather than imported from accounts.webhooks (see 0001): what this revision sealed with.
_PURPOSE = "webhook-secret"
_OLD = sa.String(100)
_secrets = sa.table("webhook_secrets", sa.column("project_id", sa.String), sa.column("secret", sa.String))


def _sealer() -> SecretSealer | None:
    sealer = context.config.attributes.get(SEALER_ATTRIBUTE)
    return sealer if isinstance(sealer, SecretSealer) else None


def upgrade() -> None:
    with op.batch_alter_table("webhook_secrets") as batch:
        batch.alter_column("secret", type_=sa.String(400), existing_type=_OLD, existing_nullable=False)
    sealer = _sealer()
    if sealer is None:
        return
    connection = op.get_bind()
    for project_id, secret in connection.execute(sa.select(_secrets.c.project_id, _secrets.c.secret)).all():
        if not is_sealed(secret):
            connection.execute(
                _secrets.update()
                .where(_secrets.c.project_id == project_id)
                .values(secret=sealer.seal(_PURPOSE, project_id, secret))
            )


def downgrade() -> None:
    sealer = _sealer()
    connection = op.get_bind()
    rows = connection.execute(sa.select(_secrets.c.project_id, _secrets.c.secret)).all()
    if any(is_sealed(secret) for _, secret in rows) and sealer is None:
        raise RuntimeError("opening sealed webhook secrets needs the sealer: run through accounts.migrate")
    for project_id, secret in rows:
        if sealer is not None and is_sealed(secret):
            connection.execute(
                _secrets.update()
                .where(_secrets.c.project_id == project_id)
                .values(secret=sealer.open(_PURPOSE, project_id, secret))
            )
    with op.batch_alter_table("webhook_secrets") as batch:
        batch.alter_column("secret", type_=_OLD, existing_type=sa.String(400), existing_nullable=False)
