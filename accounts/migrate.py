"""Apply the accounts migrations when a store opens; safe when several processes open at once.

The whole upgrade runs in one transaction that first takes a lock: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL. A second process waits for the first to commit and then finds
the schema at head. Both backends have transactional DDL, so a failed upgrade leaves nothing behind.

A database already at ``HEAD_REVISION`` is recognised with one plain query, before any lock and without
importing alembic (~11 MB a process keeps once imported: the worker and API open the store at start-up).

To write a new revision: add a file to ``migrations/versions`` with ``down_revision`` set to the current
head (``alembic.command.revision`` with ``script_location`` pointing there works too), and set
``HEAD_REVISION`` to it (a test compares the two).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from accounts.database import Database

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from accounts.sealing import SecretSealer

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "accounts_alembic_version"
HEAD_REVISION = "0008_rate_limits"
# ``config.attributes`` key under which a revision that seals existing rows finds the ``SecretSealer``.
SEALER_ATTRIBUTE = "secret_sealer"


def alembic_config(connection: Connection | None = None, sealer: SecretSealer | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes[SEALER_ATTRIBUTE] = sealer
    return config


async def _at_head(database: Database) -> bool:
    """Whether the schema is at head already. Any error (no version table yet, the database down) says
    no: the full path under the lock then migrates, or reports the outage as ever."""
    try:
        async with database.engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).all()  # noqa: S608
    except (DBAPIError, OSError):
        return False
    return [row[0] for row in rows] == [HEAD_REVISION]


async def upgrade_to_head(database: Database, sealer: SecretSealer | None = None) -> None:
    """Migrate to head. ``sealer`` seals the secrets older revisions stored in plain text; without it
    those rows stay as they are (they are still read correctly) until a migration with one runs."""
    if await _at_head(database):
        return
    from alembic import command

    async with database.write() as conn:
        await database.lock_name(conn, "infrai-accounts-migrations")
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn, sealer), "head"))
