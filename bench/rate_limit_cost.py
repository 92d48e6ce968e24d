"""What per-key rate limits add to ``POST /v1/video/generate`` (issue 15), by where the counts live.

API processes on the same Temporal server, no worker, limits far above what the run reaches so every
request is counted and none refused: on PostgreSQL (what several API replicas share) with the limits off
(the baseline), counted in the accounts DB (``INFRAI_RATE_LIMIT_STORE=database``: one autocommit upsert
per request, of two rows for a generate), and counted in memory; on SQLite (the embedded
default) off and in the DB. Rounds rotate over the contenders so drift hits all alike.

Under a loaded machine those end-to-end figures are mostly noise, so the count itself is also timed alone:
``RateLimiter.charge`` on each store, sequentially, against the same PostgreSQL and a SQLite file.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

from accounts.rate_limits import (
    DEFAULT_POLICY,
    JOBS_POLICY,
    MemoryCounter,
    RateLimiter,
    RatePolicy,
    RequestCounter,
)
from accounts.store import AccountStore
from bench.accounts_cost import generate_latencies
from bench.api_latency import latency_row
from bench.report import Row
from bench.sampling import Latency, interleaved
from bench.services import BenchRun
from core.settings import Settings
from tests.fixtures.accounts import DatabaseFactory
from tests.fixtures.embedded_services import DEFAULT_POSTGRES_URL, POSTGRESQL, Service

_OFF = {"INFRAI_RATE_LIMIT_REQUESTS": "0", "INFRAI_RATE_LIMIT_JOB_CREATIONS": "0"}
# name (it goes into idempotency keys) -> (accounts DB, settings, what the row calls it, its baseline)
_CONTENDERS = {
    "pg-off": ("postgresql", _OFF, "", ""),
    "pg-db": ("postgresql", {"INFRAI_RATE_LIMIT_STORE": "database"}, "counted in PostgreSQL", "pg-off"),
    "pg-memory": ("postgresql", {"INFRAI_RATE_LIMIT_STORE": "memory"}, "counted in memory", "pg-off"),
    "sqlite-off": ("sqlite", _OFF, "", ""),
    "sqlite-db": ("sqlite", {"INFRAI_RATE_LIMIT_STORE": "database"}, "counted in SQLite", "sqlite-off"),
}


async def rate_limit_rows(run: BenchRun) -> list[Row]:
    requests = {1: 60, 32: 320} if run.quick else {1: 300, 32: 960}
    url = os.environ.get("INFRAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    server = Service(POSTGRESQL, "found", url, "the bench's PostgreSQL (INFRAI_TEST_POSTGRES_URL)")
    databases = DatabaseFactory(run.folder("rate-limit-db"), server)
    rows: list[Row] = []
    with ExitStack() as exits:
        exits.callback(databases.drop_all)
        stacks = {}
        for index, (name, (backend, settings, _, _)) in enumerate(_CONTENDERS.items()):
            if backend == "postgresql":
                settings = {**settings, "INFRAI_DATABASE_URL": databases.new("postgresql")}
            stack = run.stack(f"rate-limit-{index}", ("api",), timings=None, modules=None, **settings)
            stacks[name] = exits.enter_context(stack)
        for concurrency, count in requests.items():
            measured = await generate_latencies(stacks, concurrency, count)
            for name, (backend, _, counted, baseline) in _CONTENDERS.items():
                if not baseline:
                    continue
                measure = (
                    f"(issue 15) generate p50 / p99, concurrency {concurrency}, rate limits {counted}"
                    f" (baseline: the same API on {backend}, limits off)"
                )
                rows.append(latency_row(measure, measured[name], measured[baseline], None))
    return rows


async def _samples(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def _rounds_of(call: Callable[[], Awaitable[object]], count: int) -> Callable[[int], Awaitable[list[float]]]:
    return lambda _round: _samples(call, count)


def _charge(counter: RequestCounter) -> Callable[[], Awaitable[object]]:
    limiter = RateLimiter(
        [RatePolicy(DEFAULT_POLICY, 10**9, 60), RatePolicy(JOBS_POLICY, 10**9, 60)], counter
    )
    key = uuid.uuid4().hex[:12]
    return lambda: limiter.charge(key, DEFAULT_POLICY, JOBS_POLICY)  # a generate's count: both policies


async def count_cost_rows(run: BenchRun) -> list[Row]:
    """A generate's count alone (``RateLimiter.charge`` of both policies, no HTTP, no Temporal) per store,
    beside the store's cheapest round trip (``AccountStore.ping``: ``SELECT 1``), interleaved."""
    count = 200 if run.quick else 2000
    url = os.environ.get("INFRAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    server = Service(POSTGRESQL, "found", url, "the bench's PostgreSQL (INFRAI_TEST_POSTGRES_URL)")
    databases = DatabaseFactory(run.folder("rate-limit-count-db"), server)
    rows: list[Row] = []
    try:
        settings = Settings(data_dir=run.folder("rate-limit-count"))
        for backend in ("postgresql", "sqlite"):
            store = await AccountStore.open(databases.new(backend), settings=settings)
            try:
                charge = _charge(store.request_counter())
                await _samples(charge, 50)  # warm-up: pool, statement caches
                samples = await interleaved(
                    {
                        "count": _rounds_of(charge, count // 4),
                        "ping": _rounds_of(store.ping, count // 4),
                    },
                    4,
                )
            finally:
                await store.aclose()
            measure = f"(issue 15) a generate's rate-limit count on {backend}, p50 / p99 (baseline: SELECT 1)"
            rows.append(Row(measure, Latency.of(samples["count"]).ms(), Latency.of(samples["ping"]).ms()))
        memory = Latency.of(await _samples(_charge(MemoryCounter()), count))
        rows.append(Row("(issue 15) a generate's rate-limit count in memory, p50 / p99", memory.ms()))
    finally:
        databases.drop_all()
    return rows
