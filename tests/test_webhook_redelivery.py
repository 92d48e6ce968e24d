"""Webhook redelivery end to end: a receiver that is down, the project's failed messages across jobs a page at
a time, the receiver back on the same port, and each message sent again with its own ``webhook-id``, signed
with the project's secret; double clicks, idempotency keys and other projects.

The stack gives up on a delivery after a few seconds (``INFRAI_WEBHOOK_RETRY_FOR_SECONDS``), so "failed"
here means given up, as it would after a day in production."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from infrai import Infrai, NotFoundError
from infrai.cli import main as infrai_cli
from standardwebhooks import Webhook
from temporalio.client import Client, WorkflowExecutionStatus

from core.models import JobState
from tests.fixtures.ports import free_port
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.webhook_receiver import ReceivedHook, WebhookReceiver
from workflows.webhook_delivery import webhook_workflow_id

LIST = "/v1/account/webhook-deliveries"


@pytest.fixture(scope="module")
def receiver_port() -> int:
    """Where the webhooks point: nothing listens there until a test starts a receiver on it."""
    return free_port()


@pytest.fixture(scope="module")
def redelivery_stack(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory, receiver_port: int
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("redelivery-stack"),
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{receiver_port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
        INFRAI_WEBHOOK_RETRY_FOR_SECONDS="3",
        INFRAI_WEBHOOK_TIMEOUT_SECONDS="5",
    ) as running:
        yield running


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def _get(stack: Stack, key: str, path: str, **params: Any) -> httpx.Response:
    with stack.client(key) as client:
        return client.get(path, params=params)


def _redeliver(
    stack: Stack, key: str, job_id: str, message_id: str, idempotency_key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
    with stack.client(key) as client:
        return client.post(
            f"/v1/video/jobs/{job_id}/webhook-deliveries/{message_id}/redeliver", headers=headers
        )


def _job_with_webhook(stack: Stack, key: str, url: str) -> str:
    response = stack.generate(key, prompt="a lighthouse at night", webhook_url=url)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    assert stack.wait_final(job_id, key=key)["state"] == "succeeded"
    return job_id


async def _delivery_ended(client: Client, job_id: str) -> WorkflowExecutionStatus | None:
    handle = client.get_workflow_handle(webhook_workflow_id(job_id, JobState.SUCCEEDED))
    for _ in range(900):
        status = (await handle.describe()).status
        if status != WorkflowExecutionStatus.RUNNING:
            return status
        await asyncio.sleep(0.1)
    return None


def _listed(stack: Stack, key: str, job_ids: set[str], **params: Any) -> list[dict[str, Any]]:
    """The listing once it shows a message of each of ``job_ids`` (their first attempts are recorded)."""
    for _ in range(600):
        listed = _get(stack, key, LIST, **params)
        data: list[dict[str, Any]] = listed.json()["data"]
        if job_ids <= {m["job_id"] for m in data}:
            return data
        time.sleep(0.1)
    raise AssertionError(f"{job_ids} never listed: {data}")


def _verified(stack: Stack, key: str, hook: ReceivedHook) -> dict[str, Any]:
    secret = _get(stack, key, "/v1/account/webhook-secret").json()["secret"]
    payload: dict[str, Any] = Webhook(secret).verify(hook.body, hook.headers)
    return payload


async def test_a_receiver_that_was_down_catches_up_by_listing_and_redelivering(
    redelivery_stack: Stack, receiver_port: int, temporal_client: Client
) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    first = _job_with_webhook(stack, key, _url(receiver_port, "/down/first"))
    second = _job_with_webhook(stack, key, _url(receiver_port, "/down/second"))
    for job_id in (first, second):
        assert await _delivery_ended(temporal_client, job_id) == WorkflowExecutionStatus.FAILED

    # Both failed messages, newest first, one per page; the cursor carries on where the page ended.
    page = _get(stack, key, LIST, outcome="failed", limit=1).json()
    assert [m["job_id"] for m in page["data"]] == [second] and page["has_more"]
    last = _get(stack, key, LIST, outcome="failed", limit=1, after=page["next"])
    assert last.status_code == 200, last.text
    assert [m["job_id"] for m in last.json()["data"]] == [first] and not last.json()["has_more"]
    assert last.json()["next"] is None
    missed = page["data"][0]
    assert missed["message_id"] == f"msg_{second}_succeeded" and missed["event"] == "succeeded"
    assert missed["outcome"] == "failed" and missed["last_outcome"] == "failed"
    assert missed["attempts"] >= 2 and "ConnectError" in missed["last_error"]
    assert missed["last_status_code"] is None
    assert missed["first_attempt_at"] < missed["last_attempt_at"]

    receiver = WebhookReceiver(port=receiver_port)  # the receiver is back
    try:
        message_id = f"msg_{first}_succeeded"
        answer = _redeliver(stack, key, first, message_id)
        assert answer.status_code == 200, answer.text
        redelivered = answer.json()
        [hook] = receiver.received("/down/first")
    finally:
        receiver.close()
    assert hook.headers["webhook-id"] == message_id
    payload = _verified(stack, key, hook)
    assert payload["type"] == "video.job.succeeded" and payload["data"]["job_id"] == first
    before = last.json()["data"][0]["attempts"]
    assert redelivered["outcome"] == "delivered" and redelivered["status_code"] == 200
    assert redelivered["attempt"] == before + 1 and not redelivered["replayed"]

    # The attempt is the job's next one, and the message is no longer a failed one.
    attempts = _get(stack, key, f"/v1/video/jobs/{first}/webhook-deliveries").json()["data"]
    assert [a["attempt"] for a in attempts] == list(range(1, before + 2))
    assert attempts[-1]["outcome"] == "delivered" and attempts[-1]["message_id"] == message_id
    assert [m["job_id"] for m in _get(stack, key, LIST, outcome="failed").json()["data"]] == [second]
    delivered = _get(stack, key, LIST, outcome="delivered").json()["data"]
    assert [(m["job_id"], m["outcome"], m["attempts"]) for m in delivered] == [
        (first, "delivered", before + 1)
    ]


def test_a_redelivery_sends_the_same_body_signed_afresh(redelivery_stack: Stack, receiver_port: int) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    receiver = WebhookReceiver(port=receiver_port)
    try:
        job_id = _job_with_webhook(stack, key, _url(receiver_port, "/up/same-body"))
        [original] = receiver.wait_for("/up/same-body", lambda hooks: len(hooks) >= 1)
        answer = _redeliver(stack, key, job_id, f"msg_{job_id}_succeeded")
        assert answer.status_code == 200 and answer.json()["outcome"] == "delivered", answer.text
        again = receiver.received("/up/same-body")[-1]
    finally:
        receiver.close()
    assert again.body == original.body
    assert again.headers["webhook-id"] == original.headers["webhook-id"] == f"msg_{job_id}_succeeded"
    assert _verified(stack, key, again) == json.loads(original.body)


def test_a_double_click_is_refused_while_a_redelivery_runs_and_a_repeated_key_gets_the_first(
    redelivery_stack: Stack, receiver_port: int
) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    receiver = WebhookReceiver(port=receiver_port)
    path = "/up/held"
    try:
        job_id = _job_with_webhook(stack, key, _url(receiver_port, path))
        receiver.wait_for(path, lambda hooks: len(hooks) >= 1)
        message_id = f"msg_{job_id}_succeeded"
        receiver.hold(path)
        answers: list[httpx.Response] = []
        click = threading.Thread(
            target=lambda: answers.append(_redeliver(stack, key, job_id, message_id, "k1"))
        )
        click.start()
        receiver.wait_for(path, lambda hooks: len(hooks) >= 2)  # the redelivery is at the receiver now
        refused = _redeliver(stack, key, job_id, message_id)
        other_key = _redeliver(stack, key, job_id, message_id, "k2")
        receiver.release(path)
        click.join(timeout=60)
        repeated = _redeliver(stack, key, job_id, message_id, "k1")
        assert len(receiver.received(path)) == 2  # the repeat sent nothing
        fresh = _redeliver(stack, key, job_id, message_id)
        assert len(receiver.received(path)) == 3  # once ended, a new redelivery may start
    finally:
        receiver.close()
    for response in (refused, other_key):
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "redelivery_in_progress"
    [first] = answers
    assert first.status_code in (200, 202), first.text
    assert repeated.status_code == 200, repeated.text
    assert repeated.json()["replayed"] and repeated.json()["outcome"] == "delivered"
    assert repeated.json()["attempt"] == 2 and repeated.json()["requested_at"] == first.json()["requested_at"]
    assert fresh.status_code == 200 and fresh.json()["attempt"] == 3 and not fresh.json()["replayed"]


def test_another_projects_messages_are_not_found_and_not_listed(
    redelivery_stack: Stack, receiver_port: int
) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    job_id = _job_with_webhook(stack, key, _url(receiver_port, "/down/private"))
    message_id = f"msg_{job_id}_succeeded"
    assert [m["job_id"] for m in _listed(stack, key, {job_id}, outcome="failed")] == [job_id]

    other = stack.activate()
    for response in (
        _redeliver(stack, other, job_id, message_id),
        _get(stack, other, f"/v1/video/jobs/{job_id}/webhook-deliveries"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert _get(stack, other, LIST, outcome="failed").json() == {"data": [], "has_more": False, "next": None}


@pytest.mark.parametrize(
    "message_id",
    ["msg_nope", "msg_{job}_queued_x", "msg_{job}_running", "msg_vid_00000000000000000000000000_succeeded"],
)
def test_a_message_the_job_never_sent_is_not_found(
    redelivery_stack: Stack, receiver_port: int, message_id: str
) -> None:
    stack, key = redelivery_stack, redelivery_stack.dev_key
    job_id = stack.generate(key, prompt="no webhook").json()["job_id"]
    stack.wait_final(job_id, key=key)
    response = _redeliver(stack, key, job_id, message_id.format(job=job_id))
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    unknown_job = _redeliver(stack, key, "vid_" + "0" * 26, "msg_x")
    assert unknown_job.status_code == 404 and unknown_job.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [{"outcome": "lost"}, {"limit": 0}, {"limit": 101}, {"after": "garbage"}, {"after": "e30.AAAA"}],
)
def test_bad_listing_parameters_are_422_problems(redelivery_stack: Stack, params: dict[str, Any]) -> None:
    response = _get(redelivery_stack, redelivery_stack.dev_key, LIST, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_cursor_only_works_for_its_own_project_and_filter(
    redelivery_stack: Stack, receiver_port: int
) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    jobs = {_job_with_webhook(stack, key, _url(receiver_port, f"/down/cursor-{name}")) for name in "ab"}
    _listed(stack, key, jobs)
    page = _get(stack, key, LIST, limit=1).json()
    assert page["has_more"], page
    for other_key, params in (
        (stack.activate(), {"limit": 1}),  # another project
        (key, {"limit": 1, "outcome": "failed"}),  # another filter
    ):
        response = _get(stack, other_key, LIST, after=page["next"], **params)
        assert response.status_code == 422 and response.json()["code"] == "invalid_cursor", response.text


def test_an_invalid_idempotency_key_is_a_422_problem(redelivery_stack: Stack) -> None:
    key = redelivery_stack.dev_key
    response = _redeliver(redelivery_stack, key, "vid_" + "0" * 26, "msg_x", "bad key!")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_sdk_and_cli_list_failed_messages_page_by_page_and_redeliver(
    redelivery_stack: Stack, receiver_port: int, temporal_client: Client
) -> None:
    stack, key = redelivery_stack, redelivery_stack.activate()
    jobs = [_job_with_webhook(stack, key, _url(receiver_port, f"/down/sdk-{n}")) for n in range(2)]
    _listed(stack, key, set(jobs), outcome="failed")
    # Each message is listed as failed from its first attempt on, while its delivery still retries (for 3 s
    # here): the receiver comes up only once both deliveries gave up, so what it receives is the redelivery
    # alone, not also an original retry that happened to land after it started.
    for job_id in jobs:
        assert await _delivery_ended(temporal_client, job_id) == WorkflowExecutionStatus.FAILED
    with Infrai(api_key=key, base_url=stack.api_url) as client:
        found = list(client.webhooks.deliveries(outcome="failed", limit=1))  # one page per message
        assert [m.job_id for m in found] == jobs[::-1] and found[0].outcome == "failed"
        stdout, stderr = io.StringIO(), io.StringIO()
        assert infrai_cli(["webhooks", "failed"], client=client, stdout=stdout, stderr=stderr) == 0
        header, *rows = stdout.getvalue().splitlines()
        assert header.startswith("JOB") and [row.split()[0] for row in rows] == jobs[::-1]

        receiver = WebhookReceiver(port=receiver_port)
        try:
            result = client.webhooks.redeliver(job_id=jobs[0], message_id=found[1].message_id)
            [hook] = receiver.received("/down/sdk-0")
        finally:
            receiver.close()
        assert result.delivered and hook.headers["webhook-id"] == found[1].message_id
        with pytest.raises(NotFoundError):
            client.webhooks.redeliver(job_id=jobs[1], message_id=found[1].message_id)
        assert [m.job_id for m in client.webhooks.deliveries(outcome="failed")] == [jobs[1]]
