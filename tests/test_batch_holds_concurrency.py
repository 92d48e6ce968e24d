"""A batch is held whole or not at all, under real concurrency: five batches at once against a balance
that covers two and a half of them → exactly two accepted, three refused, and not one partial hold. The
same holds against a daily spend cap, a key's monthly cap and a concurrency cap: a refusal names the whole
batch's figures as they stood before any of its items was held.

Checked at the ledger (``AccountStore.hold_batch``, SQLite and PostgreSQL) and at the HTTP boundary (the
API alone, priced by the Runway emulator, on PostgreSQL: credits are held before anything starts, so the
accepted batches' jobs simply wait in Temporal)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from accounts.batch_holds import ItemHold
from accounts.budgets import Caps
from accounts.errors import BudgetExceeded, ConcurrencyLimitExceeded, InsufficientCredits
from accounts.ledger import Attribution
from accounts.money import to_micros
from accounts.store import AccountStore
from core.ids import new_job_id
from core.models import Aspect, Prefer, Resolution, VideoSpec
from tests.emulators import runway
from tests.emulators.server import EmulatorServer
from tests.fixtures.accounts import DatabaseFactory, fetch_all
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from vendors.catalog import load_catalog
from vendors.router import plan_route

BATCHES = 5
ITEMS = 4


async def _project(store: AccountStore, credits: Decimal) -> str:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    return (await store.ensure_dev_project(key, credits)).project_id


async def _try_batch(store: AccountStore, project: str, item_usd: Decimal) -> bool:
    holds = [ItemHold(new_job_id(), to_micros(item_usd), f"item-{n}") for n in range(ITEMS)]
    try:
        await store.hold_batch(project, holds)
    except InsufficientCredits as refused:
        assert refused.required == item_usd * ITEMS  # the problem names the whole batch
        return False
    return True


async def test_five_simultaneous_batches_against_credit_for_two_and_a_half_hold_exactly_two(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    item = Decimal("0.50")
    project = await _project(account_store, item * ITEMS * Decimal("2.5"))

    accepted = await asyncio.gather(*(_try_batch(account_store, project, item) for _ in range(BATCHES)))

    account = await account_store.account(project)
    assert sum(accepted) == 2
    assert (account.held_usd, account.available_usd) == (item * ITEMS * 2, item * ITEMS / 2)
    holds = fetch_all(
        accounts_database_url,
        "SELECT count(*) FROM ledger_entries WHERE project_id = :p AND kind = 'hold'",
        p=project,
    )
    assert holds == [(2 * ITEMS,)]  # every refused batch left nothing behind


async def _try_capped_batch(
    store: AccountStore, project: str, item_usd: Decimal, key: str | None = None
) -> BudgetExceeded | ConcurrencyLimitExceeded | None:
    """None when the batch was held; otherwise the refusal."""
    attribution = Attribution(key_id=key)
    holds = [ItemHold(new_job_id(), to_micros(item_usd), f"item-{n}", attribution) for n in range(ITEMS)]
    try:
        await store.hold_batch(project, holds)
    except (BudgetExceeded, ConcurrencyLimitExceeded) as refused:
        return refused
    return None


async def test_five_simultaneous_batches_against_a_daily_cap_for_two_and_a_half_hold_exactly_two(
    account_store: AccountStore,
) -> None:
    item = Decimal("0.50")
    project = await _project(account_store, Decimal("100.00"))
    await account_store.budget_book().set(project, None, Caps(daily_micros=to_micros(item * ITEMS * 5 / 2)))

    batches = (_try_capped_batch(account_store, project, item) for _ in range(BATCHES))
    outcomes = await asyncio.gather(*batches)

    refusals = [outcome for outcome in outcomes if outcome is not None]
    assert len(refusals) == BATCHES - 2
    for refused in refusals:
        assert isinstance(refused, BudgetExceeded)
        cap = refused.violation  # the batch's figures, not those of the item it failed at
        assert (cap.period, cap.required) == ("day", item * ITEMS)
        assert (cap.spent, cap.remaining) == (item * ITEMS * 2, item * ITEMS / 2)
    assert (await account_store.account(project)).held_usd == item * ITEMS * 2


async def test_batches_of_one_key_stop_at_its_monthly_cap_while_keyless_ones_go_on(
    account_store: AccountStore,
) -> None:
    item = Decimal("0.25")
    project = await _project(account_store, Decimal("100.00"))
    key = (await account_store.create_key(project)).key_id
    await account_store.budget_book().set(project, key, Caps(monthly_micros=to_micros(item * ITEMS * 3)))

    outcomes = await asyncio.gather(
        *(_try_capped_batch(account_store, project, item, key) for _ in range(BATCHES)),
        *(_try_capped_batch(account_store, project, item) for _ in range(2)),
    )

    keyed, keyless = outcomes[:BATCHES], outcomes[BATCHES:]
    assert sum(outcome is None for outcome in keyed) == 3
    assert all(isinstance(o, BudgetExceeded) and o.violation.scope == "key" for o in keyed if o is not None)
    assert keyless == [None, None]


async def test_simultaneous_batches_against_a_concurrency_cap_start_only_whole_batches(
    account_store: AccountStore,
) -> None:
    project = await _project(account_store, Decimal("100.00"))
    await account_store.budget_book().set(project, None, Caps(max_concurrent_jobs=ITEMS * 2 - 1))

    outcomes = await asyncio.gather(
        *(_try_capped_batch(account_store, project, Decimal("0.10")) for _ in range(BATCHES))
    )

    refusals = [outcome for outcome in outcomes if outcome is not None]
    assert len(refusals) == BATCHES - 1  # a second batch would need 8 slots of 7
    for refused in refusals:
        assert isinstance(refused, ConcurrencyLimitExceeded)
        assert (refused.limit, refused.running) == (ITEMS * 2 - 1, ITEMS)
    holds = (await account_store.account(project)).held_usd
    assert holds == Decimal("0.10") * ITEMS


async def test_a_repeated_batch_holds_nothing_more(account_store: AccountStore) -> None:
    project = await _project(account_store, Decimal("5.00"))
    holds = [ItemHold(new_job_id(), to_micros(Decimal("1.00")), f"item-{n}") for n in range(3)]

    results = await asyncio.gather(*(account_store.hold_batch(project, holds) for _ in range(5)))

    assert results == [[True] * 3] * 5
    assert (await account_store.account(project)).held_usd == Decimal("3.00")


# -- over HTTP, on PostgreSQL ----------------------------------------------------------------------------


def _item_cost() -> Decimal:
    spec = VideoSpec(prompt="x", duration_seconds=5, aspect=Aspect.LANDSCAPE, resolution=Resolution.P720)
    route = plan_route(spec, Prefer.BALANCED, None, None, load_catalog(), {"runway"})
    return max(candidate.estimated_cost_usd for candidate in route)


@pytest.fixture(scope="module")
def priced_postgres_api(
    temporal_server: TemporalServer,
    vendor_emulators: dict[str, EmulatorServer],
    database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    credits = str(_item_cost() * ITEMS * Decimal("2.5"))
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("batch-holds"),
        ("api",),
        RUNWAYML_API_SECRET=runway.API_KEY,
        INFRAI_RUNWAY_BASE_URL=vendor_emulators["runway"].base_url,
        INFRAI_TRIAL_CREDITS_USD=credits,
        INFRAI_DEV_CREDITS_USD=credits,
        INFRAI_DATABASE_URL=database_factory.new("postgresql"),
    ) as api:
        yield api


async def _post_batches(api_url: str, key: str) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/v1/video/batches",
                    json={
                        "items": [
                            {"prompt": f"batch {b} item {i}", "duration_seconds": 5} for i in range(ITEMS)
                        ]
                    },
                )
                for b in range(BATCHES)
            )
        )


def test_five_simultaneous_batch_requests_against_credit_for_two_and_a_half_accept_exactly_two(
    priced_postgres_api: Stack,
) -> None:
    key, project = priced_postgres_api.new_project()
    batch_usd = _item_cost() * ITEMS

    responses = asyncio.run(_post_batches(priced_postgres_api.api_url, key))

    assert Counter(r.status_code for r in responses) == Counter({202: 2, 402: BATCHES - 2}), [
        r.text for r in responses if r.status_code not in (202, 402)
    ]
    for refused in (r for r in responses if r.status_code == 402):
        assert refused.json()["code"] == "insufficient_credits"
        assert Decimal(refused.json()["required_usd"]) == batch_usd
    with priced_postgres_api.client(key) as client:
        account = client.get("/v1/account").json()
    assert Decimal(account["held_usd"]) == 2 * batch_usd
    assert Decimal(account["available_usd"]) == batch_usd / 2
    accepted_jobs = {item["job_id"] for r in responses if r.status_code == 202 for item in r.json()["items"]}
    holds = fetch_all(
        priced_postgres_api.env["INFRAI_DATABASE_URL"],
        "SELECT job_id FROM ledger_entries WHERE project_id = :p AND kind = 'hold'",
        p=project,
    )
    assert {job_id for (job_id,) in holds} == accepted_jobs and len(holds) == 2 * ITEMS


def test_five_simultaneous_batch_requests_against_a_daily_cap_for_one_and_a_half_accept_exactly_one(
    priced_postgres_api: Stack,
) -> None:
    key, _project_id = priced_postgres_api.new_project()
    batch_usd = _item_cost() * ITEMS
    with priced_postgres_api.client(key) as client:
        put = client.put("/v1/account/budgets", json={"daily_usd": str(batch_usd * 3 / 2)})
        assert put.status_code == 200, put.text

    responses = asyncio.run(_post_batches(priced_postgres_api.api_url, key))

    assert Counter(r.status_code for r in responses) == Counter({202: 1, 402: BATCHES - 1}), [
        r.text for r in responses if r.status_code not in (202, 402)
    ]
    for refused in (r.json() for r in responses if r.status_code == 402):
        assert (refused["code"], refused["period"]) == ("budget_exceeded", "day")
        assert Decimal(refused["required_usd"]) == batch_usd  # the whole batch, not one item
        assert Decimal(refused["remaining_usd"]) == batch_usd / 2
        assert "batch" in refused["detail"]
    with priced_postgres_api.client(key) as client:
        budget = client.get("/v1/account/budgets").json()["project"]
    assert (Decimal(budget["spent_today_usd"]), budget["running_jobs"]) == (batch_usd, ITEMS)
