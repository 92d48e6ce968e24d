"""``client.accounts``: an anonymous account with trial credits, the balance, budgets and usage."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote, urlencode

from infrai.calls import ClientConfig, call, send
from infrai.credentials import read_credentials, write_credentials
from infrai.effects import Plan
from infrai.models import Account, Activation, Budget, Budgets, Usage
from infrai.video import PlanRunner

ActivationT = TypeVar("ActivationT")
AccountT = TypeVar("AccountT")
BudgetT = TypeVar("BudgetT")
BudgetsT = TypeVar("BudgetsT")
UsageT = TypeVar("UsageT")
TextT = TypeVar("TextT")

Money = Decimal | str | int


def activate_plan(config: ClientConfig, force: bool) -> Plan[Activation]:
    saved = read_credentials(config.credentials_path)
    if saved.get("api_key") and not force:
        return Activation(
            project_id=saved.get("project_id", ""),
            key_id=saved.get("key_id"),
            api_key=saved["api_key"],
            created=False,
        )
    # Not repeatable: a repeat after the server saw the request would open a second account. Only a
    # connection that was never made, or a 429, is retried (see calls.send).
    request = config.request("POST", "/v1/accounts/activate", authenticated=False)
    activation = yield from call(config, request, Activation, repeatable=False)
    fields = {"api_key": activation.api_key, "project_id": activation.project_id, "base_url": config.base_url}
    if activation.key_id:
        fields["key_id"] = activation.key_id
    write_credentials(config.credentials_path, fields)
    config.forget_api_key()
    return activation


def account_plan(config: ClientConfig) -> Plan[Account]:
    return (yield from call(config, config.request("GET", "/v1/account"), Account, repeatable=True))


def _usd(amount: Money | None) -> str | None:
    """Money goes out as a decimal string; a float has lost its cents already, so it is refused."""
    if amount is None:
        return None
    if isinstance(amount, float) or not isinstance(amount, (Decimal, str, int)):
        raise TypeError(f"money must be Decimal, str or int, got {type(amount).__name__}")
    return f"{Decimal(amount):f}"


def _budget_path(key_id: str | None) -> str:
    return "/v1/account/budgets" if key_id is None else f"/v1/account/keys/{quote(key_id, safe='')}/budget"


def _usage_path(start: date | str | None, end: date | str | None, group_by: str, csv: bool) -> str:
    query = {"from": start, "to": end, "group_by": group_by, "format": "csv" if csv else None}
    return "/v1/account/usage?" + urlencode({name: str(value) for name, value in query.items() if value})


def usage_csv_plan(config: ClientConfig, path: str) -> Plan[str]:
    response = yield from send(config, config.request("GET", path), repeatable=True)
    return response.text


class AccountsResource(Generic[ActivationT, AccountT, BudgetT, BudgetsT, UsageT, TextT]):
    def __init__(self, config: ClientConfig, run: PlanRunner) -> None:
        self._config = config
        self._run = run

    def activate(self, *, force: bool = False) -> ActivationT:
        """Create an anonymous project with trial credits and save its key to the credentials file.

        When the file already holds a key, that key is returned (``created=False``) and no second
        account is made, unless ``force=True``. The client then resolves its key again, so it uses
        the new one unless an ``api_key`` argument or ``INFRAI_API_KEY`` takes precedence.
        """
        return cast(ActivationT, self._run(activate_plan(self._config, force)))

    def retrieve(self) -> AccountT:
        """The project's balance: ``balance_usd``, ``held_usd`` (held by running jobs), ``available_usd``."""
        return cast(AccountT, self._run(account_plan(self._config)))

    def budgets(self) -> BudgetsT:
        """The project's budget (``.project``) and each active key's (``.key_budgets``), with today's and
        this month's spend and the running jobs."""
        request = self._config.request("GET", "/v1/account/budgets")
        return cast(BudgetsT, self._run(call(self._config, request, Budgets, repeatable=True)))

    def set_budget(
        self,
        *,
        daily_usd: Money | None = None,
        monthly_usd: Money | None = None,
        max_concurrent_jobs: int | None = None,
        key_id: str | None = None,
    ) -> BudgetT:
        """Replace the project's caps, or with ``key_id`` one key's. A cap left as None is removed.

        A generate that would pass a spend cap raises ``BudgetExceededError`` (402), one past a
        concurrency cap ``ConcurrencyLimitError`` (429, after the usual retries)."""
        body: dict[str, Any] = {
            "daily_usd": _usd(daily_usd),
            "monthly_usd": _usd(monthly_usd),
            "max_concurrent_jobs": max_concurrent_jobs,
        }
        request = self._config.request("PUT", _budget_path(key_id), json=body)
        return cast(BudgetT, self._run(call(self._config, request, Budget, repeatable=True)))

    def usage(
        self, *, start: date | str | None = None, end: date | str | None = None, group_by: str = "day"
    ) -> UsageT:
        """What the project was charged from ``start`` to ``end`` (UTC days, both included; default
        this month), grouped by ``"day"``, ``"vendor"``, ``"model"`` or ``"key"``."""
        request = self._config.request("GET", _usage_path(start, end, group_by, csv=False))
        return cast(UsageT, self._run(call(self._config, request, Usage, repeatable=True)))

    def usage_csv(
        self, *, start: date | str | None = None, end: date | str | None = None, group_by: str = "day"
    ) -> TextT:
        """The same report as CSV text (a header line, then one line per group)."""
        return cast(
            TextT, self._run(usage_csv_plan(self._config, _usage_path(start, end, group_by, csv=True)))
        )


Accounts = AccountsResource[Activation, Account, Budget, Budgets, Usage, str]
AsyncAccounts = AccountsResource[
    Awaitable[Activation],
    Awaitable[Account],
    Awaitable[Budget],
    Awaitable[Budgets],
    Awaitable[Usage],
    Awaitable[str],
]
