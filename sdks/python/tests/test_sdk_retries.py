"""Which failures the SDK retries, how often, and that a retried generate can never start a second job."""

from __future__ import annotations

import json

import httpx
import pytest
from scripted_api import ScriptedAPI, job_json, keyless_client, problem

from infrai import (
    APIConnectionError,
    APITimeoutError,
    AsyncInfrai,
    Infrai,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)

JOB_PATH = "/v1/video/jobs/vid_123"
GENERATE_PATH = "/v1/video/generate"
ACTIVATE_PATH = "/v1/accounts/activate"
ACTIVATION = {"project_id": "proj_1", "key_id": "key_1", "api_key": "ifr_pk_proj_new", "balance_usd": "5.00"}


def test_429_with_retry_after_is_retried_until_success(client: Infrai, api: ScriptedAPI) -> None:
    api.on(
        "GET",
        JOB_PATH,
        problem(429, "rate_limit_exceeded", **{"Retry-After": "0"}),
        httpx.Response(200, json=job_json(state="running")),
    )
    job = client.video.status("vid_123")
    assert job.state == "running"
    assert len(api.sent("GET", JOB_PATH)) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_get_is_retried(client: Infrai, api: ScriptedAPI, status: int) -> None:
    api.on(
        "GET", JOB_PATH, httpx.Response(status, text="upstream trouble"), httpx.Response(200, json=job_json())
    )
    assert client.video.status("vid_123").job_id == "vid_123"
    assert len(api.sent()) == 2


def test_retries_stop_after_max_retries(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, problem(500, "internal"))
    with pytest.raises(InternalServerError):
        client.video.status("vid_123")
    assert len(api.sent()) == 3  # the first attempt and max_retries=2 retries


def test_max_retries_zero_makes_one_attempt(api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, problem(503, "service_unavailable"))
    sdk = keyless_client(api, api_key="k", max_retries=0)
    with pytest.raises(ServiceUnavailableError):
        sdk.video.status("vid_123")
    assert len(api.sent()) == 1


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [(400, "invalid_input", InvalidRequestError), (404, "not_found", NotFoundError)],
)
def test_4xx_is_not_retried(client: Infrai, api: ScriptedAPI, status: int, code: str, error: type) -> None:
    api.on("GET", JOB_PATH, problem(status, code), httpx.Response(200, json=job_json()))
    with pytest.raises(error):
        client.video.status("vid_123")
    assert len(api.sent()) == 1


def test_retry_after_beyond_the_limit_is_raised_at_once(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, problem(429, "rate_limit_exceeded", **{"Retry-After": "3600"}))
    with pytest.raises(RateLimitError) as caught:
        client.video.status("vid_123")
    assert caught.value.retry_after == 3600
    assert len(api.sent()) == 1


def test_connect_error_on_a_get_is_retried(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, httpx.ConnectError("refused"), httpx.Response(200, json=job_json()))
    assert client.video.status("vid_123").state == "queued"
    assert len(api.sent()) == 2


def test_connect_errors_surface_as_api_connection_error(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError) as caught:
        client.video.status("vid_123")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(api.sent()) == 3


def test_cancel_is_retried_on_5xx(client: Infrai, api: ScriptedAPI) -> None:
    path = JOB_PATH + "/cancel"
    ok = {"ok": True, "job_id": "vid_123", "state": "running"}
    api.on("POST", path, problem(503, "service_unavailable"), httpx.Response(200, json=ok))
    assert client.video.cancel(id="vid_123").get("ok") is True
    assert len(api.sent("POST", path)) == 2


# generate: retried because it always carries an Idempotency-Key


def test_generate_sends_one_generated_key_on_every_retry(client: Infrai, api: ScriptedAPI) -> None:
    api.on(
        "POST",
        GENERATE_PATH,
        problem(503, "service_unavailable"),
        httpx.ReadTimeout("slow"),
        httpx.Response(202, json=job_json(), headers={"Location": JOB_PATH}),
    )
    job = client.video.generate("a timelapse of a city skyline at dusk")
    assert job["job_id"] == "vid_123"
    attempts = api.sent("POST", GENERATE_PATH)
    assert len(attempts) == 3
    keys = {attempt.headers["Idempotency-Key"] for attempt in attempts}
    body_keys = {json.loads(attempt.content)["idempotency_key"] for attempt in attempts}
    assert len(keys) == 1
    assert keys == body_keys
    assert next(iter(keys)).startswith("infrai-py-")


