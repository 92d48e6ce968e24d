"""Hot statements on SQLite in one trip to aiosqlite's thread.

SQLAlchemy's asyncio adapter runs a statement as four trips to the thread aiosqlite keeps per connection
(make a cursor, execute, fetch, close), each a hand-over between threads: about 0.4 ms of CPU per
statement on a loaded two-core host, where the driver's ``execute_fetchall`` takes one trip and ~0.1 ms.
The statements every generate runs (the rate-limit count, the hold's ledger row and its reservation) go
that way on SQLite: compiled once by SQLAlchemy (so the SQL is the same), their parameters converted by the
same type processors SQLAlchemy would apply, their driver errors raised as the exceptions SQLAlchemy would
raise (so ``Database``'s translation of outages, and callers catching ``IntegrityError``, see no change).
Only for statements whose returned columns need no conversion (strings, integers). PostgreSQL keeps
SQLAlchemy's path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

from accounts.tables import ledger_entries

_DIALECT = sqlite.dialect()


@dataclass(frozen=True)
class SqliteStatement:
    """A statement as SQLite runs it: its SQL, its positional parameters' names in order, the values of
    the constant ones, and the type processor of each parameter that has one (timestamps)."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: ClauseElement, column_keys: Sequence[str] | None = None) -> SqliteStatement:
        compiled: Any = statement.compile(dialect=_DIALECT, column_keys=list(column_keys or []) or None)
        processors = {}
        for bind in compiled.binds.values():
            processor = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            if processor is not None:
                processors[bind.key] = processor
        return cls(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params), processors)

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        merged = {**self.constants, **values}
        processors = self.processors
        return [processors[name](merged[name]) if name in processors else merged[name] for name in self.names]


async def sqlite_rows(
    conn: AsyncConnection, statement: SqliteStatement, values: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """Run ``statement`` with ``values`` on ``conn``'s SQLite connection (in its transaction, if one is
    open) in one trip; the rows it returns."""
    driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's Connection
    return await driver_rows(driver, statement, values)


async def driver_rows(
    driver: Any, statement: SqliteStatement, values: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """``statement`` with ``values`` on aiosqlite connection ``driver``, in one trip; the rows it returns.
    A driver error is raised as the exception SQLAlchemy would raise for it."""
    parameters = statement.parameters(values)
    try:
        return list(await driver.execute_fetchall(statement.sql, parameters))
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement.sql, parameters, error, sqlite3.Error) from error


def _ledger_row() -> SqliteStatement:
    """``ledger.record_entry``'s insert: the row unless its (job_id, kind) is there, answering its id."""
    table = ledger_entries
    insert = sqlite.insert(table).on_conflict_do_nothing(index_elements=["job_id", "kind"])
    statement = insert.returning(table.c.entry_id)
    columns = ("key_id", "vendor", "model", "project_id", "job_id", "kind", "amount_micros",
               "uncollected_micros", "reason", "created_at")  # fmt: skip
    return SqliteStatement.of(statement, columns)


LEDGER_ROW = _ledger_row()
