"""Alembic migrations: applied on open, safe when several processes start at once, and in step with the
table definitions the code queries."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accounts.migrate import HEAD_REVISION, VERSION_TABLE, alembic_config
from accounts.tables import metadata
from tests.fixtures.accounts import BACKENDS, DatabaseFactory, fetch_all

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENING_PROCESS = """
import asyncio, sys
from accounts.store import AccountStore
from core.settings import Settings

async def main(url):
    store = await AccountStore.open(url, settings=Settings())
    await store.aclose()

asyncio.run(main(sys.argv[1]))
"""


def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_the_head_revision_constant_is_the_migrations_head() -> None:
    """``HEAD_REVISION`` lets a store skip alembic when the schema is current; a new revision must move it."""
    assert _head_revision() == HEAD_REVISION


@pytest.mark.parametrize("backend", BACKENDS)
async def test_four_processes_opening_a_new_database_at_once_all_succeed(
    backend: str, database_factory: DatabaseFactory
) -> None:
    url = database_factory.new(backend)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", OPENING_PROCESS, url, cwd=REPO_ROOT, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    errors = [(await process.communicate())[1].decode()[-2000:] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert fetch_all(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(_head_revision(),)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_migrated_schema_matches_the_table_definitions(
    backend: str, database_factory: DatabaseFactory
) -> None:
    url = database_factory.new(backend)
    opener = await asyncio.create_subprocess_exec(sys.executable, "-c", OPENING_PROCESS, url, cwd=REPO_ROOT)
    assert await opener.wait() == 0
    sync_url = make_url(url)
    if backend == "postgresql":
        sync_url = sync_url.set(drivername="postgresql+psycopg")
    engine = create_engine(sync_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()

    assert differences == []
