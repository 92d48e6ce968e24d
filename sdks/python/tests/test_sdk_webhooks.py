"""``client.webhooks``: failed messages page by page (sync and async iteration), redelivery with one
idempotency key across retries, and the ``infrai webhooks`` commands' table and exit codes."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from scripted_api import ScriptedAPI, problem

from infrai import AsyncInfrai, ConflictError, Infrai
from infrai.cli import main

LIST_PATH = "/v1/account/webhook-deliveries"
REDELIVER_PATH = "/v1/video/jobs/vid_a/webhook-deliveries/msg_vid_a_succeeded/redeliver"


def message(job_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "job_id": job_id,
        "message_id": f"msg_{job_id}_succeeded",
        "event": "succeeded",
        "outcome": "failed",
        "attempts": 3,
        "last_outcome": "failed",
        "last_status_code": 503,
        "last_error": None,
        "first_attempt_at": "2026-12-07T05:00:00Z",
        "last_attempt_at": "2026-12-07T05:10:00Z",
    }
    return {**body, **fields}


def page(*job_ids: str, next: str | None = None) -> httpx.Response:
    data = [message(job_id) for job_id in job_ids]
    return httpx.Response(200, json={"data": data, "has_more": next is not None, "next": next})


def redelivery(**fields: Any) -> httpx.Response:
    body = {
        "job_id": "vid_a",
        "message_id": "msg_vid_a_succeeded",
        "event": "succeeded",
        "outcome": "delivered",
        "attempt": 4,
        "status_code": 200,
        "error": None,
        "requested_at": "2026-12-07T06:00:00Z",
        "replayed": False,
    }
    return httpx.Response(200, json={**body, **fields})


def test_deliveries_iterates_every_page_following_next(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", LIST_PATH, page("vid_c", "vid_b", next="cur1"), page("vid_a"))
    found = [m.job_id for m in client.webhooks.deliveries(outcome="failed", limit=2)]
    assert found == ["vid_c", "vid_b", "vid_a"]
    first, second = api.sent("GET", LIST_PATH)
    assert dict(first.url.params) == {"outcome": "failed", "limit": "2"}
    assert dict(second.url.params) == {"outcome": "failed", "limit": "2", "after": "cur1"}


def test_deliveries_fetches_a_page_only_when_iteration_reaches_it(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", LIST_PATH, page("vid_b", next="cur1"), page("vid_a"))
    messages = client.webhooks.deliveries()
    assert next(messages).message_id == "msg_vid_b_succeeded"
    assert len(api.sent("GET", LIST_PATH)) == 1


async def test_async_deliveries_iterates_every_page(async_client: AsyncInfrai, api: ScriptedAPI) -> None:
    api.on("GET", LIST_PATH, page("vid_b", next="cur1"), page("vid_a"))
    found = [m.job_id async for m in async_client.webhooks.deliveries(outcome="failed")]
    assert found == ["vid_b", "vid_a"]
    assert api.sent("GET", LIST_PATH)[1].url.params["after"] == "cur1"


def test_redeliver_retries_a_503_with_the_same_idempotency_key(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", REDELIVER_PATH, problem(503, "service_unavailable"), redelivery())
    result = client.webhooks.redeliver(job_id="vid_a", message_id="msg_vid_a_succeeded")
    assert result.delivered and result.status_code == 200 and result["attempt"] == 4
    keys = {request.headers["Idempotency-Key"] for request in api.sent("POST", REDELIVER_PATH)}
    assert len(keys) == 1 and len(api.sent("POST", REDELIVER_PATH)) == 2


def test_redeliver_in_progress_is_a_conflict_error(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", REDELIVER_PATH, problem(409, "redelivery_in_progress"))
    try:
        client.webhooks.redeliver(job_id="vid_a", message_id="msg_vid_a_succeeded", idempotency_key="k")
    except ConflictError as error:
        assert error.code == "redelivery_in_progress"
    else:
        raise AssertionError("no ConflictError")
    assert api.sent("POST", REDELIVER_PATH)[0].headers["Idempotency-Key"] == "k"


def run_cli(client: Infrai, *argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), client=client, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_cli_failed_prints_a_table_of_every_page(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", LIST_PATH, page("vid_b", next="cur1"), page("vid_a"))
    code, stdout, stderr = run_cli(client, "webhooks", "failed")
    header, *rows = stdout.splitlines()
    assert code == 0 and header.split() == ["JOB", "MESSAGE", "EVENT", "ATTEMPTS", "LAST", "LAST", "ATTEMPT"]
    assert [row.split()[:6] for row in rows] == [
        [job, f"msg_{job}_succeeded", "succeeded", "3", "failed", "503"] for job in ("vid_b", "vid_a")
    ]
    assert "infrai webhooks redeliver" in stderr


def test_cli_failed_json_stops_at_the_limit(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", LIST_PATH, page("vid_c", "vid_b", "vid_a"))
    code, stdout, _ = run_cli(client, "webhooks", "failed", "--limit", "2", "--json")
    assert code == 0
    shown = json.loads(stdout)
    assert [m["job_id"] for m in shown["data"]] == ["vid_c", "vid_b"] and shown["has_more"]


def test_cli_redeliver_exit_code_says_whether_it_was_delivered(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", REDELIVER_PATH, redelivery(), redelivery(outcome="failed", status_code=500, attempt=5))
    code, stdout, _ = run_cli(client, "webhooks", "redeliver", "vid_a", "msg_vid_a_succeeded")
    assert (code, stdout.strip()) == (0, "msg_vid_a_succeeded: delivered (200)")
    code, stdout, _ = run_cli(client, "webhooks", "redeliver", "vid_a", "msg_vid_a_succeeded", "--json")
    assert code == 1 and json.loads(stdout)["outcome"] == "failed"
