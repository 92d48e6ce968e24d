"""The accounts engine: URL normalisation, SQLite transaction control, and one translation of outages.

Writes go through ``Database.write()``. On PostgreSQL that is a plain transaction; the ledger's
statements take the row locks they need (a conditional UPDATE, ``SELECT ... FOR UPDATE``). On SQLite
writers are serialised twice over: an asyncio lock inside the process (so a burst of holds queues
instead of spinning on the busy timeout), and ``BEGIN IMMEDIATE`` across processes (the API and the
worker share the embedded file; a deferred transaction that reads and then writes could fail with
"database is locked" instead of waiting its turn). WAL mode keeps readers (authenticate) off the
writers' backs.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import ColumnElement, Table, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.sql.dml import Insert
from sqlalchemy.util import await_

from accounts.errors import AccountsUnavailable
from accounts.sqlite_trips import SqliteStatement, driver_rows

_SQLITE_BEGIN_OPTION = "infrai_sqlite_begin"
_SQLITE_NO_BEGIN = "none"  # each statement is its own transaction (``Database.autocommit``)
# Errors that mean "the database is not there or not answering right now": worth a retry, never a bug.
_OUTAGE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)


def async_database_url(database_url: str) -> URL:
    """Map the URLs people write (``sqlite:///f.db``, ``postgresql://...``) to our async drivers."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported accounts database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite_pragmas(*, durable: bool) -> list[str]:
    """What every accounts connection to SQLite says first: WAL, foreign keys, and for one whose commits
    need not wait for the disk (``Database.statistics``) ``synchronous=NORMAL``."""
    pragmas = ["PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON"]
    return pragmas if durable else [*pragmas, "PRAGMA synchronous=NORMAL"]


def _use_sqlite_transactions(engine: AsyncEngine, *, durable: bool) -> None:
    """Let SQLAlchemy, not the sqlite3 module, say BEGIN, so we can choose IMMEDIATE for writes. A durable
    engine's commits wait for the disk (SQLite's default ``synchronous=FULL``); the other's do not."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _sqlite_pragmas(durable=durable):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode == _SQLITE_NO_BEGIN:
            return
        # Said by the driver itself: one trip to aiosqlite's thread, where exec_driver_sql takes three
        # (every write transaction, each generate's hold among them). Its error is SQLAlchemy's, as before.
        statement, driver = f"BEGIN {mode}", conn.connection.driver_connection
        try:
            await_(driver.execute(statement))  # type: ignore[union-attr]  # a checked-out connection has one
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(statement, (), error, sqlite3.Error) from error

    # The engine's own reset-on-return is off (see Database): a connection comes back to the pool after its
    # transaction committed, and the pool's unconditional ROLLBACK cost a trip to aiosqlite's thread per
    # write. Roll back only a transaction SQLite still has open (e.g. after a failed COMMIT).
    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
        driver = record.driver_connection
        if state.asyncio_safe and driver is not None and driver.in_transaction:
            dbapi_connection.rollback()


class Database:
    """The engine plus what it takes to write safely on either backend."""

    def __init__(self, database_url: str, *, connect_timeout: float, pool_size: int, retry_after: int):
        url = async_database_url(database_url)
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.retry_after = retry_after
        self._write_lock = asyncio.Lock()
        self._insert_or_ignore: dict[tuple[str, tuple[str, ...], ColumnElement[Any] | None], Insert] = {}
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        if self.is_sqlite and url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine = self._create_engine(durable=True)
        self._statistics_engine: AsyncEngine | None = None  # made on first use
        self._statistics_driver: aiosqlite.Connection | None = None  # SQLite's, opened on first use

    def _create_engine(self, *, durable: bool) -> AsyncEngine:
        if self.is_sqlite:
            engine = create_async_engine(
                self.url, connect_args={"timeout": self._connect_timeout}, pool_reset_on_return=None
            )
            _use_sqlite_transactions(engine, durable=durable)
            return engine
        connect_args: dict[str, Any] = {"connect_timeout": max(2, round(self._connect_timeout))}
        if not durable:
            connect_args["options"] = "-c synchronous_commit=off"
        return create_async_engine(
            self.url,
            pool_size=self._pool_size,
            max_overflow=self._pool_size,
            pool_pre_ping=True,  # after an outage, replace dead pooled connections instead of failing
            connect_args=connect_args,
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._outages_translated(), self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read_one(self) -> AsyncIterator[AsyncConnection]:
        """For one statement that reads (a statement is consistent on its own): no transaction around it,
        so no BEGIN and ROLLBACK round trips on PostgreSQL (autocommit mode) and no BEGIN on SQLite."""
        async with self._outages_translated(), self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(**{_SQLITE_BEGIN_OPTION: _SQLITE_NO_BEGIN})
                yield conn
            else:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction that commits when the block ends and rolls back entirely when it raises."""
        async with self._outages_translated():
            if self.is_sqlite:
                async with self._write_lock, self.engine.connect() as conn:
                    await conn.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
                    async with conn.begin():
                        yield conn
            else:
                async with self.engine.begin() as conn:
                    yield conn

    @asynccontextmanager
    async def statistics(self) -> AsyncIterator[AsyncConnection]:
        """``autocommit`` for rows that are statistics nothing else depends on (the rate limits' counts, the
        vendors' measured times), on connections whose commits do not wait for the disk: SQLite's
        ``synchronous=NORMAL`` in WAL mode, PostgreSQL's ``synchronous_commit=off``. Waiting for the disk
        cost each such write about a millisecond of fsync here (every rate-limited request made one). A
        crash of a process loses nothing; an OS crash or a power cut can lose the last rows before it
        (never corrupt anything): a key gets a few more requests in that window, an ETA one sample less.
        The ledger, the submit journal and everything else write through the durable engine."""
        if self._statistics_engine is None:
            self._statistics_engine = self._create_engine(durable=False)
        async with self._autocommit(self._statistics_engine) as conn:
            yield conn

    async def statistics_rows(
        self, statement: SqliteStatement, values: Mapping[str, Any]
    ) -> list[Sequence[Any]]:
        """SQLite only: one ``statistics()`` statement in one trip to aiosqlite's thread, on a connection of
        its own kept open, and the rows it returns. Every authorised call's rate-limit count runs here:
        through ``statistics()`` it took a pool checkout, SQLAlchemy's connection handling and a second
        trip for the commit (a statement here commits on its own), most of the count's CPU."""
        async with self._outages_translated(), self._write_lock:
            if self._statistics_driver is None:
                self._statistics_driver = await self._open_statistics_driver()
            return await driver_rows(self._statistics_driver, statement, values)

    async def _open_statistics_driver(self) -> aiosqlite.Connection:
        """A connection as ``statistics()``'s engine opens them on SQLite, each statement its own
        transaction."""
        path = self.url.database or ":memory:"
        try:
            driver = await aiosqlite.connect(path, timeout=self._connect_timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance("connect", (), error, sqlite3.Error) from error
        try:
            await driver.executescript("".join(f"{pragma};" for pragma in _sqlite_pragmas(durable=False)))
        except sqlite3.Error as error:
            await driver.close()
            raise exc.DBAPIError.instance("PRAGMA", (), error, sqlite3.Error) from error
        return driver

    def autocommit(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Statements that each commit on their own: one round trip apiece on PostgreSQL (no BEGIN and
        COMMIT around them). On SQLite no BEGIN IMMEDIATE ... COMMIT around them either, behind the same
        in-process lock as ``write()``: a statement that writes takes SQLite's write lock as it starts, and
        waits its turn for it (the busy timeout) as BEGIN IMMEDIATE would, so it cannot fail on a stale
        read the way a deferred transaction can."""
        return self._autocommit(self.engine)

    @asynccontextmanager
    async def _autocommit(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        """``autocommit`` on ``engine``."""
        if self.is_sqlite:
            async with self._outages_translated(), self._write_lock, engine.connect() as conn:
                await conn.execution_options(**{_SQLITE_BEGIN_OPTION: _SQLITE_NO_BEGIN})
                yield conn
                await conn.commit()  # SQLAlchemy's side of it: SQLite committed each statement already
            return
        async with self._outages_translated(), engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def _outages_translated(self) -> AsyncIterator[None]:
        try:
            yield
        except _OUTAGE_ERRORS as error:
            raise AccountsUnavailable(
                f"accounts database unavailable: {type(error).__name__}", retry_after_seconds=self.retry_after
            ) from error
        except exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            raise AccountsUnavailable(
                "accounts database connection lost", retry_after_seconds=self.retry_after
            ) from error

    def insert_or_ignore(
        self, table: Table, *conflict_columns: str, returning: ColumnElement[Any] | None = None
    ) -> Insert:
        """INSERT that does nothing when the row's unique columns already exist (the idempotency key);
        with ``returning``, the inserted row's value of it (no row: nothing was inserted). Built once per
        shape (hot: every hold) and reused: give the row as the execute parameters."""
        key = (table.name, conflict_columns, returning)
        statement = self._insert_or_ignore.get(key)
        if statement is None:
            dialect_insert = sqlite.insert if self.is_sqlite else postgresql.insert
            statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
            if returning is not None:
                statement = statement.returning(returning)
            self._insert_or_ignore[key] = statement
        return statement

    async def lock_name(self, conn: AsyncConnection, name: str) -> None:
        """Serialise transactions about ``name`` until commit (SQLite writers are serialised already)."""
        if self.is_sqlite:
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def aclose(self) -> None:
        await self.engine.dispose()
        if self._statistics_engine is not None:
            await self._statistics_engine.dispose()
        if self._statistics_driver is not None:
            await self._statistics_driver.close()
            self._statistics_driver = None
