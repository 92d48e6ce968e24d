"""``client.accounts``: create an anonymous account with trial credits, and read the balance."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Generic, TypeVar, cast

from infrai.calls import ClientConfig, call
from infrai.credentials import read_credentials, write_credentials
from infrai.effects import Plan
from infrai.models import Account, Activation
from infrai.video import PlanRunner

ActivationT = TypeVar("ActivationT")
AccountT = TypeVar("AccountT")


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


class AccountsResource(Generic[ActivationT, AccountT]):
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


Accounts = AccountsResource[Activation, Account]
AsyncAccounts = AccountsResource[Awaitable[Activation], Awaitable[Account]]
