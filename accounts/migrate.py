"""Apply the accounts migrations when a store opens; safe when several processes open at once.

The whole upgrade runs in one transaction that first takes a lock: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL. A second process waits for the first to commit and then finds
the schema at head. Both backends have transactional DDL, so a failed upgrade leaves nothing behind.

To write a new revision: add a file to ``migrations/versions`` with ``down_revision`` set to the current
head (``alembic.command.revision`` with ``script_location`` pointing there works too).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from accounts.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "accounts_alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade_to_head(database: Database) -> None:
    async with database.write() as conn:
        await database.lock_name(conn, "infrai-accounts-migrations")
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))
