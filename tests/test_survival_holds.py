"""Credits held for a job that never started: the API died between the hold and the workflow start.

Either the client comes back with its idempotency key (the hold is reused, the job runs, settled once), or
nobody does and housekeeping (a Temporal Schedule run by the worker) releases the hold once it is older
than ``INFRAI_HOLD_RECONCILE_AFTER_SECONDS`` — after which that key can no longer start a job (409).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from core.ids import job_id_for_key, new_job_id
from core.settings import Settings
from tests.fixtures.accounts import fetch_all
from tests.fixtures.housekeeping import run_housekeeping
from tests.fixtures.survival import TRIAL_CREDITS_USD, SurvivalStack
from tests.fixtures.tcp_relay import ThreadedRelay
from tests.job_invariants import JobBatch
from tests.wait import wait_until
from workflows.connection import connect

RUNWAY_2S_ESTIMATE = Decimal("0.24")  # gen4.5 at $0.12/s (catalog), what the API holds for these bodies


def _ledger(survival: SurvivalStack, project_id: str) -> list[tuple[str, str, int, str]]:
    rows = fetch_all(
        survival.accounts_url,
        "SELECT job_id, kind, amount_micros, reason FROM ledger_entries "
        "WHERE project_id = :p AND job_id IS NOT NULL ORDER BY entry_id",
        p=project_id,
    )
    return [(str(job), str(kind), int(amount), str(reason)) for job, kind, amount, reason in rows]


def _balance(survival: SurvivalStack, project_id: str) -> tuple[int, int]:
    balance, held = fetch_all(
        survival.accounts_url,
        "SELECT balance_micros, held_micros FROM projects WHERE project_id = :p",
        p=project_id,
    )[0]
    return int(balance), int(held)


def _workflow_exists(survival: SurvivalStack, job_id: str) -> bool:
    async def describe() -> bool:
        client = await connect(Settings(temporal_address=survival.temporal.address))
        try:
            await client.get_workflow_handle(job_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    return asyncio.run(describe())


def _hold_left_by_a_dead_api(batch: JobBatch, key: str) -> tuple[dict[str, Any], str]:
    """A keyed generate's body, and its job id, whose hold the API placed before it died unstarted."""
    [body] = batch.bodies(f"held by a dead api: {key}", runway=1)
    job_id = job_id_for_key(batch.project_id, key)
    batch.survival.hold_as_the_api_does(batch.project_id, job_id, body, RUNWAY_2S_ESTIMATE)
    return body, job_id


@contextmanager
def _reconciling_after(survival: SurvivalStack, seconds: float) -> Iterator[None]:
    """The worker restarted so housekeeping judges holds older than ``seconds``; the normal one after."""
    survival.stack.stop("worker")
    survival.stack.start("worker", INFRAI_HOLD_RECONCILE_AFTER_SECONDS=str(seconds))
    try:
        yield
    finally:
        survival.stack.stop("worker")
        survival.stack.start("worker")


def _released_by_reconciler(survival: SurvivalStack, project_id: str, job_id: str) -> bool:
    return any(
        (job, kind) == (job_id, "release") and reason.startswith("reconciled:")
        for job, kind, _, reason in _ledger(survival, project_id)
    )


def _housekeep_until_released(survival: SurvivalStack, project_id: str, job_id: str) -> None:
    """Trigger housekeeping rounds (each waited for) until one released the job's hold."""

    async def one_round() -> None:
        client = await connect(Settings(temporal_address=survival.temporal.address))
        await run_housekeeping(client, survival.stack.env["INFRAI_TEMPORAL_TASK_QUEUE"])

    def released() -> bool:
        asyncio.run(one_round())
        return _released_by_reconciler(survival, project_id, job_id)

    wait_until(released, what="the release")


