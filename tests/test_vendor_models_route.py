"""``GET /v1/video/models`` on a real server: the catalog with availability and what to set when missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from accounts.store import AccountStore
from api.deps import get_etas
from api.routes import models
from core.settings import Settings
from jobs.etas import EtaBoard
from tests.emulators.server import AppServer
from vendors.catalog import load_catalog


@pytest.fixture(scope="module")
def models_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(RUNWAYML_API_SECRET="key_x", GEMINI_API_KEY=None, GOOGLE_API_KEY=None)
    database = f"sqlite:///{tmp_path_factory.mktemp('models') / 'accounts.db'}"

    boards: list[EtaBoard] = []

    async def etas() -> EtaBoard:  # opened on the server's own event loop, at the first request
        if not boards:
            accounts = await AccountStore.open(database, settings=settings)  # nothing measured yet
            boards.append(EtaBoard(accounts.vendor_timings(), load_catalog(), settings))
        return boards[0]

    app = FastAPI()
    app.include_router(models.router)
    app.state.settings = settings
    app.dependency_overrides[get_etas] = etas
    server = AppServer(app, ready_path="/v1/video/models").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def listing(models_api: str) -> dict[str, Any]:
    response = httpx.get(models_api + "/v1/video/models")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def by_id(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in listing["data"]}


def test_every_catalog_model_is_listed(listing: dict[str, Any]) -> None:
    expected = {f"{v.id}/{m.id}" for v, m in load_catalog().pairs()}
    assert set(by_id(listing)) == expected
    assert listing["object"] == "list" and listing["catalog_updated"] == str(load_catalog().updated)


def test_configured_vendors_are_available_and_others_say_what_to_set(listing: dict[str, Any]) -> None:
    items = by_id(listing)
    assert (
        items["runway/gen4.5"]["available"] is True and items["runway/gen4.5"]["unavailable_reason"] is None
    )
    assert items["luma/ray-2"]["available"] is False
    assert items["luma/ray-2"]["unavailable_reason"] == "set LUMAAI_API_KEY"
    assert items["local/local-preview"]["available"] is True
    assert items["local/local-preview"]["routing"] == "fallback_only"


def test_prices_carry_source_date_and_confirmation(listing: dict[str, Any]) -> None:
    veo = by_id(listing)["google/veo-3.1"]
    prices = {p["resolution"]: p for p in veo["prices"]}
    assert prices["4k"]["usd_per_second"] == "0.60" and prices["4k"]["as_of"] == "2026-03-02"
    assert prices["4k"]["source"] and prices["4k"]["confirmed"] is False
    assert veo["durations_by_resolution"]["4k"] == [8] and veo["resolutions"] == ["720p", "1080p", "4k"]


def test_no_key_material_appears_in_the_listing(models_api: str) -> None:
    assert "key_x" not in httpx.get(models_api + "/v1/video/models").text


def test_lifecycle_dates_successor_and_aliases_are_listed(listing: dict[str, Any]) -> None:
    models_by_id = by_id(listing)
    catalog = load_catalog()
    for vendor, model in catalog.pairs():
        item = models_by_id[f"{vendor.id}/{model.id}"]
        assert item["aliases"] == list(model.aliases)
        assert item["successor"] == model.successor
        assert item["deprecated_on"] == (model.deprecated_on.isoformat() if model.deprecated_on else None)
        assert item["retired_on"] == (model.retired_on.isoformat() if model.retired_on else None)
        assert item["lifecycle"] in ("active", "deprecated", "retired")
        assert item["measured_latency"] == []  # nothing measured in a fresh database
    assert models_by_id["luma/ray-3.2"]["aliases"] == ["ray"]
    assert models_by_id["luma/ray-2"]["successor"] == "ray-3.2"
