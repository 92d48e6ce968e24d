"""The server's ``RateLimit`` field (draft-ietf-httpapi-ratelimit-headers): read leniently, obeyed on a
429 that has no ``Retry-After``, kept as the client's last seen state, and named by the CLI."""

from __future__ import annotations

import httpx
from scripted_api import ScriptedAPI, job_json, problem
from test_sdk_backoff import config, drive, get_job
from test_sdk_cli import run_cli

from infrai import Infrai, RateLimit, RateLimitError
from infrai.calls import send
from infrai.ratelimits import exhausted_reset, parse_ratelimit

JOB_PATH = "/v1/video/jobs/vid_123"


def test_each_policy_is_read_with_quoted_or_token_names() -> None:
    assert parse_ratelimit('"default";r=2999;t=42, jobs;r=0;t=7;pk=:cHsd:') == (
        RateLimit("default", 2999, 42),
        RateLimit("jobs", 0, 7),
    )
    assert parse_ratelimit('"a,b";r=1') == (RateLimit("a,b", 1, None),)


def test_malformed_items_and_fields_are_ignored() -> None:
    field = '"x";t=3, "y";r=-1, "z";r=abc, 5;r=1, "ok";r=2;t=1'
    assert parse_ratelimit(field) == (RateLimit("ok", 2, 1),)
    assert parse_ratelimit(None) == () and parse_ratelimit("limit=100, remaining=0") == ()


def test_the_wait_is_the_longest_reset_among_exhausted_policies() -> None:
    limits = parse_ratelimit('"default";r=0;t=5, "jobs";r=0;t=9, "other";r=3;t=60')
    assert exhausted_reset(limits) == 9
    assert exhausted_reset(parse_ratelimit('"default";r=1;t=5')) is None


def test_a_429_without_retry_after_waits_the_exhausted_policys_reset() -> None:
    cfg = config()
    refused = problem(429, "rate_limit_exceeded", RateLimit='"default";r=0;t=3')
    response, sleeps = drive(send(cfg, get_job(cfg), repeatable=True), [refused, httpx.Response(200)])
    assert response.status_code == 200 and sleeps == [3.0]


def test_retry_after_takes_precedence_over_the_ratelimit_field() -> None:
    cfg = config()
    refused = problem(429, "rate_limit_exceeded", **{"Retry-After": "2", "RateLimit": '"default";r=0;t=30'})
    _, sleeps = drive(send(cfg, get_job(cfg), repeatable=True), [refused, httpx.Response(200)])
    assert sleeps == [2.0]


def test_the_client_keeps_the_last_limits_it_was_told(client: Infrai, api: ScriptedAPI) -> None:
    assert not client.rate_limits
    told = httpx.Response(200, json=job_json(), headers={"RateLimit": '"default";r=9;t=60'})
    api.on("GET", JOB_PATH, told, httpx.Response(200, json=job_json()))
    client.video.status("vid_123")
    client.video.status("vid_123")  # no field this time: the last one told still stands
    assert client.rate_limits == (RateLimit("default", 9, 60),)


def test_the_error_carries_the_field(client: Infrai, api: ScriptedAPI) -> None:
    api.on(
        "GET",
        JOB_PATH,
        problem(429, "rate_limit_exceeded", **{"Retry-After": "3600", "RateLimit": '"jobs";r=0;t=3600'}),
    )
    try:
        client.video.status("vid_123")
    except RateLimitError as error:
        assert error.rate_limits == (RateLimit("jobs", 0, 3600),)
    else:
        raise AssertionError("a 429 beyond max_retry_after must be raised")


def test_the_cli_says_which_limit_and_when_to_come_back(client: Infrai, api: ScriptedAPI) -> None:
    refused = problem(
        429, "rate_limit_exceeded", "over", **{"Retry-After": "3600", "RateLimit": '"jobs";r=0;t=3600'}
    )
    api.on("POST", "/v1/video/generate", refused)
    result = run_cli(client, "video", "generate", "skyline")
    assert result.code == 4
    assert "rate limited: this API key used up its 'jobs' rate limit; try again in 3600 s" in result.stderr
