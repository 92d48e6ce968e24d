"""Jobs deleted through the API, hidden at once while Temporal removes their executions.

Revision ID: 0003_deleted_jobs
Revises: 0002_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_deleted_jobs"
down_revision: str | None = "0002_webhooks"


def upgrade() -> None:
    op.create_table(
        "deleted_jobs",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_deleted_jobs"),
    )


def downgrade() -> None:
    op.drop_table("deleted_jobs")
