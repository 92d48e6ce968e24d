"""Per-key request counters of the rate limits, shared by every API replica.

Revision ID: 0008_rate_limits
Revises: 0007_vendor_timings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_rate_limits"
down_revision: str | None = "0007_vendor_timings"


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "policy", "window_start", name="pk_rate_limit_windows"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_windows")