def test_api_killed_between_hold_and_start_the_reconciler_releases_the_hold(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    host, _, port = survival.temporal.address.rpartition(":")
    relay = ThreadedRelay(host, int(port)).start()
    try:
        survival.stack.stop("api")
        survival.stack.start("api", INFRAI_TEMPORAL_ADDRESS=f"127.0.0.1:{relay.port}")
        with survival.stack.client(batch.key) as client:  # connects the API's lazy Temporal client
            assert client.get(f"/v1/video/jobs/{new_job_id()}").status_code == 404
        relay.pause()  # Temporal stops answering the API: its workflow start will hang after the hold

        def generate_without_a_key() -> None:
            body = batch.bodies("hold then crash", runway=1)[0]
            with pytest.raises(httpx.TransportError), survival.stack.client(batch.key) as client:
                client.post("/v1/video/generate", json=body)

        request = threading.Thread(target=generate_without_a_key)
        request.start()
        wait_until(lambda: len(_ledger(survival, batch.project_id)) == 1, what="the hold")
        survival.stack.kill("api")
        relay.cut()  # the start the API sent never reaches Temporal
        request.join(timeout=60)
    finally:
        relay.stop()
    [(job_id, kind, amount, _)] = _ledger(survival, batch.project_id)
    assert (kind, amount) == ("hold", 240_000)

    with _reconciling_after(survival, 1):
        _housekeep_until_released(survival, batch.project_id, job_id)

    assert not _workflow_exists(survival, job_id)
    assert _balance(survival, batch.project_id) == (int(Decimal(TRIAL_CREDITS_USD) * 1_000_000), 0)


def test_a_client_retrying_its_key_after_the_api_died_between_hold_and_start_gets_its_job_held_once(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    key = "retry-after-crash"
    body, job_id = _hold_left_by_a_dead_api(batch, key)

    response = survival.stack.generate(batch.key, idempotency_key=key, **body)

    assert response.status_code == 202 and response.json()["job_id"] == job_id
    batch.adopt(body, job_id)
    batch.check()  # one hold (the dead API's), one release, one charge


def test_a_client_returning_after_its_stale_hold_was_released_is_told_to_use_a_new_key(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    key = "came-back-too-late"
    body, job_id = _hold_left_by_a_dead_api(batch, key)

    with _reconciling_after(survival, 1):
        _housekeep_until_released(survival, batch.project_id, job_id)
        late = survival.stack.generate(batch.key, idempotency_key=key, **body)

    assert late.status_code == 409
    assert late.json()["code"] == "idempotency_conflict" and late.json()["job_id"] == job_id
    assert not _workflow_exists(survival, job_id)
    assert _balance(survival, batch.project_id) == (int(Decimal(TRIAL_CREDITS_USD) * 1_000_000), 0)
    assert [kind for _, kind, _, _ in _ledger(survival, batch.project_id)] == ["hold", "release"]


def test_a_job_terminated_by_an_operator_before_it_settled_has_its_hold_released(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    survival.runway.configure(polls_to_finish=200)  # still generating when the operator steps in
    [job_id] = batch.start("terminated by an operator", runway=1)
    batch.wait_all(lambda job: job["stage"] == "generating")

    async def terminate() -> None:
        client = await connect(Settings(temporal_address=survival.temporal.address))
        await client.get_workflow_handle(job_id).terminate(reason="operator")

    asyncio.run(terminate())
    with _reconciling_after(survival, 1):
        _housekeep_until_released(survival, batch.project_id, job_id)

    assert [reason for job, kind, _, reason in _ledger(survival, batch.project_id) if kind == "release"] == [
        "reconciled:workflow_terminated"
    ]
    assert _balance(survival, batch.project_id) == (int(Decimal(TRIAL_CREDITS_USD) * 1_000_000), 0)


def test_the_reconciler_leaves_the_hold_of_a_running_job_alone(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    survival.runway.configure(polls_to_finish=200)
    [running] = batch.start("still running", runway=1)
    batch.wait_all(lambda job: job["stage"] == "generating")
    _, stranded = _hold_left_by_a_dead_api(batch, "stranded-beside-a-running-job")

    with _reconciling_after(survival, 1):
        # A round that released the stranded hold also judged the running job's (both are old enough).
        _housekeep_until_released(survival, batch.project_id, stranded)
        assert not _released_by_reconciler(survival, batch.project_id, running)
        with survival.stack.client(batch.key) as client:
            assert client.post(f"/v1/video/jobs/{running}/cancel").json()["ok"] is True
        survival.stack.wait_final(running, key=batch.key)

    releases = {
        job: reason for job, kind, _, reason in _ledger(survival, batch.project_id) if kind == "release"
    }
    assert releases == {stranded: "reconciled:no_workflow", running: "cancelled"}
