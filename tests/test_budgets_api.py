"""Budgets and usage at the HTTP boundary, on an API whose accounts live in PostgreSQL and whose only
vendor (Runway, on its emulator) is priced.

Credits are held before a workflow starts and no worker runs, so accepted jobs stay held: spend is
their open holds. A job is settled the way the worker's ledger activity settles it (``store.settle`` on
the same database), so the usage report reads real charges.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from infrai import BudgetExceededError, Infrai, cli

from accounts.money import format_usd
from accounts.store import AccountStore
from core.models import Aspect, Prefer, Resolution, VideoSpec
from core.settings import Settings
from tests.emulators import runway
from tests.emulators.server import EmulatorServer
from tests.fixtures.accounts import DatabaseFactory
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from vendors.catalog import load_catalog
from vendors.router import plan_route

MODEL = "gen4.5"
REQUEST = {"prompt": "a lighthouse in fog", "duration_seconds": 5, "resolution": "720p", "model": MODEL}
ATTEMPTS = 100
ACCEPTABLE = 10


def _price() -> Decimal:
    spec = VideoSpec(prompt="x", duration_seconds=5, aspect=Aspect.LANDSCAPE, resolution=Resolution.P720)
    (candidate,) = plan_route(spec, Prefer.BALANCED, None, MODEL, load_catalog(), {"runway"})
    return candidate.estimated_cost_usd


PRICE = _price()


@pytest.fixture(scope="module")
def postgres_url(database_factory: DatabaseFactory) -> str:
    return database_factory.new("postgresql")


@pytest.fixture(scope="module")
def budget_stack(
    temporal_server: TemporalServer,
    vendor_emulators: dict[str, EmulatorServer],
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("budgets"),
        ("api",),
        RUNWAYML_API_SECRET=runway.API_KEY,
        INFRAI_RUNWAY_BASE_URL=vendor_emulators["runway"].base_url,
        INFRAI_DATABASE_URL=postgres_url,
        INFRAI_TRIAL_CREDITS_USD="100.00",
    ) as api:
        yield api


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[AccountStore]:
    opened = await AccountStore.open(postgres_url, settings=Settings(database_pool_size=2))
    yield opened
    await opened.aclose()


def _activate(stack: Stack) -> tuple[str, str]:
    """A new project's key and its key id."""
    body = httpx.post(f"{stack.api_url}/v1/accounts/activate", timeout=30).json()
    return body["api_key"], body["key_id"]


def _put(stack: Stack, key: str, path: str, **caps: Any) -> dict[str, Any]:
    with stack.client(key) as client:
        response = client.put(path, json=caps)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _generate_all(api_url: str, key: str, attempts: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=attempts)
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=120, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/v1/video/generate", json=REQUEST) for _ in range(attempts))
        )


def test_100_simultaneous_generates_against_a_daily_cap_accept_exactly_what_it_covers(
    budget_stack: Stack,
) -> None:
    key, _ = _activate(budget_stack)
    cap = PRICE * ACCEPTABLE + PRICE / 2  # room for 10 and a half jobs: floor(cap / price) == 10
    _put(budget_stack, key, "/v1/account/budgets", daily_usd=format_usd(cap))

    started = time.monotonic()
    responses = asyncio.run(_generate_all(budget_stack.api_url, key, ATTEMPTS))
    elapsed = time.monotonic() - started

    statuses = Counter(response.status_code for response in responses)
    print(
        f"\n{ATTEMPTS} generates, daily cap {format_usd(cap)} at {PRICE}: {dict(statuses)} in {elapsed:.2f}s"
    )
    assert statuses == Counter({202: ACCEPTABLE, 402: ATTEMPTS - ACCEPTABLE})
    refusals = [response.json() for response in responses if response.status_code == 402]
    assert {problem["code"] for problem in refusals} == {"budget_exceeded"}
    assert {problem["remaining_usd"] for problem in refusals} == {format_usd(PRICE / 2)}
    with budget_stack.client(key) as client:
        budget = client.get("/v1/account/budgets").json()["project"]
        account = client.get("/v1/account").json()
    assert Decimal(budget["spent_today_usd"]) == Decimal(account["held_usd"]) == PRICE * ACCEPTABLE
    assert budget["running_jobs"] == ACCEPTABLE


