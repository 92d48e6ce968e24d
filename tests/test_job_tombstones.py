"""Jobs deleted through the API, as the account store keeps them, on both backends: which ids are deleted,
and that a hold told to refuse a deleted job's id holds nothing under it."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest

from accounts.errors import HoldOfDeletedJob
from accounts.store import AccountStore
from core.ids import new_job_id


async def _project(store: AccountStore) -> str:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    return (await store.ensure_dev_project(key, Decimal("5.00"))).project_id


async def test_deleted_among_names_only_the_deleted_jobs(account_store: AccountStore) -> None:
    project = await _project(account_store)
    deleted, kept = new_job_id(), new_job_id()
    await account_store.mark_job_deleted(project, deleted)
    await account_store.mark_job_deleted(project, deleted)  # a repeat changes nothing

    assert await account_store.deleted_among([deleted, kept]) == {deleted}
    assert await account_store.deleted_among([kept]) == set()


async def test_a_hold_that_refuses_deleted_jobs_holds_nothing_under_one(account_store: AccountStore) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.mark_job_deleted(project, job)

    with pytest.raises(HoldOfDeletedJob):
        await account_store.hold(project, job, Decimal("1.00"), request="fp", unless_deleted=True)
    other = new_job_id()
    held = await account_store.hold(project, other, Decimal("1.00"), request="fp", unless_deleted=True)

    assert held == Decimal("1.00")
    assert (await account_store.account(project)).held_usd == Decimal("1.00")  # only the other job's


async def test_a_deleted_job_that_was_held_before_is_refused_and_holds_nothing_more(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp", unless_deleted=True)
    await account_store.mark_job_deleted(project, job)

    with pytest.raises(HoldOfDeletedJob):
        await account_store.hold(project, job, Decimal("1.00"), request="fp", unless_deleted=True)
    assert (await account_store.account(project)).held_usd == Decimal("1.00")  # the first hold only


async def test_a_deleted_job_is_refused_as_deleted_before_too_few_credits(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.mark_job_deleted(project, job)

    with pytest.raises(HoldOfDeletedJob):
        await account_store.hold(project, job, Decimal("50.00"), request="fp", unless_deleted=True)
    assert (await account_store.account(project)).held_usd == Decimal("0")
