"""Alembic environment: runs the revisions on the connection ``accounts.migrate`` hands over.

The caller owns the transaction (and the lock that makes concurrent starts safe), so this file only
configures the context; there is no alembic.ini and no engine of its own.
"""

from __future__ import annotations

from alembic import context

from accounts.migrate import VERSION_TABLE
from accounts.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run accounts migrations through accounts.migrate.upgrade_to_head")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