def test_a_generate_past_the_cap_is_a_402_problem_with_the_cap_and_what_remains(budget_stack: Stack) -> None:
    key, _ = _activate(budget_stack)
    _put(budget_stack, key, "/v1/account/budgets", monthly_usd=format_usd(PRICE * 3 / 2))
    assert budget_stack.generate(key, **REQUEST).status_code == 202

    refused = budget_stack.generate(key, **REQUEST)

    assert refused.status_code == 402
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert {k: problem[k] for k in ("code", "scope", "key_id", "period", "cap_usd", "remaining_usd")} == {
        "code": "budget_exceeded",
        "scope": "project",
        "key_id": None,
        "period": "month",
        "cap_usd": format_usd(PRICE * 3 / 2),
        "remaining_usd": format_usd(PRICE / 2),
    }
    assert problem["required_usd"] == format_usd(PRICE)
    assert datetime.fromisoformat(problem["resets_at"]) > datetime.now(UTC)


def test_a_keys_cap_refuses_that_key_while_another_key_goes_on(budget_stack: Stack) -> None:
    key, key_id = _activate(budget_stack)
    with budget_stack.client(key) as client:
        other = client.post("/v1/account/keys").json()["api_key"]
    budget = _put(budget_stack, key, f"/v1/account/keys/{key_id}/budget", daily_usd=format_usd(PRICE))
    assert (budget["scope"], budget["key_id"], budget["daily_usd"]) == ("key", key_id, format_usd(PRICE))
    assert budget_stack.generate(key, **REQUEST).status_code == 202

    refused = budget_stack.generate(key, **REQUEST)
    elsewhere = budget_stack.generate(other, **REQUEST)

    assert refused.status_code == 402
    assert (refused.json()["scope"], refused.json()["key_id"], refused.json()["remaining_usd"]) == (
        "key",
        key_id,
        "0.00",
    )
    assert elsewhere.status_code == 202


def test_a_concurrency_cap_is_a_429_problem(budget_stack: Stack) -> None:
    key, _ = _activate(budget_stack)
    _put(budget_stack, key, "/v1/account/budgets", max_concurrent_jobs=1)
    assert budget_stack.generate(key, **REQUEST).status_code == 202

    refused = budget_stack.generate(key, **REQUEST)

    assert refused.status_code == 429
    problem = refused.json()
    assert (problem["code"], problem["scope"], problem["limit"], problem["running"]) == (
        "concurrency_limit_exceeded",
        "project",
        1,
        1,
    )


def test_another_projects_key_has_no_budget_here(budget_stack: Stack) -> None:
    key, _ = _activate(budget_stack)
    _, stranger_key_id = _activate(budget_stack)

    with budget_stack.client(key) as client:
        read = client.get(f"/v1/account/keys/{stranger_key_id}/budget")
        written = client.put(f"/v1/account/keys/{stranger_key_id}/budget", json={"daily_usd": "1.00"})

    assert (read.status_code, written.status_code) == (404, 404)
    assert read.json()["code"] == written.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "caps", [{"daily_usd": 5}, {"daily_usd": "-1.00"}, {"daily_usd": "1.0000001"}, {"daily": "1.00"}]
)
def test_a_malformed_budget_is_a_422_problem(budget_stack: Stack, caps: dict[str, Any]) -> None:
    key, _ = _activate(budget_stack)
    with budget_stack.client(key) as client:
        response = client.put("/v1/account/budgets", json=caps)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"


def test_a_budget_sent_as_a_json_number_is_told_the_decimal_string_it_wants(budget_stack: Stack) -> None:
    key, _ = _activate(budget_stack)
    with budget_stack.client(key) as client:
        response = client.put("/v1/account/budgets", json={"daily_usd": 5, "monthly_usd": 12.5})
        unchanged = client.get("/v1/account/budgets")
    assert response.status_code == 422
    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert '"5.00"' in messages["daily_usd"] and "decimal string" in messages["daily_usd"]
    assert '"12.50"' in messages["monthly_usd"]
    assert unchanged.json()["project"]["daily_usd"] is None


