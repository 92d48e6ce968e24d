"""The ``settle_job`` activity: directly, and through a real Temporal worker with the pydantic converter."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from accounts.store import AccountStore
from activities.ledger import LedgerActivities
from core.ids import new_job_id
from core.models import JobState, SettleRequest, SettleResult
from tests.fixtures.accounts import TcpRelay, accounts_test_settings


@workflow.defn(sandboxed=False)
class SettleJobWorkflow:
    """The workflow's last step, alone: settle by activity name, as the video workflow does."""

    @workflow.run
    async def run(self, request: SettleRequest) -> SettleResult:
        result: SettleResult = await workflow.execute_activity(
            "settle_job",
            request,
            result_type=SettleResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )
        return result


async def _held_job(store: AccountStore, amount: str, credits: str = "5.00") -> tuple[str, str]:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    project = (await store.ensure_dev_project(key, Decimal(credits))).project_id
    job = new_job_id()
    await store.hold(project, job, Decimal(amount))
    return project, job


def _request(project: str, job: str, *, billed: bool, charge: str, outcome: JobState) -> SettleRequest:
    return SettleRequest(
        job_id=job,
        project_id=project,
        outcome=outcome,
        charge_usd=Decimal(charge),
        reason=str(outcome),
        billed=billed,
    )


async def test_a_billed_success_charges_the_cost_and_releases_the_rest(account_store: AccountStore) -> None:
    project, job = await _held_job(account_store, "1.00")
    settle = LedgerActivities(account_store).settle_job

    result = await ActivityEnvironment().run(
        settle, _request(project, job, billed=True, charge="0.75", outcome=JobState.SUCCEEDED)
    )

    assert (result.charged_usd, result.released_usd) == (Decimal("0.75"), Decimal("0.25"))
    assert (await account_store.account(project)).balance_usd == Decimal("4.25")


async def test_an_unbilled_failure_charges_nothing_whatever_the_estimate(account_store: AccountStore) -> None:
    project, job = await _held_job(account_store, "1.00")
    settle = LedgerActivities(account_store).settle_job

    result = await ActivityEnvironment().run(
        settle, _request(project, job, billed=False, charge="1.00", outcome=JobState.FAILED)
    )

    assert (result.charged_usd, result.released_usd) == (Decimal(0), Decimal("1.00"))
    account = await account_store.account(project)
    assert (account.balance_usd, account.held_usd) == (Decimal("5.00"), Decimal(0))


async def test_a_retried_settle_charges_once(account_store: AccountStore) -> None:
    project, job = await _held_job(account_store, "1.00")
    settle = LedgerActivities(account_store).settle_job
    request = _request(project, job, billed=True, charge="1.00", outcome=JobState.CANCELLED)

    first = await ActivityEnvironment().run(settle, request)
    retried = await ActivityEnvironment().run(settle, request)

    assert first == retried
    account = await account_store.account(project)
    assert (account.balance_usd, account.usage.jobs_charged) == (Decimal("4.00"), 1)


async def test_settling_another_projects_job_fails_without_retry(account_store: AccountStore) -> None:
    _, job = await _held_job(account_store, "1.00")
    other_project, _ = await _held_job(account_store, "0.10")
    settle = LedgerActivities(account_store).settle_job

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(
            settle, _request(other_project, job, billed=True, charge="1.00", outcome=JobState.SUCCEEDED)
        )

    assert failed.value.non_retryable is True


async def test_a_database_outage_is_a_retryable_error(
    postgres_relay_url: tuple[str, TcpRelay], tmp_path: Path
) -> None:
    url, relay = postgres_relay_url
    store = await AccountStore.open(url, settings=accounts_test_settings(tmp_path))
    try:
        project, job = await _held_job(store, "1.00")
        await relay.cut()

        with pytest.raises(ApplicationError) as failed:
            await ActivityEnvironment().run(
                LedgerActivities(store).settle_job,
                _request(project, job, billed=True, charge="1.00", outcome=JobState.SUCCEEDED),
            )
    finally:
        await store.aclose()

    assert failed.value.non_retryable is False
    assert failed.value.type == "service_unavailable"
    assert failed.value.next_retry_delay == timedelta(seconds=7)


@pytest.fixture
def temporal_env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


async def _start(
    env: WorkflowEnvironment, queue: str, request: SettleRequest
) -> WorkflowHandle[SettleJobWorkflow, SettleResult]:
    return await env.client.start_workflow(
        SettleJobWorkflow.run, request, id=f"settle-{request.job_id}", task_queue=queue
    )


async def test_the_workflow_settles_through_a_worker_with_exact_decimals(
    temporal_env: WorkflowEnvironment, account_store: AccountStore
) -> None:
    project, job = await _held_job(account_store, "0.333333")
    queue = f"ledger-{uuid.uuid4()}"
    request = _request(project, job, billed=True, charge="0.123457", outcome=JobState.SUCCEEDED)

    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[SettleJobWorkflow],
        activities=[LedgerActivities(account_store).settle_job],
    ):
        result = await (await _start(temporal_env, queue, request)).result()

    assert result == SettleResult(charged_usd=Decimal("0.123457"), released_usd=Decimal("0.209876"))


async def test_the_workflow_retries_through_an_outage_and_charges_once(
    temporal_env: WorkflowEnvironment, postgres_relay_url: tuple[str, TcpRelay], tmp_path: Path
) -> None:
    url, relay = postgres_relay_url
    store = await AccountStore.open(
        url, settings=accounts_test_settings(tmp_path, accounts_retry_after_seconds=1)
    )
    queue = f"ledger-{uuid.uuid4()}"
    try:
        project, job = await _held_job(store, "1.00")
        await relay.cut()
        async with Worker(
            temporal_env.client,
            task_queue=queue,
            workflows=[SettleJobWorkflow],
            activities=[LedgerActivities(store).settle_job],
        ):
            handle = await _start(
                temporal_env,
                queue,
                _request(project, job, billed=True, charge="1.00", outcome=JobState.SUCCEEDED),
            )
            await _wait_for_failed_attempt(handle)
            await relay.restore()
            result = await handle.result()
        account = await store.account(project)
    finally:
        await store.aclose()

    assert result.charged_usd == Decimal("1.00")
    assert (account.balance_usd, account.held_usd, account.usage.jobs_charged) == (
        Decimal("4.00"),
        Decimal(0),
        1,
    )


async def _wait_for_failed_attempt(handle: WorkflowHandle[SettleJobWorkflow, SettleResult]) -> None:
    """Until the settle activity has failed at least once (the outage was really seen)."""
    for _ in range(600):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].attempt >= 2:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the settle activity never failed during the outage")
