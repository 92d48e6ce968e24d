"""Per-key rate limits on the real API over HTTP: the IETF ``RateLimit-Policy`` / ``RateLimit`` fields on
every authenticated response, ``429`` problem JSON with ``Retry-After`` at the limit, windows that end,
keys that count alone, one count across two API replicas, and the Python SDK waiting out the server's
reset. The limits are the fixture's (tests/fixtures/rate_limited_stack.py): 8 calls and 3 job creations per
key per 4 s window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from infrai.calls import send
from infrai.client import Infrai
from infrai.effects import Plan, Send, Sleep

from tests.fixtures.rate_limited_stack import (
    JOB_LIMIT,
    LIMIT,
    LIMIT_SETTINGS,
    POLICY_FIELD,
    WINDOW,
    requests_seen,
    service_limits,
    start_of_a_window,
)
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer

GENERATE = {"prompt": "a lighthouse in fog", "duration_seconds": 1}


def spend(client: httpx.Client, calls: int, path: str = "/v1/account") -> list[httpx.Response]:
    return [client.get(path) for _ in range(calls)]


def test_every_authenticated_response_carries_both_fields_counting_down(rate_limited_stack: Stack) -> None:
    with rate_limited_stack.client(rate_limited_stack.activate()) as client:
        start_of_a_window()
        answers = [
            client.get("/v1/account"),
            client.get("/v1/video/jobs"),
            client.get("/v1/video/jobs/vid_nosuchjob"),  # an error answer counts and says so too
            client.post("/v1/video/generate", json=GENERATE),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 404, 202]
    assert {answer.headers["RateLimit-Policy"] for answer in answers} == {POLICY_FIELD}
    limits = [service_limits(answer) for answer in answers]
    assert [limit["default"][0] for limit in limits] == [LIMIT - 1, LIMIT - 2, LIMIT - 3, LIMIT - 4]
    assert "jobs" not in limits[0] and limits[3]["jobs"][0] == JOB_LIMIT - 1  # only creations count there
    assert all(1 <= reset <= WINDOW for limit in limits for _, reset in limit.values())


def test_the_call_past_the_limit_is_429_problem_json_with_retry_after(rate_limited_stack: Stack) -> None:
    with rate_limited_stack.client(rate_limited_stack.activate()) as client:
        start_of_a_window()
        allowed = spend(client, LIMIT)
        refused = client.get("/v1/account")
    assert [answer.status_code for answer in allowed] == [200] * LIMIT
    assert service_limits(allowed[-1])["default"][0] == 0
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "rate_limit_exceeded" and problem["violated-policies"] == ["default"]
    assert (problem["limit"], problem["window_seconds"]) == (LIMIT, WINDOW)
    remaining, reset = service_limits(refused)["default"]
    assert remaining == 0 and int(refused.headers["Retry-After"]) == reset
    assert refused.headers["RateLimit-Policy"] == POLICY_FIELD


def test_a_job_status_past_the_limit_is_429_though_its_read_ran_beside_the_count(
    rate_limited_stack: Stack,
) -> None:
    """A job's status is read while its request is counted; past the limit the answer is still the 429,
    for a plain read and for one that asked to wait for the job's end: that wait is stopped, not served
    (this stack runs no worker, so the job stays queued and a served wait would outlast the client's 10 s
    timeout)."""
    with rate_limited_stack.client(rate_limited_stack.activate()) as client:
        start_of_a_window()
        job_id = client.post("/v1/video/generate", json=GENERATE).json()["job_id"]
        allowed = spend(client, LIMIT - 1, "/v1/video/jobs/vid_nosuchjob")
        refused = client.get(f"/v1/video/jobs/{job_id}", timeout=10)
        refused_wait = client.get(f"/v1/video/jobs/{job_id}", headers={"Prefer": "wait=30"}, timeout=10)
    assert [answer.status_code for answer in allowed] == [404] * (LIMIT - 1)
    assert [service_limits(answer)["default"][0] for answer in allowed] == list(range(LIMIT - 2, -1, -1))
    for answer in (refused, refused_wait):
        assert answer.status_code == 429 and answer.json()["code"] == "rate_limit_exceeded"
        assert "Preference-Applied" not in answer.headers


def test_job_creations_have_their_own_lower_limit(rate_limited_stack: Stack) -> None:
    with rate_limited_stack.client(rate_limited_stack.activate()) as client:
        start_of_a_window()
        created = [client.post("/v1/video/generate", json=GENERATE) for _ in range(JOB_LIMIT)]
        refused = client.post("/v1/video/generate", json=GENERATE)
        still_reads = client.get("/v1/account")
    assert [answer.status_code for answer in created] == [202] * JOB_LIMIT
    assert refused.status_code == 429 and refused.json()["violated-policies"] == ["jobs"]
    assert service_limits(refused)["jobs"][0] == 0
    assert still_reads.status_code == 200
    assert service_limits(still_reads)["default"][0] == LIMIT - JOB_LIMIT - 2


def test_the_window_ends_when_retry_after_said(rate_limited_stack: Stack) -> None:
    with rate_limited_stack.client(rate_limited_stack.activate()) as client:
        start_of_a_window()
        spend(client, LIMIT)
        refused = client.get("/v1/account")
        assert refused.status_code == 429
        time.sleep(int(refused.headers["Retry-After"]))
        again = client.get("/v1/account")
    assert again.status_code == 200
    assert service_limits(again)["default"][0] == LIMIT - 1  # a fresh window, this call its first


def test_two_keys_count_alone(rate_limited_stack: Stack) -> None:
    first, second = rate_limited_stack.activate(), rate_limited_stack.activate()
    with rate_limited_stack.client(first) as one, rate_limited_stack.client(second) as other:
        start_of_a_window()
        spend(one, LIMIT)
        assert one.get("/v1/account").status_code == 429
        answer = other.get("/v1/account")
    assert answer.status_code == 200 and service_limits(answer)["default"][0] == LIMIT - 1


def test_unauthenticated_answers_carry_no_limit_fields(rate_limited_stack: Stack) -> None:
    refused = httpx.get(rate_limited_stack.api_url + "/v1/account", timeout=10)
    assert refused.status_code == 401
    assert "RateLimit" not in refused.headers and "RateLimit-Policy" not in refused.headers


@pytest.fixture(scope="module")
def second_replica(
    rate_limited_stack: Stack, temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Another API process on the same accounts database, as a second replica behind a load balancer."""
    shared = f"sqlite:///{Path(rate_limited_stack.data_dir, 'accounts.db').resolve()}"
    folder = tmp_path_factory.mktemp("second-replica")
    settings = {**LIMIT_SETTINGS, "INFRAI_DATABASE_URL": shared}
    with started_stack(temporal_server, folder, ("api",), **settings) as replica:
        yield replica


