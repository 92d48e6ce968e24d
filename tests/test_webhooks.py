"""Signed webhooks end to end: a stack whose SSRF guard lets the loopback receiver through, a receiver that
verifies Standard Webhooks signatures, retries after 500s that never hold up the job, and the guard at
generate time (422) and again at delivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from accounts.store import AccountStore
from activities.webhooks import WebhookActivities
from core.models import JobCost, JobSnapshot, JobState, WebhookMessage
from core.settings import Settings
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.webhook_receiver import ReceivedHook, WebhookReceiver
from workflows.webhook_delivery import webhook_workflow_id


@pytest.fixture(scope="module")
def hook_stack(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    webhook_receiver: WebhookReceiver,
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("hook-stack"),
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{webhook_receiver.port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
        INFRAI_WEBHOOK_TIMEOUT_SECONDS="5",
    ) as running:
        yield running


def _secret(stack: Stack, key: str | None = None) -> str:
    with stack.client(key) as client:
        response = client.get("/v1/account/webhook-secret")
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    return secret


def _verified(secret: str, hook: ReceivedHook) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(hook.body, hook.headers)
    return payload


def _deliveries(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}/webhook-deliveries")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_a_webhook_retries_after_500s_without_holding_up_the_job(
    hook_stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    path = "/hooks/retried"
    webhook_receiver.answer(path, 500)
    secret = _secret(hook_stack)
    response = hook_stack.generate(prompt="a kite in the wind", webhook_url=webhook_receiver.url(path))
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]

    # The job ends while every delivery so far was refused: the webhook is not in its way.
    job = hook_stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    failed = webhook_receiver.wait_for(path, lambda hooks: len(hooks) >= 2)
    assert {hook.answered for hook in failed} == {500}
    assert hook_stack.job(job_id)["state"] == "succeeded"

    webhook_receiver.answer(path, 200)
    hooks = webhook_receiver.wait_for(path, lambda hooks: any(h.answered == 200 for h in hooks))
    payloads = [_verified(secret, hook) for hook in hooks]
    assert len({hook.headers["webhook-id"] for hook in hooks}) == 1  # one message, retried
    assert len({hook.body for hook in hooks}) == 1  # the same body on every attempt
    assert len({hook.headers["webhook-timestamp"] for hook in hooks}) >= 1
    event = payloads[-1]
    assert event["type"] == "video.job.succeeded"
    assert event["data"]["job_id"] == job_id and event["data"]["state"] == "succeeded"
    assert event["data"]["url"].endswith(f"/v1/video/jobs/{job_id}")
    assert event["data"]["video"]["size_bytes"] > 0

    deliveries = _deliveries(hook_stack, job_id)
    assert [d["attempt"] for d in deliveries] == list(range(1, len(hooks) + 1))
    assert [d["outcome"] for d in deliveries] == ["failed"] * (len(hooks) - 1) + ["delivered"]
    assert [d["status_code"] for d in deliveries] == [hook.answered for hook in hooks]


def test_a_signature_only_verifies_with_the_projects_own_secret(
    hook_stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    path = "/hooks/signed"
    job_id = hook_stack.generate(prompt="waves", webhook_url=webhook_receiver.url(path)).json()["job_id"]
    hook = webhook_receiver.wait_for(path, lambda hooks: len(hooks) >= 1)[0]
    assert _verified(_secret(hook_stack), hook)["data"]["job_id"] == job_id
    other_secret = _secret(hook_stack, hook_stack.activate())
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(hook.body, hook.headers)
    tampered = hook.body.replace(b"succeeded", b"cancelled")
    with pytest.raises(WebhookVerificationError):
        Webhook(_secret(hook_stack)).verify(tampered, hook.headers)


def test_subscribed_state_changes_are_each_announced(
    hook_stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    path = "/hooks/running-and-done"
    response = hook_stack.generate(
        prompt="a comet", webhook_url=webhook_receiver.url(path), webhook_events=["running", "succeeded"]
    )
    job_id = response.json()["job_id"]
    hooks = webhook_receiver.wait_for(path, lambda hooks: len(hooks) >= 2)
    secret = _secret(hook_stack)
    types = sorted(_verified(secret, hook)["type"] for hook in hooks)
    assert types == ["video.job.running", "video.job.succeeded"]
    assert {hook.headers["webhook-id"] for hook in hooks} == {
        f"msg_{job_id}_running",
        f"msg_{job_id}_succeeded",
    }


async def test_410_gone_stops_the_retries(
    hook_stack: Stack, webhook_receiver: WebhookReceiver, temporal_client: Client
) -> None:
    path = "/hooks/gone"
    webhook_receiver.answer(path, 410)
    job_id = hook_stack.generate(prompt="a door", webhook_url=webhook_receiver.url(path)).json()["job_id"]
    webhook_receiver.wait_for(path, lambda hooks: len(hooks) >= 1)
    handle = temporal_client.get_workflow_handle(webhook_workflow_id(job_id, JobState.SUCCEEDED))
    status = (await handle.describe()).status
    for _ in range(600):
        if status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.1)
        status = (await handle.describe()).status
    assert status == WorkflowExecutionStatus.FAILED
    assert len(webhook_receiver.received(path)) == 1
    assert [d["outcome"] for d in _deliveries(hook_stack, job_id)] == ["gone"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/not-allowlisted", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "metadata_address"),
        ("http://localhost:8080/hook", "private_address"),
        ("http://[::1]:8080/hook", "private_address"),
        ("ftp://example.com/hook", "unsupported_scheme"),
        ("http://user:pass@example.com/hook", "credentials_in_url"),
        ("not a url", "unsupported_scheme"),
    ],
)
def test_an_unsafe_webhook_url_is_refused_at_generate(hook_stack: Stack, url: str, reason: str) -> None:
    response = hook_stack.generate(prompt="nope", webhook_url=url)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "unsafe_url" and problem["reason"] == reason
    assert "webhook_url" in problem["detail"]


def test_webhook_events_must_be_state_changes(hook_stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    response = hook_stack.generate(
        prompt="nope", webhook_url=webhook_receiver.url("/hooks/x"), webhook_events=["queued"]
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"


def test_the_webhook_secret_is_stable_per_project(hook_stack: Stack) -> None:
    first, second = _secret(hook_stack), _secret(hook_stack)
    assert first == second and first.startswith("whsec_")
    Webhook(first)  # a valid Standard Webhooks secret
    with hook_stack.client("nope") as client:
        assert client.get("/v1/account/webhook-secret").status_code == 401
    assert _secret(hook_stack, hook_stack.activate()) != first


def test_another_projects_job_has_no_deliveries_to_show(hook_stack: Stack) -> None:
    job_id = hook_stack.generate(prompt="private").json()["job_id"]
    with hook_stack.client(hook_stack.activate()) as client:
        response = client.get(f"/v1/video/jobs/{job_id}/webhook-deliveries")
    assert response.status_code == 404


# -- the delivery activity on its own: the guard runs again at delivery --------------------------------


def _message(url: str, project_id: str) -> WebhookMessage:
    now = datetime.now(UTC)
    job = JobSnapshot(
        job_id="vid_" + "0" * 26,
        project_id=project_id,
        state=JobState.SUCCEEDED,
        created_at=now,
        cost=JobCost(estimated_usd=Decimal("0.10")),
    )
    return WebhookMessage(
        message_id="msg_test", job_id=job.job_id, project_id=project_id, event=JobState.SUCCEEDED,
        url=url, occurred_at=now, job=job,
    )  # fmt: skip


@pytest.fixture
async def webhook_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as http:
        yield http


async def _activities(
    store: AccountStore, http: httpx.AsyncClient, tmp_path: Path, **settings: Any
) -> tuple[WebhookActivities, str]:
    project_id = (await store.activate_anonymous(f"hooks-{tmp_path.name}")).project_id
    return WebhookActivities(store, http, Settings(data_dir=tmp_path, **settings)), project_id


async def test_delivery_refuses_an_address_the_guard_does_not_allow(
    account_store: AccountStore,
    webhook_http: httpx.AsyncClient,
    tmp_path: Path,
    webhook_receiver: WebhookReceiver,
) -> None:
    path = f"/hooks/refused-at-delivery-{tmp_path.name}"
    activities, project_id = await _activities(account_store, webhook_http, tmp_path)  # no allowlist
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            activities.deliver_webhook, _message(webhook_receiver.url(path), project_id)
        )
    assert refused.value.non_retryable and refused.value.type == "unsafe_url"
    assert webhook_receiver.received(path) == []
    attempts = await account_store.webhook_attempts(project_id, "vid_" + "0" * 26)
    assert [a.outcome for a in attempts] == ["refused"]


async def test_delivery_signs_with_the_stored_secret_and_asks_for_a_retry_on_503(
    account_store: AccountStore,
    webhook_http: httpx.AsyncClient,
    tmp_path: Path,
    webhook_receiver: WebhookReceiver,
) -> None:
    path = f"/hooks/activity-503-{tmp_path.name}"
    webhook_receiver.answer(path, 503)
    allow = f"127.0.0.1:{webhook_receiver.port}"
    activities, project_id = await _activities(account_store, webhook_http, tmp_path, url_allowlist=allow)
    with pytest.raises(ApplicationError) as retry:
        await ActivityEnvironment().run(
            activities.deliver_webhook, _message(webhook_receiver.url(path), project_id)
        )
    assert not retry.value.non_retryable
    [hook] = webhook_receiver.received(path)
    secret = (await account_store.webhook_secret(project_id)).get_secret_value()
    assert json.loads(hook.body) == _verified(secret, hook)
    assert hook.headers["webhook-id"] == "msg_test"


async def test_concurrent_first_reads_of_the_secret_agree(
    account_store: AccountStore, tmp_path: Path
) -> None:
    project_id = (await account_store.activate_anonymous(f"secret-{tmp_path.name}")).project_id
    secrets = await asyncio.gather(*(account_store.webhook_secret(project_id) for _ in range(8)))
    assert len({secret.get_secret_value() for secret in secrets}) == 1
