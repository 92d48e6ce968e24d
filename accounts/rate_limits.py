"""Per-API-key request limits: fixed windows counted in the accounts DB (shared by every API replica) or
in this process's memory.

A ``RatePolicy`` allows ``quota`` requests per ``window_seconds``; windows are aligned to the Unix clock
(a 60 s window starts on each whole minute), so every replica agrees on them without talking to the others
(their clocks must agree to within a second or so, as NTP keeps them). ``RateLimiter.charge`` counts one
request and answers how much of the window is used and how many seconds remain until it ends. A request
refused for being over the limit still counts: a client that keeps hammering gains nothing, and the window
still ends on time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BindParameter, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.database import Database
from accounts.sqlite_trips import SqliteStatement
from accounts.tables import rate_limit_windows

DEFAULT_POLICY = "default"  # every authenticated call
JOBS_POLICY = "jobs"  # calls that create jobs


@dataclass(frozen=True)
class RatePolicy:
    name: str
    quota: int
    window_seconds: int


@dataclass(frozen=True)
class PolicyUsage:
    """One policy's state for one key right after a request was counted."""

    policy: RatePolicy
    used: int
    reset_seconds: int  # until the window ends (at least 1): the draft's ``t`` and our ``Retry-After``

    @property
    def remaining(self) -> int:
        return max(0, self.policy.quota - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.policy.quota


class RequestCounter(Protocol):
    async def add(self, key_id: str, windows: list[tuple[str, int]]) -> dict[str, int]:
        """Count one request of ``key_id`` in each (policy, window start); each policy's new total."""
        ...


class MemoryCounter:
    """This process's own counts: exact for one API process, one limit per replica with several. Every
    policy has the same window length (one setting), so one window start tells which counts are stale."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}
        self._latest_window = 0

    async def add(self, key_id: str, windows: list[tuple[str, int]]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for policy, window_start in windows:
            if window_start > self._latest_window:  # once per window: drop the keys that went quiet
                self._latest_window = window_start
                self._counts = {slot: n for slot, n in self._counts.items() if n[0] >= window_start}
            start, used = self._counts.get((key_id, policy), (window_start, 0))
            totals[policy] = used + 1 if start == window_start else 1
            self._counts[(key_id, policy)] = (window_start, totals[policy])
        return totals


def _sqlite_upsert(policies: int) -> SqliteStatement:
    """The SQLite upsert of one request's windows (``policies`` rows), for one trip to the driver."""
    table = rate_limit_windows
    key: BindParameter[str] = bindparam("k")
    rows = [
        {"key_id": key, "policy": bindparam(f"p{n}"), "window_start": bindparam(f"w{n}"), "used": 1}
        for n in range(policies)
    ]
    statement = (
        sqlite.insert(table)
        .values(rows)
        .on_conflict_do_update(
            index_elements=[table.c.key_id, table.c.policy, table.c.window_start],
            set_={"used": table.c.used + 1},
        )
        .returning(table.c.policy, table.c.used)
    )
    return SqliteStatement.of(statement)


class DatabaseCounter:
    """Counts in ``rate_limit_windows``: one statement per request however many policies it counts
    against (a multi-row upsert, autocommit: one round trip on PostgreSQL, one trip to aiosqlite's thread
    on SQLite), committed without waiting for the disk (``Database.statistics``); the first request of a
    key's new window also deletes its earlier windows."""

    def __init__(self, database: Database) -> None:
        self._db = database
        table = rate_limit_windows
        insert = sqlite.insert if database.is_sqlite else postgresql.insert
        self._upsert = (
            insert(table)
            .on_conflict_do_update(
                index_elements=[table.c.key_id, table.c.policy, table.c.window_start],
                set_={"used": table.c.used + 1},
            )
            .returning(table.c.policy, table.c.used)
        )
        self._sqlite_upserts = {count: _sqlite_upsert(count) for count in (1, 2)}  # one policy, or both
        self._prune = delete(table).where(
            table.c.key_id == bindparam("k"),
            table.c.policy == bindparam("p"),
            table.c.window_start < bindparam("before"),
        )
        self._sqlite_prune = SqliteStatement.of(self._prune)

    async def add(self, key_id: str, windows: list[tuple[str, int]]) -> dict[str, int]:
        sqlite_upsert = self._sqlite_upserts.get(len(windows)) if self._db.is_sqlite else None
        if sqlite_upsert is None:
            async with self._db.statistics() as conn:
                totals = {str(policy): int(used) for policy, used in await self._count(conn, key_id, windows)}
                for policy, window_start in windows:
                    if totals[policy] == 1:
                        await conn.execute(self._prune, {"k": key_id, "p": policy, "before": window_start})
            return totals
        values: dict[str, object] = {"k": key_id}
        for i, (policy, window_start) in enumerate(windows):
            values[f"p{i}"], values[f"w{i}"] = policy, window_start
        rows = await self._db.statistics_rows(sqlite_upsert, values)
        totals = {str(policy): int(used) for policy, used in rows}
        for policy, window_start in windows:
            if totals[policy] == 1:
                await self._db.statistics_rows(
                    self._sqlite_prune, {"k": key_id, "p": policy, "before": window_start}
                )
        return totals

    async def _count(self, conn: AsyncConnection, key_id: str, windows: list[tuple[str, int]]) -> list[Any]:
        rows = [{"key_id": key_id, "policy": p, "window_start": start, "used": 1} for p, start in windows]
        # Several rows go as one INSERT ... VALUES (...), (...) (SQLAlchemy's "insertmanyvalues").
        return list(await conn.execute(self._upsert, rows if len(rows) > 1 else rows[0]))


class RateLimiter:
    """The configured policies and where their counts live."""

    def __init__(
        self, policies: list[RatePolicy], counter: RequestCounter, clock: Callable[[], float] = time.time
    ) -> None:
        self.policies = [policy for policy in policies if policy.quota > 0]  # quota 0: that limit is off
        self._by_name = {policy.name: policy for policy in self.policies}
        self._counter = counter
        self._clock = clock

    async def charge(self, key_id: str, *policy_names: str) -> list[PolicyUsage]:
        """Count one request of ``key_id`` against each named policy that is on (in one go)."""
        policies = [self._by_name[name] for name in policy_names if name in self._by_name]
        if not policies:
            return []
        now = self._clock()
        starts = {
            policy.name: int(now // policy.window_seconds) * policy.window_seconds for policy in policies
        }
        totals = await self._counter.add(key_id, list(starts.items()))
        # Rounded up, so a client that waits this long arrives after the window ended, never before.
        return [
            PolicyUsage(
                policy,
                totals[policy.name],
                max(1, math.ceil(starts[policy.name] + policy.window_seconds - now)),
            )
            for policy in policies
        ]
