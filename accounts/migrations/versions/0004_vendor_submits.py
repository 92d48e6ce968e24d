"""The vendor submit journal: what each submit attempt did, so a retry never creates a second task.

Revision ID: 0004_vendor_submits
Revises: 0003_deleted_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_vendor_submits"
down_revision: str | None = "0003_deleted_jobs"


def upgrade() -> None:
    op.create_table(
        "vendor_submits",
        sa.Column("attempt_key", sa.String(100), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(40), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("task", sa.String(4000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('sending', 'accepted', 'not_created', 'unknown')",
            name="ck_vendor_submits_known_state",
        ),
        sa.PrimaryKeyConstraint("attempt_key", name="pk_vendor_submits"),
    )
    op.create_index("ix_vendor_submits_state_updated_at", "vendor_submits", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_vendor_submits_state_updated_at", table_name="vendor_submits")
    op.drop_table("vendor_submits")
