"""The account routes over HTTP, in a small app assembled the way the API assembles them."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.engine import make_url

from accounts.rate_limits import MemoryCounter, RateLimiter
from accounts.store import AccountStore
from api.deps import CurrentProject, get_accounts
from api.domain_problems import install_account_error_handlers
from api.problems import install_problem_handlers
from api.routes.accounts import router
from core.ids import new_job_id
from core.settings import Settings
from tests.fixtures.accounts import DatabaseFactory, TcpRelay, accounts_test_settings

OpenStore = Callable[..., Awaitable[AccountStore]]
MONEY = re.compile(r"^\d+\.\d{2,6}$")


def build_app(store: AccountStore, settings: Settings) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_account_error_handlers(app)
    app.include_router(router)

    # Stands in for the generate route: an authenticated request that places a hold.
    @app.post("/test/holds/{job_id}")
    async def hold(job_id: str, amount: str, project: CurrentProject, request: Request) -> dict[str, str]:
        await get_accounts(request).hold(project.project_id, job_id, Decimal(amount))
        return {"held": amount}

    app.state.accounts = store
    app.state.settings = settings
    app.state.limiter = RateLimiter([], MemoryCounter())  # request limits have their own tests
    return app


def unused_ipv6_network() -> str:
    """The first 64 bits of an IPv6 address no other test uses (``fd00:1:2:3``): IPv6 is limited per /64."""
    return "fd00:" + ":".join(secrets.token_hex(2) for _ in range(3))


def client_for(app: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    address = address or unused_ipv6_network() + "::1"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://infrai.test")


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


@pytest.fixture
async def http(account_store: AccountStore, accounts_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(account_store, accounts_settings)) as client:
        yield client


async def activate(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/v1/accounts/activate")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_activation_answers_201_with_a_key_that_works(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/accounts/activate")

    body = response.json()
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert set(body) == {"project_id", "key_id", "api_key", "balance_usd", "trial_credits_usd"}
    assert (body["balance_usd"], body["trial_credits_usd"]) == ("5.00", "5.00")
    account = await http.get("/v1/account", headers=bearer(body["api_key"]))
    assert account.status_code == 200
    assert account.json()["project_id"] == body["project_id"]


async def test_activation_past_the_hourly_limit_is_429_with_retry_after(
    open_store: OpenStore, tmp_path: Any
) -> None:
    settings = accounts_test_settings(tmp_path, activate_rate_limit_per_hour=1)
    app = build_app(await open_store(activate_rate_limit_per_hour=1), settings)
    async with client_for(app, address=unused_ipv6_network() + "::1") as client:
        assert (await client.post("/v1/accounts/activate")).status_code == 201

        response = await client.post("/v1/accounts/activate")

    assert_problem(response, 429, "rate_limit_exceeded")
    assert response.json()["limit_scope"] == "address"
    assert 0 < int(response.headers["retry-after"]) <= 3600


async def activate_from(app: FastAPI, address: str) -> httpx.Response:
    async with client_for(app, address=address) as client:
        return await client.post("/v1/accounts/activate")


async def test_addresses_of_one_ipv6_64_share_one_activation_limit(
    open_store: OpenStore, tmp_path: Any
) -> None:
    settings = accounts_test_settings(tmp_path, activate_rate_limit_per_hour=1)
    app = build_app(await open_store(activate_rate_limit_per_hour=1), settings)
    network = unused_ipv6_network()
    assert (await activate_from(app, f"{network}::1")).status_code == 201

    same_64 = await activate_from(app, f"{network}:ffff:{secrets.token_hex(2)}:{secrets.token_hex(2)}:9")
    other_64 = await activate_from(app, f"{unused_ipv6_network()}::1")

    assert_problem(same_64, 429, "rate_limit_exceeded")
    assert 0 < int(same_64.headers["retry-after"]) <= 3600
    assert other_64.status_code == 201, other_64.text


async def test_ipv4_addresses_are_limited_one_by_one(open_store: OpenStore, tmp_path: Any) -> None:
    settings = accounts_test_settings(tmp_path, activate_rate_limit_per_hour=1)
    app = build_app(await open_store(activate_rate_limit_per_hour=1), settings)
    subnet = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    assert (await activate_from(app, f"{subnet}.1")).status_code == 201

    neighbour = await activate_from(app, f"{subnet}.2")
    again = await activate_from(app, f"{subnet}.1")
    mapped = await activate_from(app, f"::ffff:{subnet}.1")  # a dual-stack socket's view of the same

    assert neighbour.status_code == 201, neighbour.text
    assert_problem(again, 429, "rate_limit_exceeded")
    assert_problem(mapped, 429, "rate_limit_exceeded")


async def test_past_the_global_hourly_cap_every_address_gets_429_with_retry_after(
    accounts_database_url: str, database_factory: DatabaseFactory, tmp_path: Any
) -> None:
    # A database of its own: the global cap counts every activation in it, other tests' included.
    backend = make_url(accounts_database_url).get_backend_name()
    settings = accounts_test_settings(tmp_path, activate_global_limit_per_hour=2)
    store = await AccountStore.open(database_factory.new(backend), settings=settings)
    try:
        app = build_app(store, settings)
        first = await activate_from(app, f"{unused_ipv6_network()}::1")
        second = await activate_from(app, f"10.{secrets.randbelow(256)}.0.1")

        third = await activate_from(app, f"{unused_ipv6_network()}::1")
    finally:
        await store.aclose()

    assert (first.status_code, second.status_code) == (201, 201)
    body = assert_problem(third, 429, "rate_limit_exceeded")
    assert body["limit_scope"] == "global"
    assert 3590 <= int(third.headers["retry-after"]) <= 3600  # the oldest of the two frees a slot in ~1 h


async def test_the_account_shows_balance_holds_and_usage_as_money_strings(
    http: httpx.AsyncClient, account_store: AccountStore
) -> None:
    activation = await activate(http)
    charged_job, held_job = new_job_id(), new_job_id()
    await account_store.hold(activation["project_id"], charged_job, Decimal("1.25"))
    await account_store.settle(charged_job, charge=Decimal("0.8"), reason="succeeded")
    await account_store.hold(activation["project_id"], held_job, Decimal("0.125"))

    response = await http.get("/v1/account", headers=bearer(activation["api_key"]))

    body = response.json()
    assert response.status_code == 200
    assert (body["balance_usd"], body["held_usd"], body["available_usd"]) == ("4.20", "0.125", "4.075")
    assert body["usage"] == {"jobs_charged": 1, "charged_usd": "0.80"}
    assert [key["key_id"] for key in body["keys"]] == [activation["key_id"]]
    assert body["keys"][0]["revoked_at"] is None
    assert all(MONEY.match(body[field]) for field in ("balance_usd", "held_usd", "available_usd"))


async def test_missing_malformed_unknown_and_revoked_keys_all_get_the_same_401(
    http: httpx.AsyncClient,
) -> None:
    activation = await activate(http)
    second = (await http.post("/v1/account/keys", headers=bearer(activation["api_key"]))).json()
    await http.delete(f"/v1/account/keys/{activation['key_id']}", headers=bearer(second["api_key"]))
    unknown_key = "ifr_pk_proj_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)

    missing = await http.get("/v1/account")
    malformed = await http.get("/v1/account", headers=bearer("not-a-key"))
    unknown = await http.get("/v1/account", headers=bearer(unknown_key))
    revoked = await http.get("/v1/account", headers=bearer(activation["api_key"]))

    assert_problem(missing, 401, "unauthorized")
    assert assert_problem(malformed, 401, "unauthorized") == assert_problem(unknown, 401, "unauthorized")
    assert assert_problem(revoked, 401, "unauthorized") == unknown.json()
    assert activation["api_key"] not in revoked.text


async def test_rotating_keys_over_http(http: httpx.AsyncClient) -> None:
    activation = await activate(http)
    old = bearer(activation["api_key"])

    created = await http.post("/v1/account/keys", headers=old)
    new_key = created.json()
    revoked = await http.delete(
        f"/v1/account/keys/{activation['key_id']}", headers=bearer(new_key["api_key"])
    )

    assert created.status_code == 201
    assert set(new_key) == {"key_id", "api_key"}
    assert created.headers["cache-control"] == "no-store"
    assert revoked.status_code == 204
    assert (await http.get("/v1/account", headers=old)).status_code == 401
    account = await http.get("/v1/account", headers=bearer(new_key["api_key"]))
    keys = {key["key_id"]: key for key in account.json()["keys"]}
    assert keys[activation["key_id"]]["revoked_at"] is not None
    assert keys[new_key["key_id"]]["revoked_at"] is None


async def test_a_key_may_revoke_itself(http: httpx.AsyncClient) -> None:
    activation = await activate(http)
    own = bearer(activation["api_key"])
    await http.post("/v1/account/keys", headers=own)

    response = await http.delete(f"/v1/account/keys/{activation['key_id']}", headers=own)

    assert response.status_code == 204
    assert_problem(await http.get("/v1/account", headers=own), 401, "unauthorized")


async def test_revoking_the_last_active_key_is_409(http: httpx.AsyncClient) -> None:
    activation = await activate(http)
    own = bearer(activation["api_key"])

    response = await http.delete(f"/v1/account/keys/{activation['key_id']}", headers=own)

    assert_problem(response, 409, "last_active_key")
    assert (await http.get("/v1/account", headers=own)).status_code == 200


async def test_revoking_a_key_of_another_project_is_404(http: httpx.AsyncClient) -> None:
    mine, theirs = await activate(http), await activate(http)

    response = await http.delete(f"/v1/account/keys/{theirs['key_id']}", headers=bearer(mine["api_key"]))

    assert_problem(response, 404, "not_found")


async def test_a_hold_beyond_the_credits_is_402_insufficient_credits(http: httpx.AsyncClient) -> None:
    activation = await activate(http)

    response = await http.post(
        f"/test/holds/{new_job_id()}", params={"amount": "6.00"}, headers=bearer(activation["api_key"])
    )

    body = assert_problem(response, 402, "insufficient_credits")
    assert (body["required_usd"], body["available_usd"]) == ("6.00", "5.00")


async def test_a_database_outage_is_503_with_retry_after(
    postgres_relay_url: tuple[str, TcpRelay], tmp_path: Any
) -> None:
    url, relay = postgres_relay_url
    settings = accounts_test_settings(tmp_path, api_key_cache_seconds=0)
    store = await AccountStore.open(url, settings=settings)
    try:
        async with client_for(build_app(store, settings)) as client:
            activation = await activate(client)
            await relay.cut()

            account = await client.get("/v1/account", headers=bearer(activation["api_key"]))
            activated = await client.post("/v1/accounts/activate")
            await relay.restore()
            recovered = await client.get("/v1/account", headers=bearer(activation["api_key"]))
    finally:
        await store.aclose()

    for response in (account, activated):
        assert_problem(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == str(settings.accounts_retry_after_seconds)
    assert recovered.status_code == 200
