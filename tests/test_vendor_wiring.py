"""The vendor table (``vendors.registry.WIRING``) and the settings and catalog that declare the same things
agree: a vendor added or renamed in one place and not the other fails here, not in production."""

from __future__ import annotations

from pydantic import AliasChoices

from core.settings import Settings
from vendors.catalog import load_catalog
from vendors.registry import WIRING


def env_names(field: str) -> tuple[str, ...]:
    """The variables ``Settings`` reads ``field`` from, in the order it tries them."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (alias,) if isinstance(alias, str) else (f"INFRAI_{field.upper()}",)


def test_every_setting_a_row_names_exists_on_settings() -> None:
    for row in WIRING:
        for field in row.settings_fields():
            assert field in Settings.model_fields, (row.vendor, field)


def test_key_variables_in_the_table_are_the_ones_settings_reads() -> None:
    for row in WIRING:
        for key in row.keys:
            assert env_names(key.field) == key.env, (row.vendor, key.field)


def test_optional_settings_in_the_table_are_read_from_the_variables_it_names() -> None:
    for row in WIRING:
        for extra in row.extras:
            assert env_names(extra.field) == extra.env_names(), (row.vendor, extra.field)


def test_base_urls_are_read_from_infrai_vendor_base_url() -> None:
    for row in WIRING:
        assert env_names(row.base_url) == (f"INFRAI_{row.vendor.upper()}_BASE_URL",), row.vendor


def test_every_vendor_setting_is_in_the_table() -> None:
    named = {field for row in WIRING for field in row.settings_fields()}
    # Vendor settings are the base URLs and the keys read from a vendor SDK's own (non-INFRAI_) variable.
    vendorish = {
        field
        for field in Settings.model_fields
        if (field.endswith("_base_url") and field != "public_base_url")
        or not all(name.startswith(("INFRAI_", "OTEL_")) for name in env_names(field))
    }
    assert vendorish <= named, vendorish - named


def test_the_catalog_lists_the_table_vendors_with_the_same_key_variables() -> None:
    catalog = load_catalog()
    assert {vendor.id for vendor in catalog.vendors} == {row.vendor for row in WIRING}
    for row in WIRING:
        entry = catalog.vendor(row.vendor)
        assert entry is not None
        assert set(entry.key_env) == {name for key in row.keys for name in key.env}, row.vendor