def test_each_generate_call_gets_its_own_key(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    client.video.generate("one")
    client.video.generate("two")
    first, second = (r.headers["Idempotency-Key"] for r in api.sent("POST", GENERATE_PATH))
    assert first != second


def test_generate_uses_the_callers_key_verbatim(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, problem(502, "bad_gateway"), httpx.Response(200, json=job_json()))
    client.video.generate("skyline", idempotency_key="order-42")
    attempts = api.sent("POST", GENERATE_PATH)
    assert [a.headers["Idempotency-Key"] for a in attempts] == ["order-42", "order-42"]
    assert json.loads(attempts[0].content)["idempotency_key"] == "order-42"


def test_generate_sends_the_seed_defaults_and_omits_unset_fields(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    client.video.generate("skyline", resolution="1080p", duration_seconds=4)
    body = json.loads(api.sent("POST", GENERATE_PATH)[0].content)
    assert body == {
        "prompt": "skyline",
        "resolution": "1080p",
        "prefer": "balanced",
        "duration_seconds": 4,
        "idempotency_key": body["idempotency_key"],
    }


# activate: not idempotent, so only failures the server never acted on are retried


def test_activate_is_retried_when_the_connection_was_never_made(api: ScriptedAPI) -> None:
    api.on("POST", ACTIVATE_PATH, httpx.ConnectError("refused"), httpx.Response(201, json=ACTIVATION))
    assert keyless_client(api).accounts.activate().project_id == "proj_1"
    assert len(api.sent("POST", ACTIVATE_PATH)) == 2


def test_activate_is_retried_on_429(api: ScriptedAPI) -> None:
    api.on("POST", ACTIVATE_PATH, problem(429, "rate_limit_exceeded"), httpx.Response(201, json=ACTIVATION))
    assert keyless_client(api).accounts.activate().api_key == "ifr_pk_proj_new"
    assert len(api.sent("POST", ACTIVATE_PATH)) == 2


def test_activate_is_not_retried_on_5xx(api: ScriptedAPI) -> None:
    api.on("POST", ACTIVATE_PATH, problem(500, "internal"), httpx.Response(201, json=ACTIVATION))
    with pytest.raises(InternalServerError):
        keyless_client(api).accounts.activate()
    assert len(api.sent("POST", ACTIVATE_PATH)) == 1


def test_activate_is_not_retried_after_a_read_timeout(api: ScriptedAPI) -> None:
    api.on("POST", ACTIVATE_PATH, httpx.ReadTimeout("slow"), httpx.Response(201, json=ACTIVATION))
    with pytest.raises(APITimeoutError):
        keyless_client(api).accounts.activate()
    assert len(api.sent("POST", ACTIVATE_PATH)) == 1


# the async client runs the same plans


async def test_async_generate_retries_with_one_key(async_client: AsyncInfrai, api: ScriptedAPI) -> None:
    api.on(
        "POST",
        GENERATE_PATH,
        problem(429, "rate_limit_exceeded", **{"Retry-After": "0"}),
        problem(503, "service_unavailable"),
        httpx.Response(202, json=job_json()),
    )
    async with async_client:
        job = await async_client.video.generate("skyline")
    assert job.job_id == "vid_123"
    attempts = api.sent("POST", GENERATE_PATH)
    assert len(attempts) == 3
    assert len({a.headers["Idempotency-Key"] for a in attempts}) == 1


async def test_async_4xx_is_not_retried(async_client: AsyncInfrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, problem(404, "not_found"))
    async with async_client:
        with pytest.raises(NotFoundError):
            await async_client.video.status("vid_123")
    assert len(api.sent()) == 1
