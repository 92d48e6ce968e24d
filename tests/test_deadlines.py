"""Deadlines on the real stack: API → Temporal → worker (a subprocess) → the Runway emulator on loopback, with
each test on a fresh project so its ledger is its own. A job held open at the vendor past its deadline is
stopped there and costs nothing; so is one whose deadline passes while the vendor's answer to the submit is
held; a job that finishes first is untouched. The request side (the field, ``Cancel-After``, their
refusals and the idempotency fingerprint) runs against the local-vendor stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.deadlines import cancel_after_seconds
from api.problems import ProblemError
from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack
from tests.fixtures.vendor_stack import EmulatedVendors

RUNWAY_ONLY: dict[str, Any] = {"vendor": "runway", "model": "gen4.5", "duration_seconds": 5}
DEADLINE = 5


def _account(stack: Stack, key: str) -> dict[str, Any]:
    with stack.client(key) as client:
        response = client.get("/v1/account")
        response.raise_for_status()
        account: dict[str, Any] = response.json()
        return account


def _until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g}s")
        time.sleep(0.05)


async def _timer_events(temporal: Client, job_id: str) -> tuple[int, int]:
    """How many timers the job's workflow started and how many fired."""
    history = await temporal.get_workflow_handle(job_id).fetch_history()
    started = sum(e.HasField("timer_started_event_attributes") for e in history.events)
    fired = sum(e.HasField("timer_fired_event_attributes") for e in history.events)
    return started, fired


def _runway_task(runway: EmulatorServer, marker: str) -> dict[str, Any]:
    [task] = runway.steering()[marker]["tasks"]
    return dict(task)


def _assert_cost_nothing(stack: Stack, key: str, before: dict[str, Any], job: dict[str, Any]) -> None:
    assert job["state"] == "cancelled", job
    assert job["error"]["code"] == "deadline_exceeded" and not job["error"]["billed"], job
    assert job["cost"]["settled_usd"] == "0.00"
    after = _account(stack, key)
    assert (after["balance_usd"], after["held_usd"]) == (before["balance_usd"], "0.00")


# -- the deadline at the vendor ------------------------------------------------------------------------


async def test_a_job_held_at_the_vendor_past_its_deadline_is_stopped_there_and_costs_nothing(
    emulated: EmulatedVendors,
) -> None:
    stack, runway = emulated.stack, emulated["runway"]
    key, _ = stack.new_project()
    before = _account(stack, key)
    runway.steer("dl-generating", hold=True)
    response = stack.generate(
        key, prompt="a kite [[dl-generating]]", deadline_seconds=DEADLINE, **RUNWAY_ONLY
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["deadline_at"] is not None
    job = stack.wait_final(created["job_id"], key=key)
    _assert_cost_nothing(stack, key, before, job)
    assert datetime.fromisoformat(job["finished_at"]) >= datetime.fromisoformat(job["deadline_at"])
    assert _runway_task(runway, "dl-generating")["state"] == "cancelled"  # the emulator saw the stop
    assert await _timer_events(emulated.temporal, created["job_id"]) == (1, 1)


@pytest.fixture
def patient_worker(emulated: EmulatedVendors) -> Iterator[Stack]:
    """The vendor stack's worker waiting up to 60 s for a vendor's answer (the stack's own 5 s would give
    up on a held submit before a 5 s deadline could pass), restored afterwards."""
    stack = emulated.stack
    stack.stop("worker")
    stack.start("worker", INFRAI_VENDOR_REQUEST_TIMEOUT_SECONDS="60")
    try:
        yield stack
    finally:
        stack.stop("worker")
        stack.start("worker")


async def test_a_deadline_passing_while_the_submit_answer_is_held_stops_the_task_and_costs_nothing(
    emulated: EmulatedVendors, patient_worker: Stack
) -> None:
    stack, runway = patient_worker, emulated["runway"]
    key, _ = stack.new_project()
    before = _account(stack, key)
    runway.steer("dl-held", submit="held_answer")  # the task exists at once; its id is answered on release
    response = stack.generate(key, prompt="a kite [[dl-held]]", deadline_seconds=DEADLINE, **RUNWAY_ONLY)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    _until(lambda: runway.steering().get("dl-held", {}).get("tasks"), "the task created at the vendor")
    for _ in range(1200):  # the deadline passes while the submit is still in flight
        if (await _timer_events(emulated.temporal, job_id))[1] == 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the deadline never passed")
    assert stack.job(job_id, key)["state"] == "running"  # the workflow waits for the submit's outcome
    runway.release("dl-held")
    job = stack.wait_final(job_id, key=key)
    _assert_cost_nothing(stack, key, before, job)
    # No orphan: the task the held submit created was stopped once its id was known.
    assert _runway_task(runway, "dl-held")["state"] == "cancelled"


async def test_a_job_that_finishes_before_its_deadline_is_unaffected(emulated: EmulatedVendors) -> None:
    stack, runway = emulated.stack, emulated["runway"]
    key, _ = stack.new_project()
    response = stack.generate(key, prompt="a kite [[dl-quick]]", deadline_seconds=3600, **RUNWAY_ONLY)
    assert response.status_code == 202, response.text
    job = stack.wait_final(response.json()["job_id"], key=key)
    assert job["state"] == "succeeded" and job["error"] is None and job["video_url"]
    assert float(job["cost"]["settled_usd"]) > 0
    assert datetime.fromisoformat(job["finished_at"]) < datetime.fromisoformat(job["deadline_at"])
    assert runway.stats()["cancels"] == 0
    # Closed before its timer fired: Temporal dropped the timer with the workflow.
    assert await _timer_events(emulated.temporal, job["job_id"]) == (1, 0)


# -- the request -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5s", 5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1h30m45s", 5445), ("2h", 7200), ("30", 30)],
)
def test_cancel_after_reads_durations_as_replicate_writes_them(value: str, seconds: int) -> None:
    assert cancel_after_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "4s", "0", "5 minutes", "1m1h", "1.5m", "-5s", "25h", "5ms", "PT5M"])
