"""Redelivering a batch's ``batch.completed`` on a real stack: the failed message is listed under the batch
id, and the job route's redelivery takes that id as it is listed (``job_id: bat_...``) and sends the same
``webhook-id`` and body again, once (its attempts listed by the same id); double clicks, idempotency keys
and other projects as for a job.

The stack gives up on a delivery after a few seconds (``INFRAI_WEBHOOK_RETRY_FOR_SECONDS``), so "failed"
here means given up, as it would after a day in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.client import Client

from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.webhook_receiver import WebhookReceiver

LIST = "/v1/account/webhook-deliveries"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def stack(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("batch-redelivery-stack"),
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{receiver.port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
        INFRAI_WEBHOOK_RETRY_FOR_SECONDS="3",
        INFRAI_WEBHOOK_TIMEOUT_SECONDS="5",
    ) as running:
        yield running


def _get(stack: Stack, key: str, path: str, **params: Any) -> httpx.Response:
    with stack.client(key) as client:
        return client.get(path, params=params)


def _redeliver(
    stack: Stack, key: str, subject_id: str, message_id: str, idempotency_key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
    with stack.client(key) as client:
        return client.post(
            f"/v1/video/jobs/{subject_id}/webhook-deliveries/{message_id}/redeliver", headers=headers
        )


async def _finished_batch(stack: Stack, key: str, client: Client, url: str) -> str:
    """A one-item batch with a webhook, once its workflow ended (its own delivery done or given up)."""
    body = {"items": [{"prompt": "a paper boat", "duration_seconds": 1}], "webhook_url": url}
    with stack.client(key) as http:
        created = http.post("/v1/video/batches", json=body)
    assert created.status_code == 202, created.text
    batch_id: str = created.json()["batch_id"]
    await client.get_workflow_handle(batch_id).result()
    return batch_id


def _failed(stack: Stack, key: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = _get(stack, key, LIST, outcome="failed").json()["data"]
    return data


async def test_a_failed_batch_completed_is_listed_and_redelivered_with_the_same_id_and_body(
    stack: Stack, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    key, path = stack.activate(), "/batch/failing"
    receiver.answer(path, 500)
    batch_id = await _finished_batch(stack, key, temporal_client, receiver.url(path))
    originals = receiver.received(path)
    message_id = f"msg_{batch_id}_completed"
    for _ in range(50):  # the last attempt's record may trail the workflow's end by a moment
        if (listed := _failed(stack, key)) and listed[0]["attempts"] == len(originals):
            break
        time.sleep(0.1)
    [missed] = listed
    assert (missed["job_id"], missed["message_id"], missed["event"]) == (
        batch_id,
        message_id,
        "batch.completed",
    )
    assert missed["attempts"] == len(originals) >= 2 and missed["last_status_code"] == 500

    receiver.answer(path, 200)  # the receiver is fixed
    answer = _redeliver(stack, key, missed["job_id"], missed["message_id"])

    assert answer.status_code == 200, answer.text
    redelivered = answer.json()
    assert (redelivered["job_id"], redelivered["message_id"]) == (batch_id, message_id)
    assert redelivered["event"] == "batch.completed" and redelivered["outcome"] == "delivered"
    assert redelivered["attempt"] == len(originals) + 1 and not redelivered["replayed"]
    again = receiver.received(path)[-1]
    assert again.body == originals[0].body
    assert again.headers["webhook-id"] == originals[0].headers["webhook-id"] == message_id
    assert again.headers["webhook-timestamp"] >= originals[-1].headers["webhook-timestamp"]
    secret = _get(stack, key, "/v1/account/webhook-secret").json()["secret"]
    assert Webhook(secret).verify(again.body, again.headers)["data"]["batch_id"] == batch_id
    attempts = _get(stack, key, f"/v1/video/jobs/{batch_id}/webhook-deliveries").json()["data"]
    assert [a["attempt"] for a in attempts] == list(range(1, len(originals) + 2))
    assert attempts[-1]["outcome"] == "delivered" and attempts[-1]["event"] == "batch.completed"
    assert _failed(stack, key) == []
    [delivered] = _get(stack, key, LIST, outcome="delivered").json()["data"]
    assert (delivered["job_id"], delivered["attempts"]) == (batch_id, len(originals) + 1)


async def test_another_projects_batch_message_is_not_found(
    stack: Stack, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    key, path = stack.activate(), "/batch/private"
    batch_id = await _finished_batch(stack, key, temporal_client, receiver.url(path))
    message_id = f"msg_{batch_id}_completed"

    other = stack.activate()
    for response in (
        _redeliver(stack, other, batch_id, message_id),
        _get(stack, other, f"/v1/video/jobs/{batch_id}/webhook-deliveries"),
        _redeliver(stack, key, batch_id, f"msg_{batch_id}_succeeded"),  # not a message a batch sends
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    no_batch = _redeliver(stack, key, "bat_" + "0" * 26, "msg_bat_" + "0" * 26 + "_completed")
    assert no_batch.status_code == 404 and no_batch.json()["code"] == "not_found"
    with stack.client(key) as client:  # a batch without a webhook sends no message
        quiet = client.post("/v1/video/batches", json={"items": [{"prompt": "no hook"}]}).json()["batch_id"]
    unsent = _redeliver(stack, key, quiet, f"msg_{quiet}_completed")
    assert unsent.status_code == 404 and unsent.json()["code"] == "not_found"
    assert len(receiver.received(path)) == 1  # nothing more was sent


async def test_a_batch_double_click_is_409_and_a_repeated_key_gets_the_first(
    stack: Stack, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    key, path = stack.activate(), "/batch/held"
    batch_id = await _finished_batch(stack, key, temporal_client, receiver.url(path))
    message_id = f"msg_{batch_id}_completed"
    receiver.hold(path)
    answers: list[httpx.Response] = []
    click = threading.Thread(
        target=lambda: answers.append(_redeliver(stack, key, batch_id, message_id, "k1"))
    )
    click.start()
    receiver.wait_for(path, lambda hooks: len(hooks) >= 2)  # the redelivery is at the receiver now
    refused = _redeliver(stack, key, batch_id, message_id)
    receiver.release(path)
    click.join(timeout=60)
    repeated = _redeliver(stack, key, batch_id, message_id, "k1")

    assert refused.status_code == 409 and refused.json()["code"] == "redelivery_in_progress", refused.text
    [first] = answers
    assert first.status_code in (200, 202), first.text
    assert repeated.status_code == 200 and repeated.json()["replayed"], repeated.text
    assert repeated.json()["attempt"] == 2 and repeated.json()["requested_at"] == first.json()["requested_at"]
    assert len(receiver.received(path)) == 2  # the repeat sent nothing
