"""Simultaneous holds and settles: never more accepted than the balance covers, never charged twice."""

from __future__ import annotations

import asyncio
import secrets
import sys
from decimal import Decimal
from pathlib import Path

from accounts.budgets import Caps
from accounts.errors import BudgetExceeded, ConcurrencyLimitExceeded, InsufficientCredits
from accounts.ledger import Attribution
from accounts.store import AccountStore
from core.ids import new_job_id
from tests.fixtures.accounts import fetch_all

REPO_ROOT = Path(__file__).resolve().parents[1]

# A second process placing holds on the same project: prints how many it got.
HOLDING_PROCESS = """
import asyncio, sys
from decimal import Decimal
from accounts.errors import InsufficientCredits
from accounts.store import AccountStore
from core.ids import new_job_id
from core.settings import Settings

async def main(url, project, count):
    store = await AccountStore.open(url, settings=Settings(database_pool_size=5))
    async def one():
        try:
            await store.hold(project, new_job_id(), Decimal("0.50"))
            return 1
        except InsufficientCredits:
            return 0
    print(sum(await asyncio.gather(*(one() for _ in range(count)))))
    await store.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _project(store: AccountStore, credits: Decimal) -> str:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    return (await store.ensure_dev_project(key, credits)).project_id


async def _try_hold(store: AccountStore, project: str, amount: Decimal, key: str | None = None) -> bool:
    try:
        await store.hold(project, new_job_id(), amount, attribution=Attribution(key_id=key))
    except (InsufficientCredits, BudgetExceeded, ConcurrencyLimitExceeded):
        return False
    return True


async def test_100_simultaneous_holds_against_a_balance_for_10_accept_exactly_10(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, Decimal("5.00"))

    accepted = await asyncio.gather(*(_try_hold(account_store, project, Decimal("0.50")) for _ in range(100)))

    account = await account_store.account(project)
    assert sum(accepted) == 10
    assert (account.held_usd, account.available_usd) == (Decimal("5.00"), Decimal(0))


async def test_holds_from_two_processes_at_once_accept_exactly_what_the_balance_covers(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store, Decimal("5.00"))
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLDING_PROCESS,
            accounts_database_url,
            project,
            "50",
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await process.communicate() for process in processes]

    assert [process.returncode for process in processes] == [0, 0], [
        err.decode()[-2000:] for _, err in outputs
    ]
    assert sum(int(out) for out, _ in outputs) == 10
    balance, held = fetch_all(
        accounts_database_url,
        "SELECT balance_micros, held_micros FROM projects WHERE project_id = :p",
        p=project,
    )[0]
    assert (balance, held) == (5_000_000, 5_000_000)


async def test_simultaneous_settles_of_one_job_charge_it_once(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    project = await _project(account_store, Decimal("5.00"))
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"))

    settlements = await asyncio.gather(
        *(account_store.settle(job, charge=Decimal("1.00"), reason="succeeded") for _ in range(20))
    )

    assert sum(not settlement.replayed for settlement in settlements) == 1
    assert (await account_store.account(project)).balance_usd == Decimal("4.00")
    kinds = sorted(
        kind
        for (kind,) in fetch_all(
            accounts_database_url, "SELECT kind FROM ledger_entries WHERE job_id = :j", j=job
        )
    )
    assert kinds == ["charge", "hold", "release"]


async def test_simultaneous_holds_for_one_job_hold_once(account_store: AccountStore) -> None:
    project = await _project(account_store, Decimal("5.00"))
    job = new_job_id()

    held = await asyncio.gather(*(account_store.hold(project, job, Decimal("1.00")) for _ in range(20)))

    assert set(held) == {Decimal("1.00")}
    assert (await account_store.account(project)).held_usd == Decimal("1.00")


async def test_100_simultaneous_holds_against_a_daily_cap_for_10_accept_exactly_10(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, Decimal("100.00"))
    await account_store.budget_book().set(project, None, Caps(daily_micros=5_250_000))

    accepted = await asyncio.gather(*(_try_hold(account_store, project, Decimal("0.50")) for _ in range(100)))

    assert sum(accepted) == 10
    assert (await account_store.account(project)).held_usd == Decimal("5.00")


async def test_100_simultaneous_holds_of_one_key_against_its_cap_for_10_accept_exactly_10(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, Decimal("100.00"))
    key = (await account_store.create_key(project)).key_id
    await account_store.budget_book().set(
        project, key, Caps(monthly_micros=5_000_000, max_concurrent_jobs=50)
    )

    accepted = await asyncio.gather(
        *(_try_hold(account_store, project, Decimal("0.50"), key) for _ in range(100)),
        *(_try_hold(account_store, project, Decimal("0.50")) for _ in range(5)),  # keyless: not capped
    )

    assert (sum(accepted[:100]), sum(accepted[100:])) == (10, 5)


async def test_100_simultaneous_holds_against_a_concurrency_cap_of_7_accept_exactly_7(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, Decimal("100.00"))
    await account_store.budget_book().set(project, None, Caps(max_concurrent_jobs=7))

    accepted = await asyncio.gather(*(_try_hold(account_store, project, Decimal("0.10")) for _ in range(100)))

    assert sum(accepted) == 7


async def test_simultaneous_settles_and_holds_in_one_project_all_go_through(
    account_store: AccountStore,
) -> None:
    """Each writes a ledger row (a key-share lock on the project's row through its foreign key) before
    it locks that row: the locks must not be ones that wait on each other's key-share (a deadlock)."""
    project = await _project(account_store, Decimal("100.00"))
    await account_store.budget_book().set(project, None, Caps(daily_micros=100_000_000))
    jobs = [new_job_id() for _ in range(20)]
    for job in jobs:
        await account_store.hold(project, job, Decimal("1.00"))

    await asyncio.gather(
        *(account_store.settle(job, charge=Decimal("0.50"), reason="generated") for job in jobs),
        *(account_store.hold(project, new_job_id(), Decimal("1.00")) for _ in range(20)),
    )

    account = await account_store.account(project)
    assert (account.balance_usd, account.held_usd) == (Decimal("90.00"), Decimal("20.00"))
