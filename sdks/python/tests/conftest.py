"""Fixtures for the SDK's tests: an isolated config dir, and clients wired to a ``ScriptedAPI``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripted_api import API_KEY, BASE_URL, FAST_POLLS, FAST_RETRIES, ScriptedAPI

from infrai import AsyncInfrai, Infrai


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config dir and none of the caller's INFRAI_* settings."""
    config = tmp_path / "infrai-config"
    monkeypatch.setenv("INFRAI_CONFIG_DIR", str(config))
    monkeypatch.delenv("INFRAI_API_KEY", raising=False)
    monkeypatch.delenv("INFRAI_BASE_URL", raising=False)
    return config


@pytest.fixture
def api() -> ScriptedAPI:
    return ScriptedAPI()


# What both clients under test share: the scripted API's address, a key, and tiny retry and poll delays.
TEST_OPTIONS: dict[str, Any] = {
    "api_key": API_KEY,
    "base_url": BASE_URL,
    "retry_policy": FAST_RETRIES,
    "poll_pacing": FAST_POLLS,
}


@pytest.fixture
def client(api: ScriptedAPI) -> Iterator[Infrai]:
    http = httpx.Client(transport=httpx.MockTransport(api.handle))
    with Infrai(http_client=http, **TEST_OPTIONS) as sdk:
        yield sdk
    http.close()


@pytest.fixture
def async_client(api: ScriptedAPI) -> AsyncInfrai:
    http = httpx.AsyncClient(transport=httpx.MockTransport(api.handle_async))
    return AsyncInfrai(http_client=http, **TEST_OPTIONS)
