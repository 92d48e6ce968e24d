"""Holds and settlements in the account store: the money math, idempotency and outages."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.errors import AccountsUnavailable, HoldNotFound, InsufficientCredits, ProjectNotFound
from accounts.store import AccountStore
from core.ids import new_job_id
from core.settings import Settings
from tests.fixtures.accounts import TcpRelay, fetch_all, sqlite_store_beside_a_writer


async def _project(store: AccountStore, credits: str = "5.00") -> str:
    identity = await store.ensure_dev_project(
        "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32), Decimal(credits)
    )
    return identity.project_id


def _entries(database_url: str, job_id: str) -> list[tuple[str, int]]:
    return sorted(
        (str(kind), int(amount))
        for kind, amount in fetch_all(
            database_url, "SELECT kind, amount_micros FROM ledger_entries WHERE job_id = :job", job=job_id
        )
    )


async def test_a_hold_reserves_available_credits_without_charging(account_store: AccountStore) -> None:
    project = await _project(account_store)

    held = await account_store.hold(project, new_job_id(), Decimal("1.25"))

    account = await account_store.account(project)
    assert held == Decimal("1.25")
    assert (account.balance_usd, account.held_usd, account.available_usd) == (
        Decimal("5.00"),
        Decimal("1.25"),
        Decimal("3.75"),
    )


async def test_settling_charges_the_cost_and_releases_the_rest_of_the_hold(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.25"))

    settlement = await account_store.settle(job, charge=Decimal("0.80"), reason="succeeded")

    account = await account_store.account(project)
    assert (settlement.charged_usd, settlement.released_usd, settlement.held_usd) == (
        Decimal("0.80"),
        Decimal("0.45"),
        Decimal("1.25"),
    )
    assert (account.balance_usd, account.held_usd, account.available_usd) == (
        Decimal("4.20"),
        Decimal("0"),
        Decimal("4.20"),
    )
    assert (account.usage.jobs_charged, account.usage.charged_usd) == (1, Decimal("0.80"))


async def test_settling_with_no_charge_releases_the_whole_hold(account_store: AccountStore) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("2.00"))

    settlement = await account_store.settle(job, charge=Decimal(0), reason="vendor failed, not billed")

    account = await account_store.account(project)
    assert (settlement.charged_usd, settlement.released_usd) == (Decimal(0), Decimal("2.00"))
    assert (account.balance_usd, account.available_usd, account.usage.jobs_charged) == (
        Decimal("5.00"),
        Decimal("5.00"),
        0,
    )


async def test_settling_twice_records_one_charge_and_one_release(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store)
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"))

    first = await account_store.settle(job, charge=Decimal("1.00"), reason="succeeded")
    again = await account_store.settle(job, charge=Decimal("1.00"), reason="succeeded")
    different = await account_store.settle(job, charge=Decimal("3.00"), reason="replayed with other data")

    assert _entries(accounts_database_url, job) == [
        ("charge", 1_000_000),
        ("hold", 1_000_000),
        ("release", 1_000_000),
    ]
    assert (first.replayed, again.replayed, different.replayed) == (False, True, True)
    assert again.charged_usd == different.charged_usd == Decimal("1.00")
    assert (await account_store.account(project)).balance_usd == Decimal("4.00")


async def test_holding_twice_for_one_job_holds_once(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store)
    job = new_job_id()

    first = await account_store.hold(project, job, Decimal("1.00"))
    again = await account_store.hold(project, job, Decimal("1.50"))

    assert first == again == Decimal("1.00")
    assert (await account_store.account(project)).held_usd == Decimal("1.00")
    assert _entries(accounts_database_url, job) == [("hold", 1_000_000)]


async def test_a_hold_beyond_the_available_credits_is_refused_and_leaves_nothing(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store, "1.00")
    await account_store.hold(project, new_job_id(), Decimal("0.60"))
    job = new_job_id()

    with pytest.raises(InsufficientCredits) as refused:
        await account_store.hold(project, job, Decimal("0.50"))

    assert (refused.value.available, refused.value.required) == (Decimal("0.40"), Decimal("0.50"))
    assert _entries(accounts_database_url, job) == []
    assert await account_store.hold(project, job, Decimal("0.40")) == Decimal(
        "0.40"
    )  # exactly all that is left


async def test_a_hold_for_an_unknown_project_is_project_not_found(account_store: AccountStore) -> None:
    with pytest.raises(ProjectNotFound):
        await account_store.hold("proj_" + secrets.token_hex(10), new_job_id(), Decimal("0.10"))


async def test_a_charge_above_the_hold_is_taken_from_the_available_balance(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, "2.00")
    job = new_job_id()
    await account_store.hold(project, job, Decimal("0.50"))

    settlement = await account_store.settle(job, charge=Decimal("0.70"), reason="vendor reported cost")

    assert (settlement.charged_usd, settlement.released_usd, settlement.uncollected_usd) == (
        Decimal("0.70"),
        Decimal(0),
        Decimal(0),
    )
    assert (await account_store.account(project)).balance_usd == Decimal("1.30")


async def test_a_charge_beyond_everything_the_project_has_never_makes_the_balance_negative(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, "1.00")
    job = new_job_id()
    await account_store.hold(project, job, Decimal("0.50"))

    settlement = await account_store.settle(job, charge=Decimal("1.60"), reason="vendor reported cost")

    account = await account_store.account(project)
    assert (settlement.charged_usd, settlement.uncollected_usd) == (Decimal("1.00"), Decimal("0.60"))
    assert (account.balance_usd, account.held_usd) == (Decimal(0), Decimal(0))


async def test_a_vendor_charge_without_a_hold_is_recorded_once_against_the_named_project(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store)
    job = new_job_id()

    first = await account_store.settle(job, charge=Decimal("0.30"), reason="billed", project_id=project)
    again = await account_store.settle(job, charge=Decimal("0.30"), reason="billed", project_id=project)

    assert (first.charged_usd, again.charged_usd, again.replayed) == (Decimal("0.30"), Decimal("0.30"), True)
    assert _entries(accounts_database_url, job) == [("charge", 300_000)]
    assert (await account_store.account(project)).balance_usd == Decimal("4.70")


async def test_settling_an_unknown_job_without_a_project_is_an_error(account_store: AccountStore) -> None:
    with pytest.raises(HoldNotFound):
        await account_store.settle(new_job_id(), charge=Decimal(0), reason="?")


async def test_stale_holds_lists_unsettled_holds_older_than_asked(account_store: AccountStore) -> None:
    project = await _project(account_store)
    open_job, settled_job = new_job_id(), new_job_id()
    await account_store.hold(project, open_job, Decimal("0.10"))
    await account_store.hold(project, settled_job, Decimal("0.10"))
    await account_store.settle(settled_job, charge=Decimal(0), reason="cancelled")

    everything_unsettled = {hold.job_id for hold in await account_store.stale_holds(timedelta(0))}
    older_than_an_hour = {hold.job_id for hold in await account_store.stale_holds(timedelta(hours=1))}

    assert open_job in everything_unsettled
    assert settled_job not in everything_unsettled
    assert open_job not in older_than_an_hour


async def test_the_ledger_explains_every_balance(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store, "3.00")
    jobs = [new_job_id() for _ in range(4)]
    for job in jobs:
        await account_store.hold(project, job, Decimal("0.50"))
    await account_store.settle(jobs[0], charge=Decimal("0.50"), reason="succeeded")
    await account_store.settle(jobs[1], charge=Decimal("0.20"), reason="succeeded")
    await account_store.settle(jobs[2], charge=Decimal(0), reason="failed")

    sums = dict(
        fetch_all(
            accounts_database_url,
            "SELECT kind, SUM(amount_micros) FROM ledger_entries WHERE project_id = :p GROUP BY kind",
            p=project,
        )
    )
    balance, held = fetch_all(
        accounts_database_url,
        "SELECT balance_micros, held_micros FROM projects WHERE project_id = :p",
        p=project,
    )[0]
    assert balance == sums["grant"] - sums["charge"] == 2_300_000
    assert held == sums["hold"] - sums["release"] == 500_000


async def test_an_outage_raises_accounts_unavailable_and_writes_nothing(
    postgres_relay_url: tuple[str, TcpRelay], accounts_settings: Settings
) -> None:
    url, relay = postgres_relay_url
    store = await AccountStore.open(url, settings=accounts_settings)
    try:
        project = await _project(store)
        job = new_job_id()
        await relay.cut()

        with pytest.raises(AccountsUnavailable) as unavailable:
            await store.hold(project, job, Decimal("1.00"))
        with pytest.raises(AccountsUnavailable):
            await store.account(project)

        await relay.restore()
        account = await store.account(project)
        assert unavailable.value.retry_after_seconds == accounts_settings.accounts_retry_after_seconds
        assert account.held_usd == Decimal(0)
        assert await store.hold(project, job, Decimal("1.00")) == Decimal("1.00")
    finally:
        await store.aclose()


async def test_a_hold_on_a_sqlite_file_locked_past_its_timeout_is_accounts_unavailable(
    tmp_path: Path,
) -> None:
    """SQLite's BEGIN IMMEDIATE is said by the driver itself: waiting too long for it is still an outage."""
    async with sqlite_store_beside_a_writer(tmp_path) as (store, holder):
        project, job = await _project(store), new_job_id()
        holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the busy timeout
        with pytest.raises(AccountsUnavailable):
            await store.hold(project, job, Decimal("1.00"))
        holder.execute("ROLLBACK")
        held = await store.hold(project, job, Decimal("1.00"))
    assert held == Decimal("1.00")
