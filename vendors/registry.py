"""Which vendors this deployment can use, and the adapters for them, built once from settings.

``WIRING`` is the one table: a vendor is an adapter module plus one row here. The row names the settings
the vendor reads (``core.settings`` declares them; tests/test_vendor_wiring.py checks the two agree), so
the row alone decides whether the vendor is configured (every key set), what an operator must set to
enable it, and how its adapter is built. ``local`` needs no key and is always configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from core.settings import Settings
from vendors.base import VideoVendor
from vendors.catalog import Catalog, load_catalog

if TYPE_CHECKING:
    from vendors.http_vendor import VendorOptions

LOCAL = "local"


@dataclass(frozen=True)
class KeySetting:
    """One secret a vendor needs: its ``Settings`` field and the variables it is read from (first set wins,
    as the vendor's SDK does)."""

    field: str
    env: tuple[str, ...]


@dataclass(frozen=True)
class ExtraSetting:
    """An optional setting handed to the adapter by keyword (unset: the adapter's own default applies)."""

    keyword: str  # the adapter's constructor keyword
    field: str  # the Settings field
    env: tuple[str, ...] = ()  # a key's own variables, like ``KeySetting.env``; empty: INFRAI_<FIELD>

    def env_names(self) -> tuple[str, ...]:
        return self.env or (f"INFRAI_{self.field.upper()}",)


@dataclass(frozen=True)
class VendorWiring:
    """One vendor: its id, the settings it reads and the adapter they build."""

    vendor: str
    # "module:Class". Imported only when building: the API reads ``configured_vendors`` and the catalog and
    # should not load (or need) any vendor's HTTP code to list models or plan routes.
    adapter: str
    base_url: str  # the Settings field, read from INFRAI_<FIELD>
    keys: tuple[KeySetting, ...] = ()  # all required; handed to the adapter positionally, in this order
    extras: tuple[ExtraSetting, ...] = ()
    http: bool = True  # an ``HttpVendor``: also takes the catalog and the shared ``VendorOptions``

    def is_configured(self, settings: Settings) -> bool:
        return all(getattr(settings, key.field) is not None for key in self.keys)

    def settings_fields(self) -> list[str]:
        return [key.field for key in self.keys] + [self.base_url] + [extra.field for extra in self.extras]

    def build(
        self, settings: Settings, client: httpx.AsyncClient | None, catalog: Catalog, options: VendorOptions
    ) -> VideoVendor:
        module, _, name = self.adapter.partition(":")
        factory: Callable[..., VideoVendor] = getattr(importlib.import_module(module), name)
        keys = [_plain(getattr(settings, key.field)) for key in self.keys]
        kwargs: dict[str, Any] = {
            extra.keyword: _plain(getattr(settings, extra.field)) for extra in self.extras
        }
        if self.http:
            kwargs.update(catalog=catalog, options=options)
        return factory(*keys, base_url=getattr(settings, self.base_url), client=client, **kwargs)


def _key(field: str, *env: str) -> tuple[KeySetting, ...]:
    return (KeySetting(field, env),)


WIRING: tuple[VendorWiring, ...] = (
    VendorWiring(LOCAL, "vendors.local:LocalVendor", "local_base_url", http=False),
    # python-genai lets GOOGLE_API_KEY win when both are set.
    VendorWiring(
        "google",
        "vendors.google:GoogleVeoVendor",
        "google_base_url",
        _key("gemini_api_key", "GOOGLE_API_KEY", "GEMINI_API_KEY"),
    ),
    VendorWiring(
        "runway",
        "vendors.runway:RunwayVendor",
        "runway_base_url",
        _key("runwayml_api_secret", "RUNWAYML_API_SECRET"),
    ),
    VendorWiring(
        "luma",
        "vendors.luma:LumaVendor",
        "luma_base_url",
        _key("lumaai_api_key", "LUMAAI_API_KEY"),
        # Ray 3.x is on Luma's Agents API, whose SDK reads its own key; unset, the Dream Machine key is tried.
        extras=(
            ExtraSetting("agents_base_url", "luma_agents_base_url"),
            ExtraSetting("agents_api_key", "luma_agents_api_key", ("LUMA_AGENTS_API_KEY",)),
        ),
    ),
    VendorWiring(
        "replicate",
        "vendors.replicate:ReplicateVendor",
        "replicate_base_url",
        _key("replicate_api_token", "REPLICATE_API_TOKEN"),
    ),
    VendorWiring("fal", "vendors.fal:FalVendor", "fal_base_url", _key("fal_key", "FAL_KEY")),
    VendorWiring(
        "minimax",
        "vendors.minimax:MiniMaxVendor",
        "minimax_base_url",
        _key("minimax_api_key", "MINIMAX_API_KEY"),
    ),
    VendorWiring(
        "kling",
        "vendors.kling:KlingVendor",
        "kling_base_url",
        (
            KeySetting("kling_access_key", ("KLING_ACCESS_KEY",)),
            KeySetting("kling_secret_key", ("KLING_SECRET_KEY",)),
        ),
    ),
)


def wiring(vendor_id: str) -> VendorWiring | None:
    return next((row for row in WIRING if row.vendor == vendor_id), None)


def configured_vendors(settings: Settings) -> set[str]:
    """Vendor ids whose keys are all set (``local`` needs none)."""
    return {row.vendor for row in WIRING if row.is_configured(settings)}


def missing_configuration(vendor_id: str, catalog: Catalog | None = None) -> str:
    """What an operator must set to enable ``vendor_id`` (for listings and route errors); empty for a vendor
    that needs nothing or that ``catalog`` does not list."""
    row = wiring(vendor_id)
    if row is None or not row.keys or (catalog or load_catalog()).vendor(vendor_id) is None:
        return ""
    # Alternatives in alphabetical order: the message does not suggest one is preferred.
    return "set " + " and ".join(" or ".join(sorted(key.env)) for key in row.keys)


def build_vendors(
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    catalog: Catalog | None = None,
) -> dict[str, VideoVendor]:
    """One adapter per configured vendor, all sharing ``client`` (the worker's long-lived httpx client)."""
    from vendors.http_vendor import VendorOptions  # not at import time: see ``VendorWiring.adapter``

    catalog = catalog or load_catalog()
    options = VendorOptions.from_settings(settings)
    return {
        row.vendor: row.build(settings, client, catalog, options)
        for row in WIRING
        if row.is_configured(settings)
    }


def _plain(value: object) -> object:
    """A setting as the adapter takes it: secrets unwrapped, everything else as it is."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value
