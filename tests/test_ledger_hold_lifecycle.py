"""A hold's whole life: which request it was placed for, that it is final once settled, and how a hold the
reconciler released still lets a job that started after all be charged (once)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.errors import HoldConflict, HoldSettled
from accounts.store import AccountStore
from core.ids import new_job_id
from tests.fixtures.accounts import fetch_all


async def _project(store: AccountStore, credits: str = "5.00") -> str:
    identity = await store.ensure_dev_project(
        "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32), Decimal(credits)
    )
    return identity.project_id


def _kinds(database_url: str, job_id: str) -> list[tuple[str, int]]:
    rows = fetch_all(
        database_url, "SELECT kind, amount_micros FROM ledger_entries WHERE job_id = :job", job=job_id
    )
    return sorted((str(kind), int(amount)) for kind, amount in rows)


async def test_a_retry_of_the_same_request_holds_once(account_store: AccountStore) -> None:
    project = await _project(account_store)
    job = new_job_id()

    first = await account_store.hold(project, job, Decimal("1.00"), request="fp-a")
    again = await account_store.hold(project, job, Decimal("1.00"), request="fp-a")

    assert first == again == Decimal("1.00")
    assert (await account_store.account(project)).held_usd == Decimal("1.00")


async def test_another_request_under_the_same_job_id_is_a_conflict_and_holds_nothing(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp-a")

    with pytest.raises(HoldConflict):
        await account_store.hold(project, job, Decimal("3.00"), request="fp-b")

    assert (await account_store.account(project)).held_usd == Decimal("1.00")


async def test_simultaneous_holds_of_different_requests_leave_exactly_one_winner(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()

    results = await asyncio.gather(
        *(account_store.hold(project, job, Decimal("0.10") * (n + 1), request=f"fp-{n}") for n in range(20)),
        return_exceptions=True,
    )

    held = [result for result in results if isinstance(result, Decimal)]
    assert len(held) == 1
    assert all(isinstance(result, HoldConflict) for result in results if not isinstance(result, Decimal))
    assert (await account_store.account(project)).held_usd == held[0]


async def test_a_settled_hold_cannot_be_held_again(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp-a")
    await account_store.settle(job, charge=Decimal("0.40"), reason="generated")

    with pytest.raises(HoldSettled):
        await account_store.hold(project, job, Decimal("1.00"), request="fp-a")

    account = await account_store.account(project)
    assert (account.balance_usd, account.held_usd) == (Decimal("4.60"), Decimal(0))
    assert _kinds(accounts_database_url, job) == [
        ("charge", 400_000),
        ("hold", 1_000_000),
        ("release", 1_000_000),
    ]


async def test_releasing_a_stale_hold_returns_the_credits_and_leaves_it_out_of_the_stale_list(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("2.00"), request="fp-a")

    released = await account_store.release_stale_hold(job, "no_workflow")

    account = await account_store.account(project)
    assert (released.charged_usd, released.released_usd) == (Decimal(0), Decimal("2.00"))
    assert (account.balance_usd, account.held_usd) == (Decimal("5.00"), Decimal(0))
    assert job not in {hold.job_id for hold in await account_store.stale_holds(timedelta(0))}


async def test_a_job_that_started_after_its_hold_was_reconciled_is_still_charged_once(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp-a")
    await account_store.release_stale_hold(job, "no_workflow")

    first = await account_store.settle(job, charge=Decimal("0.75"), reason="generated")
    again = await account_store.settle(job, charge=Decimal("0.75"), reason="generated")

    account = await account_store.account(project)
    assert (first.charged_usd, first.replayed) == (Decimal("0.75"), False)
    assert (again.charged_usd, again.replayed) == (Decimal("0.75"), True)
    assert (account.balance_usd, account.held_usd) == (Decimal("4.25"), Decimal(0))
    assert _kinds(accounts_database_url, job) == [
        ("charge", 750_000),
        ("hold", 1_000_000),
        ("release", 1_000_000),
    ]


async def test_simultaneous_settles_after_a_reconciled_release_charge_once(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp-a")
    await account_store.release_stale_hold(job, "no_workflow")

    await asyncio.gather(
        *(account_store.settle(job, charge=Decimal("0.50"), reason="generated") for _ in range(10))
    )

    account = await account_store.account(project)
    assert (account.balance_usd, account.held_usd, account.usage.jobs_charged) == (
        Decimal("4.50"),
        Decimal(0),
        1,
    )


async def test_an_ordinary_release_is_final_even_for_a_later_charge(account_store: AccountStore) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp-a")
    await account_store.settle(job, charge=Decimal(0), reason="cancelled")

    later = await account_store.settle(job, charge=Decimal("1.00"), reason="generated")

    assert later.replayed and later.charged_usd == Decimal(0)
    assert (await account_store.account(project)).balance_usd == Decimal("5.00")
