"""Batches end to end on a real stack (API, worker, local vendor, Temporal): items run as ordinary jobs,
idempotency, refusals naming item indexes, cancel, isolation, and the one signed ``batch.completed``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.client import Client, WorkflowExecutionStatus

from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.webhook_receiver import WebhookReceiver

FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def batch_stack(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    webhook_receiver: WebhookReceiver,
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("batch-stack"),
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{webhook_receiver.port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
    ) as running:
        yield running


def _items(*prompts: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"prompt": prompt, "duration_seconds": 1, **fields} for prompt in prompts]


def _create(stack: Stack, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    with stack.client(key) as client:
        return client.post("/v1/video/batches", json=body)


def _batch(stack: Stack, batch_id: str, key: str | None = None) -> dict[str, Any]:
    with stack.client(key) as client:
        response = client.get(f"/v1/video/batches/{batch_id}")
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


def _wait_completed(stack: Stack, batch_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    batch = _batch(stack, batch_id)
    while batch["state"] != "completed":
        assert time.monotonic() < deadline, f"batch {batch_id} not completed: {batch['counts']}"
        time.sleep(0.3)
        batch = _batch(stack, batch_id)
    return batch


def test_a_batch_runs_every_item_as_an_ordinary_job_to_success(batch_stack: Stack) -> None:
    response = _create(batch_stack, {"items": _items("a red kite", "a blue boat", "a green field")})

    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/video/batches/{created['batch_id']}"
    assert created["item_count"] == 3 and [item["index"] for item in created["items"]] == [0, 1, 2]
    batch = _wait_completed(batch_stack, created["batch_id"])
    assert batch["counts"] == {"queued": 0, "running": 0, "succeeded": 3, "failed": 0, "cancelled": 0}
    for item in batch["items"]:
        job = batch_stack.job(item["job_id"])  # each item is a job the ordinary routes know
        assert job["state"] == item["state"] == "succeeded" and job["video_url"]


def test_the_same_key_and_body_return_the_same_batch_and_another_body_is_409(batch_stack: Stack) -> None:
    body = {"items": _items("one lantern", "two lanterns"), "idempotency_key": "batch-key-1"}
    first = _create(batch_stack, body)
    again = _create(batch_stack, body)
    other = _create(batch_stack, {**body, "items": _items("three lanterns", "two lanterns")})

    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert [i["job_id"] for i in again.json()["items"]] == [i["job_id"] for i in first.json()["items"]]
    assert other.json()["code"] == "idempotency_conflict"


def test_a_batch_without_a_key_is_found_again_by_its_body(batch_stack: Stack) -> None:
    body = {"items": _items("a keyless batch")}

    first, again = _create(batch_stack, body), _create(batch_stack, body)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["batch_id"] == first.json()["batch_id"]


def test_refused_items_are_named_by_index_and_nothing_starts(batch_stack: Stack) -> None:
    key, _ = batch_stack.new_project()
    items = [*_items("fine", "fine too"), {"prompt": "pinned", "vendor": "nobody"}, *_items("fine again")]
    items.append({"prompt": "pinned too", "model": "no-such-model"})

    response = _create(batch_stack, {"items": items}, key)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_batch_items"
    assert [item["index"] for item in problem["items"]] == [2, 4]
    with batch_stack.client(key) as client:
        listed = client.get("/v1/video/jobs").json()
        account = client.get("/v1/account").json()
    assert listed["data"] == [] and account["held_usd"] in ("0", "0.00")


def test_an_invalid_item_body_names_its_index(batch_stack: Stack) -> None:
    response = _create(batch_stack, {"items": [*_items("fine"), {"prompt": "   "}]})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["items.1.prompt"]


@pytest.mark.parametrize("count", [0, 101])
def test_an_empty_batch_or_one_over_100_items_is_422(batch_stack: Stack, count: int) -> None:
    response = _create(batch_stack, {"items": _items(*(f"item {n}" for n in range(count)))})

    assert response.status_code == 422 and response.json()["code"] == "invalid_input"


def test_cancelling_a_batch_cancels_every_unfinished_item(batch_stack: Stack) -> None:
    items = [{"prompt": f"a long slow tide {n}", "duration_seconds": 30} for n in range(3)]
    batch_id = _create(batch_stack, {"items": items}).json()["batch_id"]

    with batch_stack.client() as client:
        response = client.post(f"/v1/video/batches/{batch_id}/cancel")

    assert response.status_code == 200, response.text
    batch = _wait_completed(batch_stack, batch_id)
    assert batch["counts"]["cancelled"] == 3
    assert {batch_stack.job(item["job_id"])["state"] for item in batch["items"]} == {"cancelled"}


def test_another_projects_batch_is_404(batch_stack: Stack) -> None:
    batch_id = _create(batch_stack, {"items": _items("mine alone")}).json()["batch_id"]
    other_key, _ = batch_stack.new_project()

    with batch_stack.client(other_key) as client:
        status = client.get(f"/v1/video/batches/{batch_id}")
        cancel = client.post(f"/v1/video/batches/{batch_id}/cancel")

    assert (status.status_code, cancel.status_code) == (404, 404)
    assert status.json()["code"] == "not_found"
    assert _batch(batch_stack, batch_id)["batch_id"] == batch_id  # its owner still sees it


async def test_a_finished_batch_sends_one_signed_batch_completed_webhook(
    batch_stack: Stack, webhook_receiver: WebhookReceiver, temporal_client: Client
) -> None:
    path = "/batch-hooks/one"
    body = {"items": _items("hook one", "hook two"), "webhook_url": webhook_receiver.url(path)}
    batch_id = _create(batch_stack, body).json()["batch_id"]

    hooks = webhook_receiver.wait_for(path, lambda hooks: len(hooks) >= 1)
    # The workflow ends only after its delivery succeeded: closed, it can send nothing more.
    assert (await temporal_client.get_workflow_handle(batch_id).result())["batch_id"] == batch_id
    description = await temporal_client.get_workflow_handle(batch_id).describe()

    assert description.status == WorkflowExecutionStatus.COMPLETED
    hooks = webhook_receiver.received(path)
    assert len(hooks) == 1
    with batch_stack.client() as client:
        secret = client.get("/v1/account/webhook-secret").json()["secret"]
    payload = Webhook(secret).verify(hooks[0].body, hooks[0].headers)
    assert hooks[0].headers["webhook-id"] == f"msg_{batch_id}_completed"
    assert payload["type"] == "batch.completed"
    assert payload["data"]["batch_id"] == batch_id
    assert payload["data"]["counts"]["succeeded"] == 2
    assert [item["index"] for item in payload["data"]["items"]] == [0, 1]