def test_two_replicas_on_one_database_share_the_count(
    rate_limited_stack: Stack, second_replica: Stack
) -> None:
    key = rate_limited_stack.activate()
    with rate_limited_stack.client(key) as one, second_replica.client(key) as other:
        start_of_a_window()
        answers = [(one if turn % 2 else other).get("/v1/account") for turn in range(LIMIT + 2)]
    assert [answer.status_code for answer in answers] == [200] * LIMIT + [429, 429]
    assert [service_limits(answer)["default"][0] for answer in answers[:LIMIT]] == list(
        range(LIMIT - 1, -1, -1)
    )


def run_recording_sleeps(
    plan: Plan[Any], http: httpx.Client
) -> tuple[Any, list[httpx.Response], list[float]]:
    """The SDK's sync driver, but noting each response the plan saw and each ``Sleep`` it asked for (and
    still sleeping it: the server must see the retry after the wait)."""
    responses: list[httpx.Response] = []
    sleeps: list[float] = []
    outcome: Any = None
    try:
        while True:
            effect = plan.send(outcome)
            if isinstance(effect, Sleep):
                sleeps.append(effect.seconds)
                time.sleep(effect.seconds)
                outcome = None
            else:
                assert isinstance(effect, Send)
                outcome = http.send(effect.request)
                responses.append(outcome)
    except StopIteration as finished:
        return finished.value, responses, sleeps


def test_the_python_sdk_waits_out_the_servers_reset_then_succeeds(rate_limited_stack: Stack) -> None:
    key = rate_limited_stack.activate()
    before = requests_seen(rate_limited_stack, "GET", "/v1/account")
    with (
        Infrai(api_key=key, base_url=rate_limited_stack.api_url) as sdk,
        rate_limited_stack.client(key) as client,
        httpx.Client() as http,
    ):
        start_of_a_window()
        spend(client, LIMIT)
        request = sdk.config.request("GET", "/v1/account")
        response, seen, sleeps = run_recording_sleeps(send(sdk.config, request, repeatable=True), http)
    after = requests_seen(rate_limited_stack, "GET", "/v1/account")
    assert response.status_code == 200 and [answer.status_code for answer in seen] == [429, 200]
    told = int(seen[0].headers["Retry-After"])
    assert len(sleeps) == 1 and sleeps[0] >= told == service_limits(seen[0])["default"][1]
    # The server saw this key's LIMIT calls, one refused SDK call, and the SDK's one retry: no more.
    assert after.get("429", 0) - before.get("429", 0) == 1
    assert after.get("200", 0) - before.get("200", 0) == LIMIT + 1
    assert sdk.rate_limits[0].policy == "default" and sdk.rate_limits[0].remaining == LIMIT - 1
