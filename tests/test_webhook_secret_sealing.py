"""Webhook signing secrets are sealed at rest: the accounts DB (SQLite and PostgreSQL) holds no secret in
plain text, a sealed secret opens only with its key and for its own project, keys rotate, and rows
stored in plain text before sealing are sealed by migration 0005 and read back unchanged."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accounts.migrate import HEAD_REVISION, VERSION_TABLE, alembic_config
from accounts.sealing import KEY_FILENAME, SealingError, SecretSealer, is_sealed, parse_sealing_keys
from accounts.store import AccountStore
from accounts.webhooks import SEALING_PURPOSE, new_webhook_secret
from tests.fixtures.accounts import (
    BACKENDS,
    DatabaseFactory,
    accounts_test_settings,
    database_contents,
    fetch_all,
)


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def _stored_secret(url: str, project_id: str) -> str:
    [(stored,)] = fetch_all(url, "SELECT secret FROM webhook_secrets WHERE project_id = :p", p=project_id)
    return str(stored)


async def test_the_database_holds_the_secret_sealed_never_in_plain_text(
    account_store: AccountStore, accounts_database_url: str, tmp_path: Path
) -> None:
    project_id = (await account_store.activate_anonymous(f"seal-{tmp_path.name}")).project_id

    secret = (await account_store.webhook_secret(project_id)).get_secret_value()

    assert secret.startswith("whsec_")
    assert is_sealed(_stored_secret(accounts_database_url, project_id))
    contents = database_contents(accounts_database_url)
    assert secret not in contents and secret.removeprefix("whsec_") not in contents
    assert (await account_store.webhook_secret(project_id)).get_secret_value() == secret  # stable


async def test_a_process_with_other_keys_is_told_which_key_it_lacks(
    account_store: AccountStore, accounts_database_url: str, tmp_path: Path
) -> None:
    project_id = (await account_store.activate_anonymous(f"other-{tmp_path.name}")).project_id
    await account_store.webhook_secret(project_id)
    other_settings = accounts_test_settings(tmp_path / "elsewhere", accounts_encryption_keys=_key("k9"))
    elsewhere = await AccountStore.open(accounts_database_url, settings=other_settings)
    try:
        with pytest.raises(SealingError, match="INFRAI_ACCOUNTS_ENCRYPTION_KEYS") as refused:
            await elsewhere.webhook_secret(project_id)
    finally:
        await elsewhere.aclose()
    assert "local-" in str(refused.value)  # the generated data-folder key's id, by name


async def test_rotating_keys_keeps_old_secrets_readable(accounts_database_url: str, tmp_path: Path) -> None:
    old, new = _key("old"), _key("new")
    first = await AccountStore.open(
        accounts_database_url, settings=accounts_test_settings(tmp_path, accounts_encryption_keys=old)
    )
    try:
        project_id = (await first.activate_anonymous(f"rotate-{tmp_path.name}")).project_id
        secret = (await first.webhook_secret(project_id)).get_secret_value()
    finally:
        await first.aclose()
    rotated_settings = accounts_test_settings(tmp_path, accounts_encryption_keys=f"{new},{old}")
    rotated = await AccountStore.open(accounts_database_url, settings=rotated_settings)
    try:
        assert (await rotated.webhook_secret(project_id)).get_secret_value() == secret
    finally:
        await rotated.aclose()
    assert _stored_secret(accounts_database_url, project_id).startswith("sealed:v1:old:")


def test_a_sealed_secret_opens_only_for_its_own_project() -> None:
    sealer = SecretSealer(parse_sealing_keys(_key("k1")))
    sealed = sealer.seal(SEALING_PURPOSE, "proj_a", "whsec_abc")

    assert sealer.open(SEALING_PURPOSE, "proj_a", sealed) == "whsec_abc"
    with pytest.raises(SealingError):
        sealer.open(SEALING_PURPOSE, "proj_b", sealed)  # a row copied onto another project
    with pytest.raises(SealingError):
        sealer.open(SEALING_PURPOSE, "proj_a", sealed[:-6] + "AAAAAA")  # altered


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k1", "expected id:base64key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "16/24/32 bytes"),
        (f"{_key('k1')},{_key('k1')}", "twice"),
        (" , ", "holds no key"),
    ],
    # Fixed ids: the keys are random, and xdist workers must collect the same test names.
    ids=["no-colon", "not-base64", "short-key", "repeated-id", "empty"],
)
def test_a_malformed_key_setting_refuses_to_open_the_store_without_echoing_it(
    value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_sealing_keys(value)
    secret_part = value.partition(":")[2]
    assert not secret_part or secret_part not in str(refused.value)


def test_processes_sharing_a_data_folder_share_its_generated_key(tmp_path: Path) -> None:
    settings = accounts_test_settings(tmp_path)
    one, two = SecretSealer.from_settings(settings), SecretSealer.from_settings(settings)

    sealed = one.seal(SEALING_PURPOSE, "proj_a", "whsec_shared")

    assert two.open(SEALING_PURPOSE, "proj_a", sealed) == "whsec_shared"
    assert one.current_key_id.startswith("local-") and (tmp_path / KEY_FILENAME).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migration_0005_seals_secrets_stored_in_plain_text(
    backend: str, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    url = database_factory.new(backend)
    plain = new_webhook_secret()
    sync_url = make_url(url)
    if backend == "postgresql":
        sync_url = sync_url.set(drivername="postgresql+psycopg")
    engine = create_engine(sync_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:  # the schema as the previous release left it, with one secret
            command.upgrade(alembic_config(conn), "0003_deleted_jobs")
            now = datetime.now(UTC)
            conn.execute(
                text(
                    "INSERT INTO projects (project_id, kind, balance_micros, held_micros, created_at) "
                    "VALUES ('proj_old', 'anonymous', 0, 0, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text("INSERT INTO webhook_secrets (project_id, secret, created_at) VALUES (:p, :s, :now)"),
                {"p": "proj_old", "s": plain, "now": now},
            )
    finally:
        engine.dispose()

    store = await AccountStore.open(url, settings=accounts_test_settings(tmp_path))
    try:
        read_back = (await store.webhook_secret("proj_old")).get_secret_value()
    finally:
        await store.aclose()

    assert read_back == plain  # customers' receivers keep verifying with the secret they have
    assert is_sealed(_stored_secret(url, "proj_old"))
    assert plain not in database_contents(url)
    # Opening the store migrates on to the newest revision.
    assert fetch_all(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD_REVISION,)]


async def test_a_plain_text_row_left_by_a_migration_run_without_a_sealer_still_reads(
    account_store: AccountStore, accounts_database_url: str, tmp_path: Path
) -> None:
    project_id = (await account_store.activate_anonymous(f"plain-{tmp_path.name}")).project_id
    plain = new_webhook_secret()
    engine_url = make_url(accounts_database_url)
    if engine_url.get_backend_name() == "postgresql":
        engine_url = engine_url.set(drivername="postgresql+psycopg")
    engine = create_engine(engine_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO webhook_secrets (project_id, secret, created_at) VALUES (:p, :s, :now)"),
                {"p": project_id, "s": plain, "now": datetime.now(UTC)},
            )
    finally:
        engine.dispose()

    assert (await account_store.webhook_secret(project_id)).get_secret_value() == plain


async def test_a_shared_database_without_configured_keys_is_warned_about(
    database_factory: DatabaseFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_factory.new("postgresql")
    store = await AccountStore.open(url, settings=accounts_test_settings(tmp_path))
    await store.aclose()

    assert any("INFRAI_ACCOUNTS_ENCRYPTION_KEYS is unset" in record.getMessage() for record in caplog.records)
