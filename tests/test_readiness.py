"""``/healthz`` says the process is up; ``/readyz`` says Temporal, the accounts DB and storage all answer,
and names the ones that do not (503)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from accounts.keys import new_api_key
from accounts.store import AccountStore
from api.readiness import OK, check_readiness
from devstack.processes import ManagedProcess, wait_for_port
from storage import S3MediaStorage
from tests.fixtures.accounts import TcpRelay, accounts_test_settings
from tests.fixtures.ports import free_port, wait_for_http
from tests.fixtures.s3 import MotoS3
from tests.fixtures.stack import REPO, Stack, stack_env
from tests.fixtures.temporal import TemporalServer


def test_ready_when_temporal_database_and_storage_answer(live_stack: Stack) -> None:
    assert httpx.get(live_stack.api_url + "/healthz", timeout=10).status_code == 200
    response = httpx.get(live_stack.api_url + "/readyz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"temporal": OK, "database": OK, "storage": OK}}


@pytest.fixture
def api_without_temporal(temporal_server: TemporalServer, tmp_path: Path) -> Iterator[str]:
    """An API process whose Temporal address has nothing listening (it starts anyway: lazy client)."""
    env = stack_env(tmp_path, f"127.0.0.1:{free_port()}", new_api_key())
    process = ManagedProcess(
        "api", [sys.executable, "-m", "api"], env=env, cwd=REPO, log_path=tmp_path / "api.log"
    ).start()
    try:
        wait_for_port("127.0.0.1", int(env["INFRAI_API_PORT"]), 60, process)
        wait_for_http(env["INFRAI_PUBLIC_BASE_URL"] + "/healthz")
        yield env["INFRAI_PUBLIC_BASE_URL"]
    finally:
        process.stop(timeout=15)


def test_not_ready_names_temporal_when_it_is_unreachable(api_without_temporal: str) -> None:
    assert httpx.get(api_without_temporal + "/healthz", timeout=10).status_code == 200
    response = httpx.get(api_without_temporal + "/readyz", timeout=30)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "temporal" in body["detail"]
    assert body["checks"]["temporal"].startswith("unreachable")
    assert body["checks"]["database"] == OK and body["checks"]["storage"] == OK


async def test_readiness_names_the_database_while_it_is_cut_off(
    temporal_client: Client,
    postgres_relay_url: tuple[str, TcpRelay],
    moto_s3: MotoS3,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    url, relay = postgres_relay_url
    accounts = await AccountStore.open(url, settings=accounts_test_settings(tmp_path))
    storage = S3MediaStorage.from_settings(moto_s3.settings(s3_bucket, tmp_path))
    try:
        assert await check_readiness(temporal_client, accounts, storage) == {
            "temporal": OK, "database": OK, "storage": OK,
        }  # fmt: skip
        await relay.cut()
        checks = await check_readiness(temporal_client, accounts, storage)
        assert checks["database"].startswith("unreachable"), checks
        assert checks["temporal"] == OK and checks["storage"] == OK
        await relay.restore()
        assert (await check_readiness(temporal_client, accounts, storage))["database"] == OK
    finally:
        await storage.aclose()
        await accounts.aclose()


async def test_readiness_names_storage_when_the_bucket_is_missing(
    temporal_client: Client, moto_s3: MotoS3, tmp_path: Path
) -> None:
    accounts = await AccountStore.open(
        f"sqlite:///{tmp_path / 'a.db'}", settings=accounts_test_settings(tmp_path)
    )
    storage = S3MediaStorage.from_settings(moto_s3.settings("no-such-bucket-here", tmp_path))
    try:
        checks = await check_readiness(temporal_client, accounts, storage)
        assert checks["storage"].startswith("unreachable"), checks
        assert "no-such-bucket-here" in checks["storage"]
        assert checks["temporal"] == OK and checks["database"] == OK
    finally:
        await storage.aclose()
        await accounts.aclose()
