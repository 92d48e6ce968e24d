"""Problem JSON answers become one exception tree that keeps the server's code, detail and request id."""

from __future__ import annotations

import httpx
import pytest
from scripted_api import ScriptedAPI, problem

from infrai import (
    APIError,
    AuthenticationError,
    ConflictError,
    Infrai,
    InfraiError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)

JOB_PATH = "/v1/video/jobs/vid_123"
GENERATE_PATH = "/v1/video/generate"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "malformed_json", InvalidRequestError),
        (400, "unsafe_url", InvalidRequestError),
        (401, "unauthorized", AuthenticationError),
        (402, "insufficient_credits", InsufficientCreditsError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "idempotency_conflict", ConflictError),
        (422, "invalid_input", InvalidRequestError),
        (422, "unsupported_resolution", InvalidRequestError),
        (422, "no_route", InvalidRequestError),
        (429, "rate_limit_exceeded", RateLimitError),
        (503, "service_unavailable", ServiceUnavailableError),
    ],
)
def test_status_and_code_map_to_the_exception_class(
    client: Infrai, api: ScriptedAPI, status: int, code: str, expected: type[APIError]
) -> None:
    # Retry-After larger than the SDK will sleep, so retryable statuses surface at once.
    api.on("POST", GENERATE_PATH, problem(status, code, "the detail", **{"Retry-After": "120"}))
    with pytest.raises(expected) as caught:
        client.video.generate("skyline")
    error = caught.value
    assert type(error) is expected
    assert isinstance(error, APIError)
    assert isinstance(error, InfraiError)
    assert (error.status, error.code, error.detail) == (status, code, "the detail")
    assert error.problem["type"] == f"https://infrai.dev/problems/{code}"


def test_the_problem_code_decides_over_the_status(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, problem(400, "insufficient_credits"))
    with pytest.raises(InsufficientCreditsError):
        client.video.generate("skyline")


def test_request_id_and_extra_problem_members_are_kept(client: Infrai, api: ScriptedAPI) -> None:
    body = {
        "type": "https://infrai.dev/problems/no-route",
        "title": "Unprocessable content",
        "status": 422,
        "detail": "no vendor offers 4k at 9:16",
        "code": "no_route",
        "alternatives": [{"resolution": "1080p"}],
    }
    api.on("POST", GENERATE_PATH, httpx.Response(422, json=body, headers={"X-Request-Id": "req_abc"}))
    with pytest.raises(InvalidRequestError) as caught:
        client.video.generate("skyline", resolution="4k", aspect="9:16")
    assert caught.value.request_id == "req_abc"
    assert caught.value.problem["alternatives"] == [{"resolution": "1080p"}]
    assert "no vendor offers 4k" in str(caught.value)


def test_rate_limit_error_carries_retry_after(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, problem(429, "rate_limit_exceeded", **{"Retry-After": "90"}))
    with pytest.raises(RateLimitError) as caught:
        client.video.status("vid_123")
    assert caught.value.retry_after == 90.0


def test_a_non_json_error_page_still_maps_by_status(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(InternalServerError) as caught:
        client.video.status("vid_123")
    assert caught.value.status == 502
    assert caught.value.code is None
    assert "Bad Gateway" in caught.value.detail


def test_job_ids_are_escaped_into_the_path(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", "/v1/video/jobs/..%2Fadmin", problem(404, "not_found"))
    with pytest.raises(NotFoundError):
        client.video.status("../admin")
    assert api.requests[0].url.raw_path == b"/v1/video/jobs/..%2Fadmin"
