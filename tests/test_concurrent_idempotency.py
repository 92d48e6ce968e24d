"""Fifty clients at once with one idempotency key: one workflow, one vendor submission, one hold.

With one body, every answer names the same job (one 202, the rest 200). With fifty different bodies,
exactly one request wins and the job that runs is the winner's, held for the winner's estimate; the other
49 are told 409 ``idempotency_conflict`` and leave no trace in the ledger or at the vendor. Both on the
embedded shape (SQLite, one API process) and the production shape (PostgreSQL, two API processes).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest

from core.ids import job_id_for_key
from tests.fixtures.accounts import fetch_all
from tests.fixtures.survival import SurvivalStack
from tests.job_invariants import JobBatch
from tests.workflow_history import workflow_runs

CLIENTS = 50
RUNWAY_USD_PER_SECOND = Decimal("0.12")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_stack(request: pytest.FixtureRequest) -> SurvivalStack:
    stack: SurvivalStack = request.getfixturevalue(
        "survival" if request.param == "sqlite" else "postgres_stack"
    )
    return stack


def _all_at_once(survival: SurvivalStack, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CLIENTS)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            base_url=survival.stack.api_url, headers=headers, timeout=60.0, limits=limits
        ) as client:
            return await asyncio.gather(*(client.post("/v1/video/generate", json=body) for body in bodies))

    return asyncio.run(send_all())


def _holds(survival: SurvivalStack, project_id: str) -> list[tuple[str, int]]:
    rows = fetch_all(
        survival.accounts_url,
        "SELECT job_id, amount_micros FROM ledger_entries WHERE project_id = :p AND kind = 'hold'",
        p=project_id,
    )
    return [(str(job_id), int(amount)) for job_id, amount in rows]


def test_fifty_identical_generates_with_one_key_make_one_job(any_stack: SurvivalStack) -> None:
    survival = any_stack
    batch = JobBatch.new(survival)
    [body] = batch.bodies("fifty identical", runway=1)
    body["idempotency_key"] = "fifty-identical"
    job_id = job_id_for_key(batch.project_id, "fifty-identical")

    responses = _all_at_once(survival, batch.key, [body] * CLIENTS)

    assert Counter(response.status_code for response in responses) == {202: 1, 200: CLIENTS - 1}
    assert {response.json()["job_id"] for response in responses} == {job_id}
    batch.adopt(body, job_id)
    batch.check()  # one vendor submission, one hold / release / charge
    assert workflow_runs(survival.temporal.address, job_id) == 1


def test_fifty_different_bodies_with_one_key_make_one_job_and_49_conflicts(any_stack: SurvivalStack) -> None:
    survival = any_stack
    batch = JobBatch.new(survival)
    bodies = batch.bodies("fifty different", runway=CLIENTS)
    for index, body in enumerate(bodies):  # different durations: different estimates to hold
        body.update(idempotency_key="fifty-different", duration_seconds=2 + index % 9)
    job_id = job_id_for_key(batch.project_id, "fifty-different")

    responses = _all_at_once(survival, batch.key, bodies)

    assert Counter(response.status_code for response in responses) == {202: 1, 409: CLIENTS - 1}
    assert {response.json()["job_id"] for response in responses} == {job_id}
    conflicts = [response for response in responses if response.status_code == 409]
    assert all(response.json()["code"] == "idempotency_conflict" for response in conflicts)
    [winner] = [body for body, response in zip(bodies, responses, strict=True) if response.status_code == 202]
    winner_estimate = RUNWAY_USD_PER_SECOND * winner["duration_seconds"]
    assert _holds(survival, batch.project_id) == [(job_id, int(winner_estimate * 1_000_000))]
    batch.adopt(winner, job_id)
    jobs = batch.check()  # the winner's prompt was the one submitted, once; nobody else's
    assert Decimal(jobs[job_id]["cost"]["estimated_usd"]) == winner_estimate
    assert workflow_runs(survival.temporal.address, job_id) == 1
    late = _all_at_once(survival, batch.key, bodies[:3])  # after the job ended: the same answers
    assert sorted(response.status_code for response in late) == sorted(
        200 if body is winner else 409 for body in bodies[:3]
    )


def test_a_key_whose_job_holds_credits_for_another_body_is_a_conflict(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    first, second = batch.bodies("held for another body", runway=2)
    job_id = job_id_for_key(batch.project_id, "held-for-another")
    # The first body's request held and then died before starting its job (or is still starting it).
    survival.hold_as_the_api_does(batch.project_id, job_id, first, RUNWAY_USD_PER_SECOND * 2)

    response = survival.stack.generate(batch.key, idempotency_key="held-for-another", **second)

    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert workflow_runs(survival.temporal.address, job_id) == 0
    assert _holds(survival, batch.project_id) == [(job_id, 240_000)]
