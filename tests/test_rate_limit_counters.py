"""The rate-limit counters on real databases (SQLite and PostgreSQL) and in memory: concurrent requests
from two stores on one database never lose a count, windows roll over, old windows are pruned."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from accounts.database import Database
from accounts.errors import AccountsUnavailable
from accounts.rate_limits import (
    DEFAULT_POLICY,
    JOBS_POLICY,
    DatabaseCounter,
    MemoryCounter,
    RateLimiter,
    RatePolicy,
)
from accounts.sqlite_trips import SqliteStatement
from accounts.store import AccountStore
from accounts.tables import rate_limit_windows
from api.deps import CurrentProject
from api.problems import install_problem_handlers
from api.rate_limits import RateLimitHeaders
from tests.fixtures.accounts import accounts_test_settings, fetch_all, sqlite_store_beside_a_writer
from tests.fixtures.tcp_relay import TcpRelay

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


async def test_with_the_database_away_a_cached_key_is_served_without_limit_fields(
    postgres_relay_url: tuple[str, TcpRelay], tmp_path: Path
) -> None:
    """The count fails open: a key verified from the cache still reads while the accounts DB is cut off
    (its answers carry no fields then); nothing else changes about the outage."""
    url, relay = postgres_relay_url
    settings = accounts_test_settings(tmp_path, api_key_cache_seconds=60)
    store = await AccountStore.open(url, settings=settings)
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RateLimitHeaders)

    @app.get("/test/whoami")
    async def whoami(project: CurrentProject) -> dict[str, str]:
        return {"project_id": project.project_id}

    app.state.accounts, app.state.settings = store, settings
    # A day's window: the three calls of this test fall into one (they take about a second).
    app.state.limiter = RateLimiter([RatePolicy(DEFAULT_POLICY, 100, 86400)], store.request_counter())
    try:
        key = (await store.activate_anonymous("192.0.2.1")).api_key.get_secret_value()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://infrai.test") as client:
            headers = {"Authorization": f"Bearer {key}"}
            counted = await client.get("/test/whoami", headers=headers)  # verifies the key: cached now
            await relay.cut()
            uncounted = await client.get("/test/whoami", headers=headers)
            await relay.restore()
            counted_again = await client.get("/test/whoami", headers=headers)
    finally:
        await store.aclose()
    assert [r.status_code for r in (counted, uncounted, counted_again)] == [200, 200, 200], counted.text
    assert counted.headers["RateLimit"].startswith('"default";r=99;')
    assert "RateLimit" not in uncounted.headers
    assert counted_again.headers["RateLimit"].startswith('"default";r=98;')


async def test_statistics_commit_without_waiting_for_the_disk_while_every_other_write_waits(
    accounts_database_url: str,
) -> None:
    """Statistics (the rate limits' counts, the vendors' measured times) go through connections whose
    commits skip the fsync; the ledger's and every other write's connections keep waiting for the disk."""
    database = Database(accounts_database_url, connect_timeout=5, pool_size=2, retry_after=1)
    setting = text("PRAGMA synchronous" if database.is_sqlite else "SHOW synchronous_commit")
    try:
        async with database.statistics() as conn:
            statistics = (await conn.execute(setting)).scalar_one()
        async with database.autocommit() as conn:
            durable = (await conn.execute(setting)).scalar_one()
        async with database.write() as conn:
            in_transaction = (await conn.execute(setting)).scalar_one()
        if database.is_sqlite:  # and the connection the counts take on SQLite, one trip a statement
            ((one_trip,),) = await database.statistics_rows(SqliteStatement.of(setting), {})
    finally:
        await database.aclose()
    if database.is_sqlite:
        assert (statistics, one_trip, durable, in_transaction) == (1, 1, 2, 2)  # NORMAL, NORMAL, FULL, FULL
    else:
        assert (statistics, durable, in_transaction) == ("off", "on", "on")


async def test_a_count_on_a_sqlite_file_locked_past_its_timeout_is_accounts_unavailable(
    tmp_path: Path,
) -> None:
    """SQLite's count goes to the driver directly (one trip to its thread): its outage is still ours."""
    async with sqlite_store_beside_a_writer(tmp_path) as (store, holder):
        limiter = RateLimiter([RatePolicy(DEFAULT_POLICY, 100, 60)], store.request_counter())
        (counted,) = await limiter.charge("k1", DEFAULT_POLICY)
        holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the busy timeout
        with pytest.raises(AccountsUnavailable) as refused:
            await limiter.charge("k1", DEFAULT_POLICY)
        holder.execute("ROLLBACK")
        (counted_again,) = await limiter.charge("k1", DEFAULT_POLICY)
    assert (counted.used, counted_again.used) == (1, 2)
    assert refused.value.retry_after_seconds == 7


async def test_a_count_whose_sqlite_file_cannot_be_opened_is_accounts_unavailable_until_it_can(
    tmp_path: Path,
) -> None:
    """SQLite's count opens its own connection on first use: a file that cannot be opened is an outage
    (the caller fails open, as for any outage), and the next count opens it once it can be."""
    path = tmp_path / "accounts.db"
    path.mkdir()  # a folder where the database file should be: SQLite cannot open it
    database = Database(f"sqlite:///{path}", connect_timeout=1, pool_size=1, retry_after=3)
    limiter = RateLimiter([RatePolicy(DEFAULT_POLICY, 100, 60)], DatabaseCounter(database))
    try:
        with pytest.raises(AccountsUnavailable) as refused:
            await limiter.charge("k1", DEFAULT_POLICY)
        path.rmdir()
        async with database.write() as conn:
            await conn.run_sync(lambda sync: rate_limit_windows.create(sync))
        (counted,) = await limiter.charge("k1", DEFAULT_POLICY)
    finally:
        await database.aclose()
    assert refused.value.retry_after_seconds == 3
    assert counted.used == 1
