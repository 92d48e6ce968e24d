"""The accounts database (PostgreSQL, behind a relay the test cuts) unreachable: generate, status and
cancel answer ``503`` with the configured ``Retry-After`` — the stack caches no API key, so every request
meets the database — never a 500, and recover by themselves when it returns. A job that ends during the
outage keeps retrying its settlement and settles once when the database is back."""

from __future__ import annotations

from tests.fixtures.survival import SurvivalStack
from tests.fixtures.tcp_relay import ThreadedRelay
from tests.job_invariants import JobBatch
from tests.outage_calls import assert_recovers, assert_unavailable, job_calls
from tests.wait import wait_until
from tests.workflow_history import pending_attempt
from workflows.video_job import SETTLE


def _relay(stack: SurvivalStack) -> ThreadedRelay:
    assert stack.accounts_relay is not None
    return stack.accounts_relay


def test_accounts_db_cut_off_generate_status_and_cancel_answer_503_then_recover(
    postgres_stack: SurvivalStack,
) -> None:
    batch = JobBatch.new(postgres_stack)
    [job_id] = batch.start("before the db outage", runway=1)
    postgres_stack.stack.wait_final(job_id, key=batch.key)
    [body] = batch.bodies("during the db outage", runway=1)
    body["idempotency_key"] = "db-outage"

    _relay(postgres_stack).cut()
    try:
        assert_unavailable(job_calls(postgres_stack.stack, batch.key, job_id, body), retry_after="3")
    finally:
        _relay(postgres_stack).restore()

    assert_recovers(batch, job_id, body)


def test_a_job_ending_while_the_accounts_db_is_cut_off_settles_once_it_returns(
    postgres_stack: SurvivalStack,
) -> None:
    batch = JobBatch.new(postgres_stack)
    postgres_stack.runway.configure(polls_to_finish=6)
    [job_id] = batch.start("ends during the db outage", runway=1)
    batch.wait_all(lambda job: job["stage"] == "generating")

    _relay(postgres_stack).cut()
    try:
        address = postgres_stack.temporal.address
        wait_until(lambda: pending_attempt(address, job_id, SETTLE) >= 2, timeout=90, what="settle retrying")
    finally:
        _relay(postgres_stack).restore()

    jobs = batch.check()  # settled exactly once: one hold, one release, one charge
    assert jobs[job_id]["cost"]["settled_usd"] == "0.24"
