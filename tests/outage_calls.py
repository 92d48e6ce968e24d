"""The three calls a client makes of a job — generate, status, cancel — and what an outage answer must be:
``503`` problem JSON with code ``service_unavailable`` and a ``Retry-After``, never a 500."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.stack import Stack
from tests.job_invariants import JobBatch
from tests.wait import wait_until

RECOVERED = {"generate": 202, "status": 200, "cancel": 200}


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


def assert_recovers(batch: JobBatch, job_id: str, body: dict[str, Any]) -> None:
    """The three calls answer normally again by themselves (the outage's generate retried with its key),
    never a 500 meanwhile; then every invariant of the batch, that job included, holds."""

    def recovered() -> bool:
        answers = job_calls(batch.survival.stack, batch.key, job_id, body)
        codes = statuses(answers)
        assert set(codes.values()) <= {200, 202, 503}, codes
        # The generate may have got through on an earlier round (202 then, 200 for this retry).
        if codes not in (RECOVERED, {**RECOVERED, "generate": 200}):
            return False
        batch.adopt(body, answers["generate"].json()["job_id"])
        return True

    wait_until(recovered, timeout=90, what="recovery")
    batch.check()
