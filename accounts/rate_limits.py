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
from typing import Protocol

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from accounts.database import Database
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
    async def add(self, key_id: str, policy: str, window_start: int) -> int:
        """Count one request of ``key_id`` in the window starting at ``window_start``; the new total."""
        ...


class MemoryCounter:
    """This process's own counts: exact for one API process, one limit per replica with several. Every
    policy has the same window length (one setting), so one window start tells which counts are stale."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}
        self._latest_window = 0

    async def add(self, key_id: str, policy: str, window_start: int) -> int:
        if window_start > self._latest_window:  # once per window: drop the keys that went quiet
            self._latest_window = window_start
            self._counts = {slot: count for slot, count in self._counts.items() if count[0] >= window_start}
        start, used = self._counts.get((key_id, policy), (window_start, 0))
        used = used + 1 if start == window_start else 1
        self._counts[(key_id, policy)] = (window_start, used)
        return used


class DatabaseCounter:
    """Counts in ``rate_limit_windows``: one upsert per request (autocommit, so one round trip on
    PostgreSQL); the first request of a key's new window also deletes its earlier windows."""

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
            .returning(table.c.used)
        )
        self._prune = delete(table).where(
            table.c.key_id == bindparam("k"),
            table.c.policy == bindparam("p"),
            table.c.window_start < bindparam("before"),
        )

    async def add(self, key_id: str, policy: str, window_start: int) -> int:
        row = {"key_id": key_id, "policy": policy, "window_start": window_start, "used": 1}
        async with self._db.autocommit() as conn:
            used = int((await conn.execute(self._upsert, row)).scalar_one())
            if used == 1:
                await conn.execute(self._prune, {"k": key_id, "p": policy, "before": window_start})
        return used


class RateLimiter:
    """The configured policies and where their counts live."""

    def __init__(
        self, policies: list[RatePolicy], counter: RequestCounter, clock: Callable[[], float] = time.time
    ) -> None:
        self.policies = [policy for policy in policies if policy.quota > 0]  # quota 0: that limit is off
        self._by_name = {policy.name: policy for policy in self.policies}
        self._counter = counter
        self._clock = clock

    async def charge(self, key_id: str, policy_name: str) -> PolicyUsage | None:
        """Count one request of ``key_id`` against the policy; None when that policy is off."""
        policy = self._by_name.get(policy_name)
        if policy is None:
            return None
        now = self._clock()
        window = policy.window_seconds
        window_start = int(now // window) * window
        used = await self._counter.add(key_id, policy.name, window_start)
        # Rounded up, so a client that waits this long arrives after the window ended, never before.
        reset = max(1, math.ceil(window_start + window - now))
        return PolicyUsage(policy, used, reset)
