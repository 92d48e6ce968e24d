"""Hard budgets: spend and concurrency caps on projects and keys, and who/what each ledger row is for.

Revision ID: 0006_budgets
Revises: 0005_webhook_secret_encryption

Every new column is nullable (no cap; rows written before this revision name no key, vendor or model), so
``ADD COLUMN`` works on both backends without rewriting a table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_budgets"
down_revision: str | None = "0005_webhook_secret_encryption"

_CAP_COLUMNS = (
    ("daily_cap_micros", sa.BigInteger()),
    ("monthly_cap_micros", sa.BigInteger()),
    ("max_concurrent_jobs", sa.Integer()),
)
_ATTRIBUTION_COLUMNS = (
    ("key_id", sa.String(64)),
    ("vendor", sa.String(40)),
    ("model", sa.String(120)),
)


def upgrade() -> None:
    for table in ("projects", "api_keys"):
        for name, cap_type in _CAP_COLUMNS:
            op.add_column(table, sa.Column(name, cap_type, nullable=True))
    for name, text_type in _ATTRIBUTION_COLUMNS:
        op.add_column("ledger_entries", sa.Column(name, text_type, nullable=True))
    # Spend in a period and the usage report read a project's rows by time.
    op.create_index("ix_ledger_entries_project_id_created_at", "ledger_entries", ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_project_id_created_at", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        for name, _ in _ATTRIBUTION_COLUMNS:
            batch.drop_column(name)
    for table in ("projects", "api_keys"):
        with op.batch_alter_table(table) as batch:
            for name, _ in _CAP_COLUMNS:
                batch.drop_column(name)
