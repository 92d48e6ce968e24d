"""The API dies (SIGKILL) with generates in flight and comes back; clients retry as the Python SDK does
(same idempotency key on every retry of one call). Every job the clients were given exists once, ran once
and settled once; no request left credits held for a job that does not exist."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from tests.counting_sdk import CountingSdk
from tests.fixtures.ports import established_connections
from tests.fixtures.survival import SurvivalStack
from tests.job_invariants import JobBatch
from tests.wait import wait_until


@contextmanager
def _accounts_write_locked(survival: SurvivalStack) -> Iterator[None]:
    """Hold the accounts database's write lock: every hold queues behind it, in flight, until released."""
    conn = sqlite3.connect(survival.stack.data_dir / "accounts.db", isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_api_killed_with_generates_waiting_for_their_hold_every_client_gets_one_job(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    bodies = batch.bodies("api kill queued", local=2, runway=4)
    api_port = int(survival.stack.env["INFRAI_API_PORT"])
    with CountingSdk(survival, batch.key) as sdk, ThreadPoolExecutor(len(bodies)) as pool:
        with _accounts_write_locked(survival):
            futures = [pool.submit(sdk.generate, body) for body in bodies]
            wait_until(lambda: established_connections(api_port) >= len(bodies), what="all requests in")
            survival.stack.kill("api")
        survival.stack.start("api")
        for body, future in zip(bodies, futures, strict=True):
            batch.adopt(body, future.result(timeout=120))

    assert sdk.sent >= 2 * len(bodies)  # every request was cut off by the kill and sent again
    assert len(set(batch.job_ids)) == len(bodies)
    batch.check()


def test_api_killed_at_an_arbitrary_moment_of_a_request_storm_every_job_runs_once(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    bodies = batch.bodies("api kill storm", runway=15)
    answered = threading.Semaphore(0)

    def generate_and_count(body: dict[str, Any]) -> str:
        job_id = sdk.generate(body)
        answered.release()
        return job_id

    with CountingSdk(survival, batch.key) as sdk, ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(generate_and_count, body) for body in bodies]
        for _ in range(4):  # a few answered, the rest queued or in flight
            assert answered.acquire(timeout=60)
        survival.stack.kill("api")
        survival.stack.start("api")
        for body, future in zip(bodies, futures, strict=True):
            batch.adopt(body, future.result(timeout=120))

    assert sdk.sent > len(bodies)  # some requests were in flight at the kill and sent again
    assert len(set(batch.job_ids)) == len(bodies)
    batch.check()
