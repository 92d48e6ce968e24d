"""The playground's account panels in a real headless browser: the project's budget set and read back,
refused generates that say why, the month's usage from the ledger, and failed webhook deliveries listed
and sent again.

One stack for the module, with the priced vendors on their emulators (so jobs cost money and budgets
bite), the session's webhook receiver let through the URL guard, and deliveries given up after a few
seconds. Every test activates a project of its own, so caps never reach another test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.vendor_emulators import emulator_environment
from tests.fixtures.webhook_receiver import WebhookReceiver

WAIT_MS = 120_000
RUNWAY = {"prompt": "a lighthouse in fog", "duration_seconds": 5, "vendor": "runway", "model": "gen4.5"}


@pytest.fixture(scope="module")
def account_stack(
    temporal_server: TemporalServer,
    vendor_emulators: dict[str, EmulatorServer],
    webhook_receiver: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("playground-account"),
        **emulator_environment(vendor_emulators),
        INFRAI_TRIAL_CREDITS_USD="100.00",
        INFRAI_URL_ALLOWLIST=f"127.0.0.1:{webhook_receiver.port}",
        INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
        INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS="1",
        INFRAI_WEBHOOK_RETRY_FOR_SECONDS="3",
        INFRAI_WEBHOOK_TIMEOUT_SECONDS="5",
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _plain_emulators(vendor_emulators: dict[str, EmulatorServer]) -> None:
    """The session's emulators answer plainly here, whatever scenario an earlier test left set."""
    for server in vendor_emulators.values():
        server.reset()


def _open(browser: Browser, stack: Stack, key: str) -> Page:
    """The playground using ``key`` (pasted, as a person would)."""
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.api_url + "/")
    page.fill("#api-key", key)
    page.click("#save-key")
    expect(page.locator("#budget-running")).not_to_have_text("\u2013")  # the budget has loaded
    return page


def _get(stack: Stack, key: str, path: str, **params: Any) -> dict[str, Any]:
    with stack.client(key) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _failed_messages(stack: Stack, key: str) -> list[str]:
    listed = _get(stack, key, "/v1/account/webhook-deliveries", outcome="failed")["data"]
    return [message["message_id"] for message in listed]


def _save_caps(page: Page, daily: str = "", monthly: str = "", concurrency: str = "") -> None:
    page.fill("#cap-daily", daily)
    page.fill("#cap-monthly", monthly)
    page.fill("#cap-concurrency", concurrency)
    page.click("#save-budget")
    expect(page.locator("#budget-status")).to_have_text("Budget saved.", timeout=WAIT_MS)


def test_caps_saved_in_the_playground_are_the_projects_budget(browser: Browser, account_stack: Stack) -> None:
    key = account_stack.activate()
    page = _open(browser, account_stack, key)
    expect(page.locator("#budget-daily")).to_have_text("none")
    _save_caps(page, daily="12.5", monthly="100", concurrency="3")
    expect(page.locator("#budget-daily")).to_have_text("$12.50")
    expect(page.locator("#budget-concurrency")).to_have_text("3")
    budget = _get(account_stack, key, "/v1/account/budgets")["project"]
    assert (budget["daily_usd"], budget["monthly_usd"], budget["max_concurrent_jobs"]) == (
        "12.50",
        "100.00",
        3,
    )

    # A save replaces the whole budget: the emptied field is no cap any more, the others stay.
    page.fill("#cap-daily", "")
    page.click("#save-budget")
    expect(page.locator("#budget-daily")).to_have_text("none")
    budget = _get(account_stack, key, "/v1/account/budgets")["project"]
    assert (budget["daily_usd"], budget["monthly_usd"], budget["max_concurrent_jobs"]) == (None, "100.00", 3)
    page.close()


def test_a_generate_past_the_daily_cap_shows_the_budget_problem(
    browser: Browser, account_stack: Stack
) -> None:
    key = account_stack.activate()
    page = _open(browser, account_stack, key)
    _save_caps(page, daily="0.01")
    page.fill("#prompt", "a lighthouse in fog")
    page.fill("#duration", "5")
    page.select_option("#model", "runway/gen4.5")
    page.click("#generate")
    error = page.locator("#generate-error")
    expect(error).to_contain_text(
        "budget_exceeded: The project's daily budget of 0.01 USD has 0.01 USD left", timeout=WAIT_MS
    )
    expect(error).to_contain_text("resets")
    assert _get(account_stack, key, "/v1/video/jobs")["data"] == []
    page.close()


def test_a_generate_past_the_concurrency_cap_shows_the_limit(browser: Browser, account_stack: Stack) -> None:
    page = _open(browser, account_stack, account_stack.activate())
    _save_caps(page, concurrency="0")
    page.fill("#prompt", "a kite that may not start")
    page.click("#generate")
    expect(page.locator("#generate-error")).to_contain_text(
        "concurrency_limit_exceeded: The project runs 0 jobs and may run 0", timeout=WAIT_MS
    )
    page.close()


def test_the_usage_table_shows_what_the_ledger_charged(browser: Browser, account_stack: Stack) -> None:
    key = account_stack.activate()
    response = account_stack.generate(key, **RUNWAY)
    assert response.status_code == 202, response.text
    job = account_stack.wait_final(response.json()["job_id"], key=key)
    assert job["state"] == "succeeded", job
    report = _get(account_stack, key, "/v1/account/usage", group_by="vendor")
    assert report["total"]["jobs"] == 1 and report["total"]["charged_usd"] == job["cost"]["settled_usd"]

    page = _open(browser, account_stack, key)
    page.select_option("#usage-group", "vendor")
    page.click("#show-usage")
    rows = page.locator("#usage tbody tr")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.locator("td")).to_have_text(["runway", "1", job["cost"]["settled_usd"]])
    expect(page.locator("#usage tfoot")).to_contain_text(job["cost"]["settled_usd"])
    expect(page.locator("#budget-month")).not_to_have_text("$0.00")  # the spend counts against the budget
    page.close()


def test_a_failed_delivery_is_listed_and_redelivered(
    browser: Browser, account_stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    path = "/playground/failing"
    webhook_receiver.answer(path, 500)
    key = account_stack.activate()
    response = account_stack.generate(key, **RUNWAY, webhook_url=webhook_receiver.url(path))
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert account_stack.wait_final(job_id, key=key)["state"] == "succeeded"
    message_id = f"msg_{job_id}_succeeded"
    for _ in range(300):  # its first attempt is recorded once the receiver has answered
        if _failed_messages(account_stack, key):
            break
        time.sleep(0.1)

    page = _open(browser, account_stack, key)
    row = page.locator(f'#failed-deliveries tr[data-message="{message_id}"]')
    expect(row).to_contain_text(job_id, timeout=WAIT_MS)
    expect(row).to_contain_text("failed 500")

    row.get_by_role("button", name="Redeliver").click()  # the receiver is still failing
    expect(row.locator("td").nth(4)).to_have_text("redelivered: failed (500)", timeout=WAIT_MS)
    webhook_receiver.answer(path, 200)
    row.get_by_role("button", name="Redeliver").click()
    expect(row.locator("td").nth(4)).to_have_text("redelivered: delivered (200)", timeout=WAIT_MS)
    delivered = [hook for hook in webhook_receiver.received(path) if hook.answered == 200]
    assert delivered and delivered[-1].headers["webhook-id"] == message_id

    page.click("#refresh-deliveries")  # delivered: no longer a failed message
    expect(page.locator("#deliveries-status")).to_have_text("No failed deliveries.", timeout=WAIT_MS)
    assert _failed_messages(account_stack, key) == []
    page.close()
