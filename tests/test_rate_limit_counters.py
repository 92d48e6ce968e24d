"""The rate-limit counters on real databases (SQLite and PostgreSQL) and in memory: concurrent requests
from two stores on one database never lose a count, windows roll over, old windows are pruned."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

from accounts.rate_limits import DEFAULT_POLICY, JOBS_POLICY, MemoryCounter, RateLimiter, RatePolicy
from accounts.store import AccountStore
from tests.fixtures.accounts import fetch_all

OpenStore = Callable[..., Awaitable[AccountStore]]


class SteppedClock:
    """Seconds since the epoch, moved by the test: windows are aligned to this clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def a_key() -> str:
    return secrets.token_hex(6)


async def test_concurrent_requests_through_two_stores_on_one_database_all_count(
    account_store: AccountStore, accounts_database_url: str, open_store: OpenStore
) -> None:
    """Two API replicas are two stores on one database: every request of both lands in the one row."""
    other = await open_store()
    policy = RatePolicy(DEFAULT_POLICY, 1000, 3600)
    clock = SteppedClock(7200.0)
    limiters = [RateLimiter([policy], store.request_counter(), clock) for store in (account_store, other)]
    key = a_key()
    usages = await asyncio.gather(*(limiters[n % 2].charge(key, DEFAULT_POLICY) for n in range(40)))
    assert sorted(usage.used for (usage,) in usages) == list(range(1, 41))
    rows = fetch_all(accounts_database_url, "SELECT used FROM rate_limit_windows WHERE key_id = :k", k=key)
    assert rows == [(40,)]


async def test_a_new_window_starts_from_one_and_prunes_the_old(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    clock = SteppedClock(60 * 1000 + 59.5)
    limiter = RateLimiter([RatePolicy(DEFAULT_POLICY, 2, 60)], account_store.request_counter(), clock)
    key = a_key()
    first = [(await limiter.charge(key, DEFAULT_POLICY))[0] for _ in range(3)]
    assert [(u.used, u.remaining, u.exceeded, u.reset_seconds) for u in first] == [
        (1, 1, False, 1),
        (2, 0, False, 1),
        (3, 0, True, 1),
    ]
    clock.now += 1  # the next whole minute: a new window
    (fresh,) = await limiter.charge(key, DEFAULT_POLICY)
    assert (fresh.used, fresh.remaining, fresh.reset_seconds) == (1, 1, 60)
    windows = "SELECT window_start, used FROM rate_limit_windows WHERE key_id = :k"
    assert fetch_all(accounts_database_url, windows, k=key) == [(60 * 1001, 1)]


async def test_a_job_creation_counts_against_both_policies_in_one_go(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    policies = [RatePolicy(DEFAULT_POLICY, 10, 60), RatePolicy(JOBS_POLICY, 2, 60)]
    limiter = RateLimiter(policies, account_store.request_counter(), SteppedClock(6000.0))
    key = a_key()
    await limiter.charge(key, DEFAULT_POLICY)
    for _ in range(3):
        both = await limiter.charge(key, DEFAULT_POLICY, JOBS_POLICY)
    assert [(usage.policy.name, usage.used, usage.exceeded) for usage in both] == [
        (DEFAULT_POLICY, 4, False),
        (JOBS_POLICY, 3, True),
    ]
    rows = "SELECT policy, used FROM rate_limit_windows WHERE key_id = :k ORDER BY policy"
    assert fetch_all(accounts_database_url, rows, k=key) == [(DEFAULT_POLICY, 4), (JOBS_POLICY, 3)]


async def test_memory_counts_per_process_and_keys_alone() -> None:
    clock = SteppedClock(600.0)
    policies = [RatePolicy(DEFAULT_POLICY, 5, 10), RatePolicy(JOBS_POLICY, 0, 10)]
    limiter = RateLimiter(policies, MemoryCounter(), clock)
    assert [policy.name for policy in limiter.policies] == [DEFAULT_POLICY]  # quota 0: that limit is off
    assert await limiter.charge("k1", JOBS_POLICY) == []
    for _ in range(3):
        await limiter.charge("k1", DEFAULT_POLICY, JOBS_POLICY)
    ((other,), (mine,)) = [await limiter.charge(key, DEFAULT_POLICY) for key in ("k2", "k1")]
    assert (other.used, mine.used) == (1, 4)
    clock.now += 10
    (rolled,) = await limiter.charge("k1", DEFAULT_POLICY)
    assert rolled.used == 1
