"""Projects, API keys (hashes only), the ledger and activation records.

Revision ID: 0001_accounts
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_accounts"
down_revision: str | None = None

# Written out rather than imported from accounts.tables: a revision must keep creating the schema it
# created the day it was written, whatever the tables module says later.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("balance_micros", sa.BigInteger(), nullable=False),
        sa.Column("held_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("project_id", name="pk_projects"),
        sa.CheckConstraint("held_micros >= 0", name="ck_projects_held_not_negative"),
        sa.CheckConstraint("balance_micros >= held_micros", name="ck_projects_balance_covers_held"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("revoked_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.project_id"], name="fk_api_keys_project_id_projects"
        ),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("uncollected_micros", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.project_id"], name="fk_ledger_entries_project_id_projects"
        ),
        sa.UniqueConstraint("job_id", "kind", name="uq_ledger_entries_job_id_kind"),
        sa.CheckConstraint("amount_micros >= 0", name="ck_ledger_entries_amount_not_negative"),
        sa.CheckConstraint(
            "kind IN ('grant', 'hold', 'release', 'charge')", name="ck_ledger_entries_known_kind"
        ),
    )
    op.create_index("ix_ledger_entries_project_id_kind", "ledger_entries", ["project_id", "kind"])
    op.create_index("ix_ledger_entries_kind_created_at", "ledger_entries", ["kind", "created_at"])
    op.create_table(
        "activations",
        sa.Column("activation_id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("activation_id", name="pk_activations"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.project_id"], name="fk_activations_project_id_projects"
        ),
    )
    op.create_index("ix_activations_client_hash_created_at", "activations", ["client_hash", "created_at"])


def downgrade() -> None:
    op.drop_table("activations")
    op.drop_table("ledger_entries")
    op.drop_table("api_keys")
    op.drop_table("projects")
