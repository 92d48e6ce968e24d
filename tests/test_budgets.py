"""Hard budgets at the credit hold, on both backends: spend caps per UTC day and month and concurrency
caps, per project and per key, refuse a hold before anything is reserved and say what remains."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.budgets import Caps
from accounts.errors import BudgetExceeded, ConcurrencyLimitExceeded
from accounts.ledger import Attribution
from accounts.money import to_micros
from accounts.store import AccountStore
from core.ids import new_job_id


async def _project(store: AccountStore, credits: str = "100.00") -> tuple[str, str]:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    identity = await store.ensure_dev_project(key, Decimal(credits))
    return identity.project_id, identity.key_id


def _usd(amount: str) -> int:
    return to_micros(Decimal(amount))


async def _hold(store: AccountStore, project: str, amount: str, key: str | None = None) -> str:
    job = new_job_id()
    await store.hold(project, job, Decimal(amount), attribution=Attribution(key_id=key))
    return job


async def test_a_hold_past_the_projects_daily_cap_is_refused_with_what_remains(
    account_store: AccountStore,
) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    await _hold(account_store, project, "0.40")
    await _hold(account_store, project, "0.40")

    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "0.40")

    cap = refused.value.violation
    assert (cap.scope, cap.key_id, cap.period) == ("project", None, "day")
    assert (cap.cap, cap.spent, cap.remaining, cap.required) == (
        Decimal("1.00"),
        Decimal("0.80"),
        Decimal("0.20"),
        Decimal("0.40"),
    )
    assert cap.resets_at == datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        1
    )
    assert (await account_store.account(project)).held_usd == Decimal("0.80")  # the refused hold held nothing


async def test_a_hold_that_fits_exactly_is_accepted(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    await _hold(account_store, project, "0.60")

    await _hold(account_store, project, "0.40")

    assert (await account_store.account(project)).held_usd == Decimal("1.00")


async def test_settled_charges_count_and_released_holds_do_not(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(monthly_micros=_usd("1.00")))
    charged = await _hold(account_store, project, "0.50")
    await account_store.settle(charged, charge=Decimal("0.30"), reason="generated")
    released = await _hold(account_store, project, "0.70")
    await account_store.settle(released, charge=Decimal(0), reason="failed:vendor_error")

    await _hold(account_store, project, "0.70")  # 0.30 charged + 0.70 held = the cap
    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "0.01")

    assert refused.value.violation.period == "month"
    assert refused.value.violation.remaining == Decimal(0)


async def test_spend_of_an_earlier_day_does_not_count_against_today(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    async with account_store._db.write() as conn:
        await ledger.place_hold(account_store._db, conn, project, new_job_id(), _usd("1.00"), yesterday)

    await _hold(account_store, project, "1.00")

    assert (await account_store.account(project)).held_usd == Decimal("2.00")


async def test_a_keys_cap_refuses_that_key_only(account_store: AccountStore) -> None:
    project, capped = await _project(account_store)
    other = (await account_store.create_key(project)).key_id
    await account_store.budget_book().set(project, capped, Caps(daily_micros=_usd("0.50")))
    await _hold(account_store, project, "0.50", key=capped)

    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "0.50", key=capped)
    await _hold(account_store, project, "0.50", key=other)
    await _hold(account_store, project, "0.50")

    cap = refused.value.violation
    assert (cap.scope, cap.key_id, cap.remaining) == ("key", capped, Decimal(0))


async def test_the_projects_cap_counts_every_keys_spend(account_store: AccountStore) -> None:
    project, first = await _project(account_store)
    second = (await account_store.create_key(project)).key_id
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    await account_store.budget_book().set(project, second, Caps(daily_micros=_usd("5.00")))
    await _hold(account_store, project, "0.70", key=first)

    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "0.70", key=second)

    assert (refused.value.violation.scope, refused.value.violation.remaining) == ("project", Decimal("0.30"))


async def test_of_two_crossed_caps_the_one_with_less_room_is_reported(account_store: AccountStore) -> None:
    project, key = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    await account_store.budget_book().set(project, key, Caps(monthly_micros=_usd("0.50")))
    await _hold(account_store, project, "0.40", key=key)

    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "0.70", key=key)

    cap = refused.value.violation
    assert (cap.scope, cap.period, cap.remaining) == ("key", "month", Decimal("0.10"))


async def test_a_hold_short_of_credits_that_passes_a_cap_is_refused_by_the_cap(
    account_store: AccountStore,
) -> None:
    project, key = await _project(account_store, credits="1.00")
    await account_store.budget_book().set(project, key, Caps(daily_micros=_usd("0.50")))

    with pytest.raises(BudgetExceeded) as refused:
        await _hold(account_store, project, "2.00", key=key)

    assert (refused.value.violation.scope, refused.value.violation.remaining) == ("key", Decimal("0.50"))
    assert (await account_store.account(project)).held_usd == Decimal(0)


async def test_caps_set_after_uncapped_holds_apply_to_the_next_hold(account_store: AccountStore) -> None:
    """Holds of a project and key with no caps skip the spend check; a cap set since must not be missed."""
    project, key = await _project(account_store)
    await _hold(account_store, project, "0.60", key=key)
    await account_store.budget_book().set(project, key, Caps(daily_micros=_usd("1.00")))

    with pytest.raises(BudgetExceeded) as by_key:
        await _hold(account_store, project, "0.60", key=key)
    await account_store.budget_book().set(project, None, Caps(max_concurrent_jobs=1))
    with pytest.raises(ConcurrencyLimitExceeded) as by_project:
        await _hold(account_store, project, "0.10")

    assert by_key.value.violation.scope == "key"
    assert by_project.value.scope == "project"


async def test_another_projects_key_brings_no_caps_to_a_hold(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    other_project, other_key = await _project(account_store)
    await account_store.budget_book().set(other_project, other_key, Caps(daily_micros=_usd("0.10")))

    await _hold(account_store, project, "0.50", key=other_key)

    assert (await account_store.account(project)).held_usd == Decimal("0.50")


async def test_a_concurrency_cap_counts_open_holds(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(max_concurrent_jobs=2))
    first = await _hold(account_store, project, "0.10")
    await _hold(account_store, project, "0.10")

    with pytest.raises(ConcurrencyLimitExceeded) as refused:
        await _hold(account_store, project, "0.10")
    await account_store.settle(first, charge=Decimal("0.10"), reason="generated")
    await _hold(account_store, project, "0.10")

    assert (refused.value.scope, refused.value.limit, refused.value.running) == ("project", 2, 2)


async def test_a_keys_concurrency_cap_leaves_other_keys_alone(account_store: AccountStore) -> None:
    project, capped = await _project(account_store)
    other = (await account_store.create_key(project)).key_id
    await account_store.budget_book().set(project, capped, Caps(max_concurrent_jobs=1))
    await _hold(account_store, project, "0.10", key=capped)

    with pytest.raises(ConcurrencyLimitExceeded) as refused:
        await _hold(account_store, project, "0.10", key=capped)
    await _hold(account_store, project, "0.10", key=other)

    assert (refused.value.scope, refused.value.key_id) == ("key", capped)


async def test_a_repeated_hold_is_not_refused_by_the_cap_it_filled(account_store: AccountStore) -> None:
    project, _ = await _project(account_store)
    await account_store.budget_book().set(
        project, None, Caps(daily_micros=_usd("1.00"), max_concurrent_jobs=1)
    )
    job = new_job_id()
    await account_store.hold(project, job, Decimal("1.00"), request="fp")

    assert await account_store.hold(project, job, Decimal("1.00"), request="fp") == Decimal("1.00")


async def test_holds_placed_in_one_transaction_count_against_each_other(account_store: AccountStore) -> None:
    """A batch places one hold per item in one transaction: the third item sees the first two."""
    project, _ = await _project(account_store)
    await account_store.budget_book().set(project, None, Caps(daily_micros=_usd("1.00")))
    db = account_store._db
    now = datetime.now(UTC)

    with pytest.raises(BudgetExceeded):
        async with db.write() as conn:
            for _ in range(3):
                await ledger.place_hold(db, conn, project, new_job_id(), _usd("0.40"), now)

    assert (await account_store.account(project)).held_usd == 0  # all or nothing: the batch rolled back


async def test_budgets_show_caps_and_what_counts_against_them(account_store: AccountStore) -> None:
    project, key = await _project(account_store)
    book = account_store.budget_book()
    await book.set(project, None, Caps(daily_micros=_usd("2.50"), max_concurrent_jobs=3))
    await book.set(project, key, Caps(monthly_micros=_usd("10")))
    await _hold(account_store, project, "0.25", key=key)
    await _hold(account_store, project, "0.50")

    project_view, key_view = await book.all(project)

    assert (project_view.daily_usd, project_view.monthly_usd, project_view.max_concurrent_jobs) == (
        Decimal("2.50"),
        None,
        3,
    )
    assert (project_view.spent_today_usd, project_view.running_jobs) == (Decimal("0.75"), 2)
    assert (key_view.key_id, key_view.monthly_usd, key_view.spent_this_month_usd) == (
        key,
        Decimal("10"),
        Decimal("0.25"),
    )
    await book.set(project, None, Caps())
    assert (await book.get(project, None)).daily_usd is None
