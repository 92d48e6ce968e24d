"""The catalog data file: it loads, every figure has a source and a date, and bad entries are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.models import Aspect, Resolution
from vendors.catalog import CATALOG_PATH, load_catalog, parse_catalog

LAUNCH_VENDORS = {"google", "runway", "luma", "replicate", "fal", "minimax", "kling", "local"}


def test_the_catalog_lists_every_launch_vendor_with_models() -> None:
    catalog = load_catalog()
    assert {vendor.id for vendor in catalog.vendors} == LAUNCH_VENDORS
    assert all(vendor.models for vendor in catalog.vendors)


def test_every_resolution_of_every_model_has_a_sourced_dated_price() -> None:
    for vendor, model in load_catalog().pairs():
        assert set(model.prices) == set(model.resolutions), f"{vendor.id}/{model.id}"
        for price in model.prices.values():
            assert price.source.strip() and price.as_of.year >= 2025, f"{vendor.id}/{model.id}"
        assert model.quality_source.strip()


def test_local_is_free_lowest_quality_all_sizes_and_fallback_only() -> None:
    catalog = load_catalog()
    local_vendor = catalog.vendor("local")
    assert local_vendor is not None and local_vendor.fallback_only and local_vendor.key_env == ()
    local = catalog.model("local", "local-preview")
    assert local is not None
    assert set(local.resolutions) == set(Resolution) and set(local.aspects) == set(Aspect)
    assert local.durations == tuple(range(1, 61))
    assert all(price.usd_per_second == 0 for price in local.prices.values())
    assert local.quality < min(m.quality for v, m in catalog.pairs() if v.id != "local")


def test_a_model_with_an_unpriced_resolution_is_refused() -> None:
    text = CATALOG_PATH.read_text().replace(
        '[vendors.google.models.prices.4k]\nusd_per_second = "0.60"', "[x]\ny = 1", 1
    )
    with pytest.raises(ValidationError, match="no price for 4k"):
        parse_catalog(text)


def test_an_unknown_field_is_refused_so_typos_fail_at_load() -> None:
    text = CATALOG_PATH.read_text().replace('id = "veo-3.1"\n', 'id = "veo-3.1"\nresolutoins = ["720p"]\n', 1)
    with pytest.raises(ValidationError, match="resolutoins"):
        parse_catalog(text)
