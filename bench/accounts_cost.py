"""What accounts and the ledger add to ``POST /v1/video/generate`` (issue 4), on SQLite and PostgreSQL.

Three API processes on the same Temporal server, no worker: the real API on a SQLite accounts file (the
embedded default), the real API on a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards), and
``bench.static_key_api`` (the same API with a static key and no credit hold) as the baseline. Each request
authenticates (a cached key lookup on the real ones) and, on the real ones, holds credits in one
transaction before the workflow starts. Rounds rotate over the three so drift hits all alike.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

from bench.api_latency import http_generate, latency_row
from bench.report import Row
from bench.sampling import Latency, drive, interleaved
from bench.services import BenchRun, lean_client
from tests.fixtures.accounts import DatabaseFactory
from tests.fixtures.embedded_services import DEFAULT_POSTGRES_URL, POSTGRESQL, Service
from tests.fixtures.stack import Stack


async def generate_latencies(stacks: dict[str, Stack], concurrency: int, requests: int) -> dict[str, Latency]:
    """Each stack's generate latency at ``concurrency``, over ``requests`` each, in rotating rounds."""
    run_id = uuid.uuid4().hex[:8]
    rounds = 4
    per_round = requests // rounds
    clients = {name: lean_client(stack) for name, stack in stacks.items()}

    def contender(name: str) -> Callable[[int], Awaitable[list[float]]]:
        call = http_generate(clients[name], f"{run_id}-{name.replace(' ', '-')}")

        async def one_round(round_number: int) -> list[float]:
            base = round_number * per_round
            return await drive(lambda i: call(base + i), requests=per_round, concurrency=concurrency)

        return one_round

    try:
        for name in stacks:  # warm-up: connections, key cache, SQL statement caches
            warmup = http_generate(clients[name], f"{run_id}-warmup-{name.replace(' ', '-')}")
            await drive(warmup, requests=max(concurrency, 10), concurrency=concurrency)
        pooled = await interleaved({name: contender(name) for name in stacks}, rounds)
    finally:
        for client in clients.values():
            await client.aclose()
    return {name: Latency.of(samples) for name, samples in pooled.items()}


async def accounts_rows(run: BenchRun) -> list[Row]:
    requests = {1: 60, 32: 320} if run.quick else {1: 300, 32: 960}
    url = os.environ.get("INFRAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    server = Service(POSTGRESQL, "found", url, "the bench's PostgreSQL (INFRAI_TEST_POSTGRES_URL)")
    databases = DatabaseFactory(run.folder("accounts-db"), server)
    rows: list[Row] = []
    with ExitStack() as exits:
        exits.callback(databases.drop_all)
        stacks = {
            "SQLite": exits.enter_context(run.stack("accounts-sqlite", ("api",))),
            "PostgreSQL": exits.enter_context(
                run.stack("accounts-pg", ("api",), INFRAI_DATABASE_URL=databases.new("postgresql"))
            ),
            "static key": exits.enter_context(
                run.stack("accounts-static", ("api",), modules={"api": "bench.static_key_api"})
            ),
        }
        for concurrency, count in requests.items():
            measured = await generate_latencies(stacks, concurrency, count)
            for backend in ("SQLite", "PostgreSQL"):
                measure = (
                    f"(issue 4) generate p50 / p99, concurrency {concurrency}, accounts + ledger on {backend}"
                    " (baseline: the same API with a static key, ledger off)"
                )
                rows.append(latency_row(measure, measured[backend], measured["static key"], None))
    return rows
