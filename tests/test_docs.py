"""The docs stay true: the settings page lists exactly the settings the code reads, every relative link
resolves to a file and heading, and docs/api.md names exactly the app's public routes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings, setting_env_names
from tests.doc_pages import DOCS, REPO, anchors, documented_routes, normalise, pages, relative_links

SETTINGS_PAGE = DOCS / "settings.md"
API_PAGE = DOCS / "api.md"


def _settings_table_names() -> set[str]:
    names: set[str] = set()
    for line in SETTINGS_PAGE.read_text().splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_setting_is_listed_on_the_settings_page() -> None:
    assert sorted(set(setting_env_names()) - _settings_table_names()) == []


def test_the_settings_page_lists_only_infrai_settings_the_code_reads() -> None:
    listed = {name for name in _settings_table_names() if name.startswith("INFRAI_")}
    assert sorted(listed - set(setting_env_names())) == []


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == []


def test_the_anchor_check_catches_a_missing_heading() -> None:
    assert "webhooks" in anchors(API_PAGE) and "openai-compatible-videos-api" in anchors(API_PAGE)
    assert "no-such-heading" not in anchors(API_PAGE)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # No lifespan: building the app and its OpenAPI document needs no Temporal and no database.
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))


def _openapi_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return {
        (method.upper(), normalise(path)) for path, ops in paths.items() for method in ops if method != "head"
    }


def test_every_route_in_the_api_page_exists(app: FastAPI) -> None:
    documented = documented_routes(API_PAGE)
    # The playground page is the one documented route the OpenAPI document leaves out.
    assert ("GET", "/") in documented
    assert TestClient(app).get("/").status_code == 200
    assert sorted(documented - {("GET", "/")} - _openapi_routes(app)) == []


def test_every_public_route_is_on_the_api_page(app: FastAPI) -> None:
    assert sorted(_openapi_routes(app) - documented_routes(API_PAGE)) == []
