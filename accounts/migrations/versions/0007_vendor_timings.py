"""Honest ETAs: what each submit asked for and when the vendor accepted it, and each finished task's
measured vendor time (accepted → finished), per (vendor, model, resolution, duration) bucket.

Revision ID: 0007_vendor_timings
Revises: 0006_budgets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_vendor_timings"
down_revision: str | None = "0006_budgets"

_BUCKET = ["vendor", "model", "resolution", "duration_seconds", "finished_at"]
_BUCKET_INDEX = "ix_vendor_timings_bucket"  # the naming convention's name is past PostgreSQL's 63 characters


def upgrade() -> None:
    with op.batch_alter_table("vendor_submits") as batch:
        batch.add_column(sa.Column("resolution", sa.String(8), nullable=True))
        batch.add_column(sa.Column("duration_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "vendor_timings",
        sa.Column("attempt_key", sa.String(100), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(40), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vendor_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("attempt_key", name="pk_vendor_timings"),
    )
    op.create_index(_BUCKET_INDEX, "vendor_timings", _BUCKET)


def downgrade() -> None:
    op.drop_index(_BUCKET_INDEX, table_name="vendor_timings")
    op.drop_table("vendor_timings")
    with op.batch_alter_table("vendor_submits") as batch:
        batch.drop_column("accepted_at")
        batch.drop_column("duration_seconds")
        batch.drop_column("resolution")