def test_cancel_after_refuses_what_is_not_a_duration_of_5s_to_24h(value: str) -> None:
    with pytest.raises(ProblemError) as caught:
        cancel_after_seconds(value)
    assert (caught.value.status, caught.value.code) == (422, "invalid_deadline")


def _post(stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    with stack.client() as client:
        return client.post("/v1/video/generate", json={"prompt": "a kite", "vendor": "local", **body},
                           headers=headers or {})  # fmt: skip


def test_the_cancel_after_header_sets_the_deadline(live_stack: Stack) -> None:
    response = _post(live_stack, {"duration_seconds": 1}, {"Cancel-After": "1h30m"})
    assert response.status_code == 202, response.text
    job = response.json()
    deadline = datetime.fromisoformat(job["deadline_at"]) - datetime.fromisoformat(job["created_at"])
    assert deadline.total_seconds() == 5400
    status = live_stack.wait_final(job["job_id"])
    assert status["state"] == "succeeded" and status["deadline_at"] is not None


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        ({"deadline_seconds": 4}, {}, "invalid_input"),
        ({"deadline_seconds": 86401}, {}, "invalid_input"),
        ({"deadline_seconds": "60"}, {}, "invalid_input"),
        ({}, {"Cancel-After": "soon"}, "invalid_deadline"),
        ({}, {"Cancel-After": "3s"}, "invalid_deadline"),
        ({"deadline_seconds": 60}, {"Cancel-After": "2m"}, "invalid_deadline"),
    ],
)
def test_a_bad_or_contradictory_deadline_is_a_422_problem(
    live_stack: Stack, body: dict[str, Any], headers: dict[str, str], code: str
) -> None:
    response = _post(live_stack, body, headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_the_deadline_is_part_of_the_idempotency_fingerprint(live_stack: Stack) -> None:
    key = f"deadline-{time.time_ns()}"
    first = _post(live_stack, {"idempotency_key": key, "deadline_seconds": 60})
    assert first.status_code == 202, first.text
    # The same deadline sent as the header instead of the field is the same request: the same job.
    again = _post(live_stack, {"idempotency_key": key}, {"Cancel-After": "1m"})
    assert again.status_code == 200 and again.json()["job_id"] == first.json()["job_id"]
    for body, headers in (({"deadline_seconds": 120}, {}), ({}, {}), ({}, {"Cancel-After": "90s"})):
        conflict = _post(live_stack, {"idempotency_key": key, **body}, headers)
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["code"] == "idempotency_conflict"


def test_the_openai_create_takes_the_deadline_as_the_cancel_after_header(live_stack: Stack) -> None:
    with live_stack.client() as client:
        refused = client.post("/v1/videos", json={"prompt": "a kite"}, headers={"Cancel-After": "2s"})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_deadline"
        created = client.post("/v1/videos", json={"prompt": "a kite"}, headers={"Cancel-After": "10m"})
        assert created.status_code == 200, created.text
        job = client.get(f"/v1/video/jobs/{created.json()['id']}").json()
    assert job["deadline_at"] is not None
