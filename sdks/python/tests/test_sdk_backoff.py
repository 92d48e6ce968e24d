"""How long the SDK waits, read off the plans' ``Sleep`` effects (no clock involved).

The plans are driven by hand here: each ``Send`` is answered with a scripted response and each ``Sleep``
is recorded instead of slept, so the waits themselves can be asserted exactly.
"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path
from typing import Any

import httpx
from scripted_api import job_json, problem

from infrai import PollPacing, RetryPolicy
from infrai.calls import ClientConfig, send
from infrai.effects import Plan, Send, Sleep
from infrai.video import wait_plan


def config(retry: RetryPolicy | None = None, pacing: PollPacing | None = None) -> ClientConfig:
    return ClientConfig(
        base_url="http://api.test",
        timeout=httpx.Timeout(5.0),
        retry=retry or RetryPolicy(),
        poll_pacing=pacing or PollPacing(),
        credentials_path=Path("/nonexistent/credentials"),
        explicit_api_key="k",
    )


def drive(plan: Plan[Any], responses: list[httpx.Response]) -> tuple[Any, list[float]]:
    """Run ``plan`` answering its requests in order; return its result and the sleeps it asked for."""
    sleeps: list[float] = []
    replies = iter(responses)
    outcome: Any = None
    try:
        while True:
            effect = plan.send(outcome)
            if isinstance(effect, Sleep):
                sleeps.append(effect.seconds)
                outcome = None
            else:
                assert isinstance(effect, Send)
                outcome = next(replies)
    except StopIteration as finished:
        return finished.value, sleeps


def get_job(cfg: ClientConfig) -> httpx.Request:
    return cfg.request("GET", "/v1/video/jobs/vid_123")


def test_retry_after_seconds_are_slept_as_given() -> None:
    cfg = config()
    responses = [problem(429, "rate_limit_exceeded", **{"Retry-After": "7"}), httpx.Response(200)]
    response, sleeps = drive(send(cfg, get_job(cfg), repeatable=True), responses)
    assert response.status_code == 200
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    cfg = config()
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    responses = [problem(503, "service_unavailable", **{"Retry-After": when}), httpx.Response(200)]
    _, sleeps = drive(send(cfg, get_job(cfg), repeatable=True), responses)
    assert len(sleeps) == 1
    assert 10 < sleeps[0] <= 20


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_retries=5, initial_delay=1.0, max_delay=4.0)
    cfg = config(retry=policy)
    responses = [httpx.Response(503)] * 5 + [httpx.Response(200)]
    _, sleeps = drive(send(cfg, get_job(cfg), repeatable=True), responses)
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == 5
    for slept, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling


def test_wait_polls_faster_first_then_slower_up_to_the_cap() -> None:
    cfg = config(pacing=PollPacing(interval=1.0, max_interval=3.0, factor=2.0))
    running = [httpx.Response(200, json=job_json(state="running", progress=p)) for p in (0, 20, 40, 60, 80)]
    done = httpx.Response(200, json=job_json(state="succeeded", progress=100))
    job, sleeps = drive(wait_plan(cfg, "vid_123", None, None), [*running, done])
    assert job.state == "succeeded"
    ceilings = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(sleeps) == len(ceilings)
    for slept, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling * 0.9 <= slept <= ceiling


def test_wait_never_sleeps_past_its_timeout() -> None:
    cfg = config(pacing=PollPacing(interval=30.0, max_interval=30.0))
    plan = wait_plan(cfg, "vid_123", 5.0, None)
    assert isinstance(next(plan), Send)
    sleep = plan.send(httpx.Response(200, json=job_json(state="running")))
    assert isinstance(sleep, Sleep)
    assert sleep.seconds <= 5.0
