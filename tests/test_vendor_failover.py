"""Failover and failure semantics through the real processes and the vendors' loopback emulators.

The rule under test (issue 3, design §2): move to the next candidate only when the vendor provably never
took the task; once it accepted, poll that task to its end and never submit elsewhere; a refusal is final;
a submit whose outcome is unknown is never sent to a second vendor. Each test first checks the route the
API plans (same router, same catalog), so a catalog change that reorders vendors fails loudly here.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from tests.fixtures.vendor_stack import HANG_SECONDS, EmulatedVendors

# Requests whose planned route starts with a given vendor (checked in each test).
RUNWAY_FIRST = {"prefer": "cheapest", "duration_seconds": 8, "resolution": "720p"}  # runway, then google
GOOGLE_FIRST = {"prefer": "smartest", "duration_seconds": 8, "resolution": "720p"}  # google, then runway
FAL_FIRST = {"prefer": "cheapest", "duration_seconds": 5, "resolution": "1080p"}  # fal, then kling
KLING_FIRST = {"prefer": "balanced", "duration_seconds": 5, "resolution": "720p"}  # kling, then runway


def _first_two_vendors(emulated: EmulatedVendors, request: dict[str, object]) -> tuple[str, str]:
    route = emulated.route(**request)  # type: ignore[arg-type]
    first = route[0].vendor
    second = next(candidate.vendor for candidate in route if candidate.vendor != first)
    return first, second


def _others_untouched(emulated: EmulatedVendors, *allowed: str) -> None:
    touched = {name: n for name, n in emulated.submissions().items() if n and name not in allowed}
    assert touched == {}, f"vendors that should never have been asked: {touched}"


async def test_a_vendor_down_at_submit_hands_the_job_to_the_next_vendor(emulated: EmulatedVendors) -> None:
    first, second = _first_two_vendors(emulated, RUNWAY_FIRST)
    assert (first, second) == ("runway", "google")
    emulated[first].configure(submit="server_error")
    job_id = emulated.stack.generate(prompt="a tram in the rain", **RUNWAY_FIRST).json()["job_id"]
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    assert job["vendor"] == second
    assert emulated[first].stats()["submissions"] == 2  # one retry on the same vendor, then failover
    assert emulated[first].stats()["accepted"] == 0
    assert emulated[second].stats()["accepted"] == 1
    attempts = [(a.vendor, a.outcome) for a in (await emulated.final_snapshot(job_id)).attempts]
    assert attempts == [(first, "rejected:vendor_unavailable"), (second, "succeeded")]


async def test_a_task_that_failed_after_acceptance_is_never_resubmitted(emulated: EmulatedVendors) -> None:
    first, _ = _first_two_vendors(emulated, RUNWAY_FIRST)
    emulated[first].configure(outcome="fail")  # accepted, then the render fails (FAILED / INTERNAL)
    job_id = emulated.stack.generate(prompt="a tram in the snow", **RUNWAY_FIRST).json()["job_id"]
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "failed", job
    assert job["vendor"] == first
    assert job["error"]["code"] == "vendor_error"
    assert job["error"]["billed"] is False and job["cost"]["settled_usd"] == "0.00"  # a failed render
    assert emulated.submissions() == {**dict.fromkeys(emulated.emulators, 0), first: 1}


def test_a_refusal_after_the_model_ran_is_content_policy_and_billed_as_fal_says(
    emulated: EmulatedVendors,
) -> None:
    first, _ = _first_two_vendors(emulated, FAL_FIRST)
    assert first == "fal"
    emulated["fal"].configure(outcome="moderation")  # the result answers 422 content_policy_violation
    job = emulated.stack.wait_final(emulated.stack.generate(prompt="a fox", **FAL_FIRST).json()["job_id"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "content_policy"
    # fal: a 422 "may still be charged if a runner spent GPU time" — it ran, so the customer pays.
    assert job["error"]["billed"] is True
    assert Decimal(job["cost"]["settled_usd"]) == Decimal(job["cost"]["estimated_usd"]) > 0
    _others_untouched(emulated, "fal")


def test_veo_filtering_the_video_is_content_policy_and_never_tried_elsewhere(
    emulated: EmulatedVendors,
) -> None:
    first, _ = _first_two_vendors(emulated, GOOGLE_FIRST)
    assert first == "google"
    # The operation ends done, with raiMediaFilteredCount and no generatedSamples.
    emulated["google"].configure(outcome="moderation")
    job = emulated.stack.wait_final(
        emulated.stack.generate(prompt="a crowd", **GOOGLE_FIRST).json()["job_id"]
    )
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "content_policy"
    assert "not been charged" in job["error"]["message"]
    assert job["error"]["billed"] is False and job["cost"]["settled_usd"] == "0.00"
    assert emulated["google"].stats()["accepted"] == 1
    _others_untouched(emulated, "google")


def test_a_refusal_at_submit_is_final(emulated: EmulatedVendors) -> None:
    first, second = _first_two_vendors(emulated, FAL_FIRST)
    emulated[first].configure(submit="refuse")  # fal's checker refuses the input with a 422
    job = emulated.stack.wait_final(emulated.stack.generate(prompt="a fox", **FAL_FIRST).json()["job_id"])
    assert job["state"] == "failed", job
    assert (job["vendor"], job["error"]["code"], job["error"]["billed"]) == (first, "content_policy", False)
    assert emulated[first].stats()["submissions"] == 1  # not retried either
    assert emulated[second].stats()["submissions"] == 0
    _others_untouched(emulated, first)


def test_429_is_retried_after_retry_after_then_fails_over(emulated: EmulatedVendors) -> None:
    first, second = _first_two_vendors(emulated, RUNWAY_FIRST)
    # Retry-After 2 s is longer than the retry policy's first backoff (1 s): the spacing shows who decided.
    emulated[first].configure(submit="rate_limited", retry_after=2)
    job_id = emulated.stack.generate(prompt="a tram at noon", **RUNWAY_FIRST).json()["job_id"]
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    assert job["vendor"] == second
    times = emulated[first].submission_times()
    assert len(times) == 4  # bounded: four attempts at the rate-limited vendor, then the next one
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 1.9, gaps  # each retry waited for Retry-After (lower bounds only: load adds time)


def test_a_retry_after_of_minutes_fails_over_at_once(emulated: EmulatedVendors) -> None:
    first, second = _first_two_vendors(emulated, RUNWAY_FIRST)
    emulated[first].configure(submit="rate_limited", retry_after=600)
    job = emulated.stack.wait_final(emulated.stack.generate(prompt="a tram", **RUNWAY_FIRST).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["vendor"] == second
    assert emulated[first].stats()["submissions"] == 1


async def test_a_submit_whose_answer_was_lost_is_not_sent_elsewhere(emulated: EmulatedVendors) -> None:
    first, second = _first_two_vendors(emulated, RUNWAY_FIRST)
    # Runway creates the task, but its answer arrives after our timeout: the task may exist, unseen.
    emulated[first].configure(submit="lost_answer", hang_seconds=HANG_SECONDS)
    job_id = emulated.stack.generate(prompt="a tram at dawn", **RUNWAY_FIRST).json()["job_id"]
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "timeout"
    assert "not sent to another vendor" in job["error"]["message"]
    assert (job["error"]["billed"], job["error"]["retryable"]) == (False, True)
    assert job["cost"]["settled_usd"] == "0.00"
    assert emulated[first].stats()["submissions"] == 1  # no blind resubmit
    assert emulated[second].stats()["submissions"] == 0  # and no second vendor
    attempts = [(a.vendor, a.outcome) for a in (await emulated.final_snapshot(job_id)).attempts]
    assert attempts == [(first, "unknown:timeout")]


def test_kling_finds_the_task_a_lost_submit_answer_created(emulated: EmulatedVendors) -> None:
    first, _ = _first_two_vendors(emulated, KLING_FIRST)
    assert first == "kling"
    emulated["kling"].configure(submit="lost_answer", hang_seconds=HANG_SECONDS)
    job = emulated.stack.wait_final(emulated.stack.generate(prompt="a kite", **KLING_FIRST).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["vendor"] == "kling"
    # The retry looked the task up by its external_task_id instead of creating a second one.
    stats = emulated["kling"].stats()
    assert (stats["submissions"], stats["accepted"]) == (1, 1)
    _others_untouched(emulated, "kling")


async def test_a_poll_told_to_wait_longer_than_the_heartbeat_timeout_keeps_its_attempt(
    emulated: EmulatedVendors,
) -> None:
    # The stack's poll heartbeat timeout is 3 s; Runway asks for 5 s between status reads for a while.
    emulated["runway"].configure(poll="rate_limited", retry_after=5)
    job_id = emulated.stack.generate(
        prompt="a slow tide", vendor="runway", model="gen4.5", duration_seconds=5
    ).json()["job_id"]
    emulated.stack.wait_for(job_id, lambda _: emulated["runway"].stats()["polls"] >= 2)
    emulated["runway"].configure(poll="ok")
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    history = await emulated.temporal.get_workflow_handle(job_id).fetch_history()
    scheduled = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    poll_attempts = [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
        and scheduled[event.activity_task_started_event_attributes.scheduled_event_id] == "poll_vendor"
    ]
    assert poll_attempts == [1]  # it heartbeated through the wait: never taken for a dead worker


def test_the_hold_covers_the_dearest_vendor_the_job_may_fail_over_to(emulated: EmulatedVendors) -> None:
    route = emulated.route(**RUNWAY_FIRST)  # type: ignore[arg-type]
    dearest = max(candidate.estimated_cost_usd for candidate in route)
    assert dearest > route[0].estimated_cost_usd  # the route's later candidates cost more than the first
    emulated[route[0].vendor].configure(hold=True)
    job_id = emulated.stack.generate(prompt="a held tram", **RUNWAY_FIRST).json()["job_id"]
    try:
        emulated.stack.wait_for(job_id, lambda job: job["stage"] == "generating")
        with emulated.stack.client() as client:
            account = client.get("/v1/account").json()
        assert Decimal(account["held_usd"]) >= dearest
    finally:
        emulated[route[0].vendor].configure(hold=False)
    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "succeeded"
    assert Decimal(job["cost"]["settled_usd"]) == route[0].estimated_cost_usd
