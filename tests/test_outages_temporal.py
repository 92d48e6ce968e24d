"""Temporal unreachable — killed, never reached since the API started, or hanging — is a ``503`` with
``Retry-After`` for generate, status and cancel, never a 500 or a hung request; the API recovers by itself
once Temporal is back. Run on the survival stack, whose Temporal server no other test uses."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from temporalio.client import WorkflowExecutionStatus

from core.ids import new_job_id
from tests.fixtures.survival import SurvivalStack
from tests.fixtures.temporal import connect_when_healthy
from tests.job_invariants import JobBatch
from tests.outage_calls import assert_recovers, assert_unavailable, job_calls


def _finished_job(batch: JobBatch) -> str:
    """A job the API has seen closed. A status answered by the query can be final a moment before the
    workflow is closed in Temporal; only a job read closed is remembered, so wait for the close, then read."""
    [job_id] = batch.start("before the outage", runway=1)
    batch.survival.stack.wait_final(job_id, key=batch.key)
    asyncio.run(_closed_in_temporal(batch.survival.temporal.address, job_id))
    batch.survival.stack.job(job_id, batch.key)
    return job_id


async def _closed_in_temporal(address: str, job_id: str) -> None:
    client = await connect_when_healthy(address)
    handle = client.get_workflow_handle(job_id)
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await asyncio.sleep(0.05)


def _outage_body(batch: JobBatch, job_id: str) -> dict[str, object]:
    [body] = batch.bodies(f"during the outage {job_id}", runway=1)
    body["idempotency_key"] = f"outage-{job_id}"
    return body


def test_temporal_killed_generate_status_and_cancel_answer_503_then_recover(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    job_id = _finished_job(batch)

    body = _outage_body(batch, job_id)

    survival.temporal.kill()
    # A job this API process has not seen finish cannot be answered without Temporal.
    assert_unavailable(job_calls(survival.stack, batch.key, new_job_id(), body))
    # One it saw finish answers from memory: a closed job's final snapshot never changes.
    remembered = httpx.get(
        f"{survival.stack.api_url}/v1/video/jobs/{job_id}",
        headers={"Authorization": f"Bearer {batch.key}"},
        timeout=30,
    )
    assert remembered.status_code == 200, remembered.text
    assert remembered.json()["state"] == "succeeded"
    survival.temporal.start()

    assert_recovers(batch, job_id, body)


def test_an_api_started_while_temporal_is_down_answers_503_until_temporal_is_up(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    job_id = _finished_job(batch)
    survival.temporal.kill()
    survival.stack.stop("api")
    survival.stack.start("api")  # its lazy Temporal client has never connected
    body = _outage_body(batch, job_id)

    assert_unavailable(job_calls(survival.stack, batch.key, job_id, body))
    survival.temporal.start()

    assert_recovers(batch, job_id, body)


@contextmanager
def _temporal_stopped(survival: SurvivalStack) -> Iterator[None]:
    """SIGSTOP the dev server: connections stay open, nothing answers (an overloaded or hung server)."""
    os.kill(survival.temporal.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(survival.temporal.process.pid, signal.SIGCONT)


def test_a_temporal_that_stops_answering_is_503_after_the_rpc_timeout_not_a_hang(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    job_id = _finished_job(batch)
    survival.stack.stop("api")
    survival.stack.start("api", INFRAI_TEMPORAL_RPC_TIMEOUT_SECONDS="2")
    body = _outage_body(batch, job_id)
    try:
        with _temporal_stopped(survival):
            assert_unavailable(job_calls(survival.stack, batch.key, job_id, body))
        assert_recovers(batch, job_id, body)
    finally:
        survival.stack.stop("api")
        survival.stack.start("api")
