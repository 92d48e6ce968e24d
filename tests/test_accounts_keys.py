"""Projects and API keys in the account store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.errors import AccountsUnavailable, ActivationRateLimited, LastActiveKey
from accounts.keys import activation_bucket, client_address_hash, hash_api_key, new_api_key
from accounts.store import AccountStore
from tests.fixtures.accounts import accounts_test_settings, database_contents
from tests.fixtures.ports import free_port

OpenStore = Callable[..., Awaitable[AccountStore]]


def _address() -> str:
    """A client address in a /64 no other test uses (IPv6 is limited per /64), so rate-limit counts
    never leak between tests."""
    return "fd00:" + ":".join(secrets.token_hex(2) for _ in range(3)) + "::" + secrets.token_hex(2)


async def test_activation_returns_a_key_that_authenticates_as_the_new_project(
    account_store: AccountStore,
) -> None:
    activation = await account_store.activate_anonymous(_address())

    identity = await account_store.authenticate(activation.api_key.get_secret_value())

    assert identity is not None
    assert identity.project_id == activation.project_id
    assert identity.key_id == activation.key_id
    assert activation.balance_usd == Decimal("5.00")
    assert activation.trial_credits_usd == Decimal("5.00")


async def test_keys_have_the_public_format_with_the_key_id_inside(account_store: AccountStore) -> None:
    activation = await account_store.activate_anonymous(_address())
    api_key = activation.api_key.get_secret_value()

    assert re.fullmatch(r"ifr_pk_proj_[A-Za-z0-9_-]{32,}", api_key)
    assert api_key.startswith("ifr_pk_proj_" + activation.key_id)
    assert "**" in repr(activation)  # the key never shows up in logs of the result object


async def test_unknown_malformed_and_tampered_keys_do_not_authenticate(account_store: AccountStore) -> None:
    activation = await account_store.activate_anonymous(_address())
    real = activation.api_key.get_secret_value()
    tampered = real[:-1] + ("A" if real[-1] != "A" else "B")  # right key id, wrong secret

    assert await account_store.authenticate(new_api_key()) is None
    assert await account_store.authenticate("ifr_pk_proj_short") is None
    assert await account_store.authenticate("Bearer " + real) is None
    assert await account_store.authenticate("") is None
    assert await account_store.authenticate(tampered) is None


async def test_a_revoked_key_stops_authenticating_even_when_it_was_just_used(
    account_store: AccountStore,
) -> None:
    activation = await account_store.activate_anonymous(_address())
    old_key = activation.api_key.get_secret_value()
    assert await account_store.authenticate(old_key) is not None  # now in the verified-key cache
    await account_store.create_key(activation.project_id)

    assert await account_store.revoke_key(activation.project_id, activation.key_id) is True

    assert await account_store.authenticate(old_key) is None


async def test_key_rotation_keeps_the_project_and_lists_both_keys(account_store: AccountStore) -> None:
    activation = await account_store.activate_anonymous(_address())
    new_key = await account_store.create_key(activation.project_id)
    await account_store.revoke_key(activation.project_id, activation.key_id)

    identity = await account_store.authenticate(new_key.api_key.get_secret_value())
    account = await account_store.account(activation.project_id)

    assert identity is not None and identity.project_id == activation.project_id
    assert identity.key_id == new_key.key_id
    keys = {key.key_id: key for key in account.keys}
    assert set(keys) == {activation.key_id, new_key.key_id}
    assert keys[activation.key_id].revoked_at is not None
    assert keys[new_key.key_id].revoked_at is None


async def test_revoking_the_last_active_key_is_refused(account_store: AccountStore) -> None:
    activation = await account_store.activate_anonymous(_address())

    with pytest.raises(LastActiveKey):
        await account_store.revoke_key(activation.project_id, activation.key_id)

    assert await account_store.authenticate(activation.api_key.get_secret_value()) is not None


async def test_a_project_cannot_revoke_another_projects_key(account_store: AccountStore) -> None:
    mine = await account_store.activate_anonymous(_address())
    theirs = await account_store.activate_anonymous(_address())
    await account_store.create_key(theirs.project_id)

    assert await account_store.revoke_key(mine.project_id, theirs.key_id) is False
    assert await account_store.authenticate(theirs.api_key.get_secret_value()) is not None


async def test_revocation_reaches_other_processes_once_their_cache_expires(open_store: OpenStore) -> None:
    api_process = await open_store(api_key_cache_seconds=0)
    other_process = await open_store(api_key_cache_seconds=0)
    activation = await api_process.activate_anonymous(_address())
    await api_process.create_key(activation.project_id)
    assert await other_process.authenticate(activation.api_key.get_secret_value()) is not None

    await api_process.revoke_key(activation.project_id, activation.key_id)

    assert await other_process.authenticate(activation.api_key.get_secret_value()) is None


async def test_only_the_hash_of_a_key_is_stored(
    account_store: AccountStore, accounts_database_url: str
) -> None:
    activation = await account_store.activate_anonymous(_address())
    second = await account_store.create_key(activation.project_id)

    stored = database_contents(accounts_database_url)

    for api_key in (activation.api_key.get_secret_value(), second.api_key.get_secret_value()):
        secret = api_key[len("ifr_pk_proj_") + 12 :]
        assert api_key not in stored
        assert secret not in stored
        assert hash_api_key(api_key) in stored  # we did look where the keys live


async def test_activation_is_rate_limited_per_client_address(open_store: OpenStore) -> None:
    store = await open_store(activate_rate_limit_per_hour=2)
    address = _address()
    await store.activate_anonymous(address)
    await store.activate_anonymous(address)

    with pytest.raises(ActivationRateLimited) as limited:
        await store.activate_anonymous(address)

    assert 0 < limited.value.retry_after_seconds <= 3600
    await store.activate_anonymous(_address())  # another address is not affected


async def test_the_dev_key_becomes_an_ordinary_project_once(account_store: AccountStore) -> None:
    dev_key = new_api_key()

    first = await account_store.ensure_dev_project(dev_key, Decimal("100"))
    second = await account_store.ensure_dev_project(dev_key, Decimal("100"))

    assert first == second
    assert await account_store.authenticate(dev_key) == first
    account = await account_store.account(first.project_id)
    assert account.balance_usd == Decimal("100")  # credited once, not per start


async def test_a_revoked_dev_key_is_restored_by_the_launcher(account_store: AccountStore) -> None:
    dev_key = new_api_key()
    identity = await account_store.ensure_dev_project(dev_key, Decimal("1"))
    await account_store.create_key(identity.project_id)
    await account_store.revoke_key(identity.project_id, identity.key_id)

    await account_store.ensure_dev_project(dev_key, Decimal("1"))

    assert await account_store.authenticate(dev_key) == identity


async def test_a_malformed_dev_key_is_rejected(account_store: AccountStore) -> None:
    with pytest.raises(ValueError, match="ifr_pk_proj_"):
        await account_store.ensure_dev_project("dev-secret", Decimal("1"))


async def test_opening_a_store_on_a_closed_port_raises_accounts_unavailable(tmp_path: Path) -> None:
    settings = accounts_test_settings(tmp_path)
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"

    with pytest.raises(AccountsUnavailable) as unavailable:
        await AccountStore.open(closed, settings=settings)

    assert unavailable.value.retry_after_seconds == 7


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_an_activation_counts_against_the_ipv4_address_or_the_ipv6_64(address: str, bucket: str) -> None:
    assert activation_bucket(address) == bucket
    assert client_address_hash(address) == client_address_hash(bucket)
