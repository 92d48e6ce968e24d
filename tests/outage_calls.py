"""The three calls a client makes of a job — generate, status, cancel — and what an outage answer must be:
``503`` problem JSON with code ``service_unavailable`` and a ``Retry-After``, never a 500."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.stack import Stack


def job_calls(
    stack: Stack, key: str, job_id: str, body: dict[str, Any], timeout: float = 30.0
) -> dict[str, httpx.Response]:
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
    ) as client:
        return {
            "generate": client.post("/v1/video/generate", json=body),
            "status": client.get(f"/v1/video/jobs/{job_id}"),
            "cancel": client.post(f"/v1/video/jobs/{job_id}/cancel"),
        }


def assert_unavailable(responses: dict[str, httpx.Response], retry_after: str | None = None) -> None:
    for call, response in responses.items():
        assert response.status_code == 503, (call, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), call
        assert response.json()["code"] == "service_unavailable", call
        assert int(response.headers["retry-after"]) > 0, call
        if retry_after is not None:
            assert response.headers["retry-after"] == retry_after, call


def statuses(responses: dict[str, httpx.Response]) -> dict[str, int]:
    return {call: response.status_code for call, response in responses.items()}