async def test_usage_groups_the_settled_charges_and_its_csv_says_the_same(
    budget_stack: Stack, store: AccountStore
) -> None:
    key, key_id = _activate(budget_stack)
    jobs = [budget_stack.generate(key, **REQUEST).json()["job_id"] for _ in range(3)]
    for job_id, charge in zip(jobs, ("0.10", "0.25", "0"), strict=True):
        await store.settle(job_id, charge=Decimal(charge), reason="generated")
    today = datetime.now(UTC).date().isoformat()
    query = {"from": today, "to": today}

    with budget_stack.client(key) as client:
        by_model = client.get("/v1/account/usage", params={**query, "group_by": "model"}).json()
        by_key = client.get("/v1/account/usage", params={**query, "group_by": "key"}).json()
        as_csv = client.get("/v1/account/usage", params={**query, "group_by": "day", "format": "csv"})
        accepted = client.get("/v1/account/usage", params=query, headers={"Accept": "text/csv"})

    assert [
        (line["vendor"], line["model"], line["jobs"], line["charged_usd"]) for line in by_model["data"]
    ] == [("runway", MODEL, 2, "0.35")]
    assert [(line["key_id"], line["charged_micros"]) for line in by_key["data"]] == [(key_id, 350_000)]
    assert by_key["total"] == {"jobs": 2, "charged_usd": "0.35", "charged_micros": 350_000}
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows == [{"day": today, "jobs": "2", "charged_usd": "0.35", "charged_micros": "350000"}]
    assert accepted.headers["content-type"].startswith("text/csv")


def test_usage_is_the_callers_projects_only(budget_stack: Stack) -> None:
    key, _ = _activate(budget_stack)
    with budget_stack.client(key) as client:
        report = client.get("/v1/account/usage", params={"group_by": "key"}).json()
    assert (report["data"], report["total"]["charged_micros"]) == ([], 0)


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "week"},
        {"from": "2026-13-01"},
        {"from": "2026-12-07", "to": "2026-12-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"format": "xml"},
    ],
)
def test_bad_usage_parameters_are_a_422_problem(budget_stack: Stack, params: dict[str, str]) -> None:
    key, _ = _activate(budget_stack)
    with budget_stack.client(key) as client:
        response = client.get("/v1/account/usage", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"


async def test_the_python_sdk_and_cli_set_budgets_meet_the_402_and_print_usage(
    budget_stack: Stack, store: AccountStore
) -> None:
    key, key_id = _activate(budget_stack)
    client = Infrai(api_key=key, base_url=budget_stack.api_url, max_retries=0)
    client.accounts.set_budget(daily_usd=PRICE, key_id=key_id)
    job = client.video.generate(REQUEST["prompt"], duration_seconds=5, model=MODEL)
    await store.settle(job.job_id, charge=PRICE, reason="generated")

    with pytest.raises(BudgetExceededError) as refused:
        client.video.generate(REQUEST["prompt"], duration_seconds=5, model=MODEL)
    budgets = client.accounts.budgets()
    usage = client.accounts.usage(group_by="key")
    table, budget_lines = io.StringIO(), io.StringIO()
    exit_codes = (
        cli.main(["usage", "--group-by", "model"], client=client, stdout=table),
        cli.main(["budget"], client=client, stdout=budget_lines),
    )

    assert (refused.value.status, refused.value.problem["scope"]) == (402, "key")
    assert budgets.key_budgets[0].daily_usd == PRICE
    assert budgets.key_budgets[0].spent_today_usd == PRICE
    assert [(line.key_id, line.charged_usd) for line in usage.data] == [(key_id, PRICE)]
    assert exit_codes == (0, 0)
    lines = table.getvalue().splitlines()
    assert lines[1].split() == ["vendor", "model", "jobs", "charged_usd"]
    assert lines[2].split() == ["runway", MODEL, "1", format_usd(PRICE)]
    assert lines[3].split() == ["total", "1", format_usd(PRICE)]
    assert f"key {key_id}" in budget_lines.getvalue()
    client.close()
