"""The balance reservation of a hold, which also reads the caps the hold must respect: one statement.

``reserve`` is the conditional UPDATE that moves credits from available to held; its RETURNING clause
answers the project's caps (the row it just locked) and the placing key's caps (a primary-key lookup of
``api_keys``). A hold of a project and key with no caps, the usual case, so costs the ledger row and this
one statement: no separate read of the caps under a lock (``accounts.budgets``), which cost as much as the
rest of the hold together.

Why that is as safe as locking the row and then reading the caps: the UPDATE takes the same row lock
(``FOR NO KEY UPDATE`` on PostgreSQL; SQLite writers are serialised already) and holds it until commit.
On PostgreSQL a hold that waited for the lock re-reads the row as committed by the one before it, so the
project's caps it returns include any cap another replica set (a project cap is a write of this row, so
it queues on the same lock). A key's caps are read by the statement as the database has them when it
runs, as the separate read did. The spend that the caps are compared with is read by a later statement
(``budgets.check_caps``), which on PostgreSQL sees every hold committed before this one got the lock.
A hold refused by a cap rolls the reservation back with the rest of its transaction.

A keyed hold must not place a hold for a deleted job: the same UPDATE then also reserves nothing for a job
id in ``deleted_jobs``, and only a hold that reserved nothing reads that table again (``refuse_deleted``),
to tell a deleted job from too few credits. A read of its own before every keyed hold cost as much CPU as the
rest of the hold's statements together (aiosqlite's thread round trips).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Label, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.budgets import CAP_COLUMNS, Caps
from accounts.database import Database
from accounts.errors import HoldOfDeletedJob
from accounts.sqlite_trips import SqliteStatement, sqlite_rows
from accounts.tables import api_keys, deleted_jobs, projects


def _key_cap(name: str) -> Label[int | None]:
    return (
        select(api_keys.c[name])
        .where(
            api_keys.c.key_id == bindparam("reserved_key"),
            # The parameter, not projects.project_id: SQLite's RETURNING names columns without their
            # table, and inside this subquery a bare project_id is the key's own.
            api_keys.c.project_id == bindparam("reserved_project"),
        )
        .scalar_subquery()
        .label("key_" + name)
    )


# Built once: a hold runs on every generate, and building the statement cost more than running it.
_RESERVE = (
    update(projects)
    .where(
        projects.c.project_id == bindparam("reserved_project"),
        projects.c.balance_micros - projects.c.held_micros >= bindparam("reserved_micros"),
    )
    .values(held_micros=projects.c.held_micros + bindparam("reserved_micros"))
    .returning(*(projects.c[name] for name in CAP_COLUMNS), *(_key_cap(name) for name in CAP_COLUMNS))
)
_RESERVE_UNLESS_DELETED = _RESERVE.where(~exists().where(deleted_jobs.c.job_id == bindparam("reserved_job")))
_DELETED = select(deleted_jobs.c.job_id).where(deleted_jobs.c.job_id == bindparam("job"))


# On SQLite in one trip to the driver's thread (``accounts.sqlite_trips``): it returns integers only.
_SQLITE_RESERVE = {form: SqliteStatement.of(form) for form in (_RESERVE, _RESERVE_UNLESS_DELETED)}


async def reserve(
    db: Database,
    conn: AsyncConnection,
    project_id: str,
    key_id: str | None,
    micros: int,
    unless_deleted_job: str | None = None,
) -> tuple[Caps, Caps] | None:
    """Hold ``micros`` of the project's available credits, the project's row locked until commit; the
    caps of the project and of ``key_id`` (no key, or another project's: no caps). None, and nothing
    reserved, when the project has less than ``micros`` available (or does not exist).
    ``unless_deleted_job``: ``HoldOfDeletedJob`` instead, nothing reserved, when that job was deleted."""
    parameters = {"reserved_project": project_id, "reserved_key": key_id, "reserved_micros": micros}
    statement = _RESERVE
    if unless_deleted_job is not None:
        statement = _RESERVE_UNLESS_DELETED
        parameters["reserved_job"] = unless_deleted_job
    if db.is_sqlite:
        rows = await sqlite_rows(conn, _SQLITE_RESERVE[statement], parameters)
        row = rows[0] if rows else None
    else:
        row = (await conn.execute(statement, parameters)).first()
    if row is None and unless_deleted_job is not None:
        await refuse_deleted(conn, unless_deleted_job)  # no reservation: the job deleted, or too few credits
    return None if row is None else _caps_of(row)


async def refuse_deleted(conn: AsyncConnection, job_id: str) -> None:
    """``HoldOfDeletedJob`` when the job was deleted (``AccountStore.mark_job_deleted``)."""
    if (await conn.execute(_DELETED, {"job": job_id})).first() is not None:
        raise HoldOfDeletedJob(job_id)


def _caps_of(row: Sequence[Any]) -> tuple[Caps, Caps]:
    """The project's caps, then the key's: the columns ``_RESERVE`` returns, in order."""
    count = len(CAP_COLUMNS)
    return Caps(*row[:count]), Caps(*row[count : 2 * count])
