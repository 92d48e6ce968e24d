"""The usage report, on both backends: charges grouped by UTC day, vendor, model or key add up to the
ledger, stay inside the project, and name the vendor that made the job after a failover."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.ledger import Attribution
from accounts.money import to_micros
from accounts.store import AccountStore
from accounts.usage import GROUP_BY_VALUES, GroupBy
from core.ids import new_job_id
from core.models import SubmitRequest, VideoSpec
from core.vendor_tasks import VendorTask
from tests.fixtures.accounts import fetch_all

NOW = datetime.now(UTC)
DAY = timedelta(days=1)
# (days ago, key index, vendor, model, held, charged)
JOBS = [
    (0, 0, "runway", "gen4_turbo", "0.50", "0.50"),
    (0, 1, "runway", "gen4_turbo", "0.50", "0.25"),
    (0, 1, "luma", "ray-2", "1.20", "1.20"),
    (1, 0, "luma", "ray-flash-2", "0.40", "0.40"),
    (2, 0, "runway", "gen4_aleph", "2.00", "0.000001"),
    (2, 1, "luma", "ray-2", "0.60", "0"),  # released unbilled: not usage
]


async def _project_with_charges(store: AccountStore) -> tuple[str, list[str]]:
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    project = (await store.ensure_dev_project(key, Decimal("100"))).project_id
    keys = [key[12:24], (await store.create_key(project)).key_id]
    db = store._db
    for days_ago, key_index, vendor, model, held, charged in JOBS:
        when, job = NOW - days_ago * DAY, new_job_id()
        attribution = Attribution(key_id=keys[key_index], vendor=vendor, model=model)
        async with db.write() as conn:
            await ledger.place_hold(
                db, conn, project, job, to_micros(Decimal(held)), when, attribution=attribution
            )
            await ledger.settle_hold(
                db,
                conn,
                job,
                charge_micros=to_micros(Decimal(charged)),
                reason="generated",
                project_id=None,
                now=when,
            )
    return project, keys


def _ledger_charges(url: str, project: str) -> int:
    ((total,),) = fetch_all(
        url,
        "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger_entries"
        " WHERE project_id = :p AND kind = 'charge'",
        p=project,
    )
    return int(total)


@pytest.mark.parametrize("group_by", GROUP_BY_VALUES)
async def test_every_grouping_adds_up_to_the_ledgers_charges(
    account_store: AccountStore, accounts_database_url: str, group_by: GroupBy
) -> None:
    project, _ = await _project_with_charges(account_store)

    rows = await account_store.budget_book().usage(project, NOW - 3 * DAY, NOW + DAY, group_by)

    assert (
        sum(row.charged_micros for row in rows)
        == _ledger_charges(accounts_database_url, project)
        == 2_350_001
    )
    assert sum(row.jobs for row in rows) == 5


async def test_grouping_by_day_uses_the_utc_day_of_the_charge(account_store: AccountStore) -> None:
    project, _ = await _project_with_charges(account_store)

    rows = await account_store.budget_book().usage(project, NOW - 3 * DAY, NOW + DAY, "day")

    by_day = {row.day: row.charged_micros for row in rows}
    assert by_day == {
        (NOW - 2 * DAY).date().isoformat(): 1,
        (NOW - DAY).date().isoformat(): 400_000,
        NOW.date().isoformat(): 1_950_000,
    }


async def test_grouping_by_model_and_key(account_store: AccountStore) -> None:
    project, keys = await _project_with_charges(account_store)
    book = account_store.budget_book()

    by_model = await book.usage(project, NOW - 3 * DAY, NOW + DAY, "model")
    by_key = await book.usage(project, NOW - 3 * DAY, NOW + DAY, "key")

    assert [(row.vendor, row.model, row.jobs, row.charged_micros) for row in by_model] == [
        ("luma", "ray-2", 1, 1_200_000),
        ("luma", "ray-flash-2", 1, 400_000),
        ("runway", "gen4_aleph", 1, 1),
        ("runway", "gen4_turbo", 2, 750_000),
    ]
    assert {row.key_id: row.charged_micros for row in by_key} == {keys[0]: 900_001, keys[1]: 1_450_000}


async def test_a_window_leaves_out_charges_outside_it(account_store: AccountStore) -> None:
    project, _ = await _project_with_charges(account_store)
    start = (NOW - DAY).replace(hour=0, minute=0, second=0, microsecond=0)

    rows = await account_store.budget_book().usage(project, start, start + DAY, "vendor")

    assert [(row.vendor, row.charged_micros) for row in rows] == [("luma", 400_000)]


async def test_another_projects_charges_are_not_in_the_report(account_store: AccountStore) -> None:
    await _project_with_charges(account_store)
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    empty = (await account_store.ensure_dev_project(key, Decimal("1"))).project_id

    assert await account_store.budget_book().usage(empty, NOW - 3 * DAY, NOW + DAY, "day") == []


async def test_a_charge_names_the_vendor_whose_submit_was_accepted(account_store: AccountStore) -> None:
    """After a failover the job was made by another candidate than the one the hold named."""
    key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    project = (await account_store.ensure_dev_project(key, Decimal("10"))).project_id
    job = new_job_id()
    await account_store.hold(
        project, job, Decimal("1"), attribution=Attribution(vendor="runway", model="gen4_turbo")
    )
    journal = account_store.submit_journal()
    spec = VideoSpec(prompt="a lighthouse")
    submit = SubmitRequest(job_id=job, attempt_key=f"{job}:1", spec=spec, vendor="luma", model="ray-2")
    await journal.sending(submit)
    task = VendorTask(vendor="luma", model="ray-2", task_id="t-1", submitted_at=NOW)
    await journal.accepted(submit.attempt_key, task)
    await account_store.settle(job, charge=Decimal("0.90"), reason="generated")

    rows = await account_store.budget_book().usage(project, NOW - DAY, NOW + DAY, "model")

    assert [(row.vendor, row.model, row.charged_micros) for row in rows] == [("luma", "ray-2", 900_000)]
