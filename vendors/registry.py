"""Which vendors this deployment can use, and the adapters for them, built once from settings.

A vendor is configured when its key is set (the vendor SDK's own environment variable, read by
``core.settings``). ``local`` needs no key and is always configured.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from core.settings import Settings
from vendors.base import VideoVendor
from vendors.catalog import Catalog, load_catalog

LOCAL = "local"

# vendor id -> whether settings hold what that vendor needs
_CONFIGURED: dict[str, Callable[[Settings], bool]] = {
    "google": lambda s: s.gemini_api_key is not None,
    "runway": lambda s: s.runwayml_api_secret is not None,
    "luma": lambda s: s.lumaai_api_key is not None,
    "replicate": lambda s: s.replicate_api_token is not None,
    "fal": lambda s: s.fal_key is not None,
    "minimax": lambda s: s.minimax_api_key is not None,
    "kling": lambda s: s.kling_access_key is not None and s.kling_secret_key is not None,
}


def configured_vendors(settings: Settings) -> set[str]:
    """Vendor ids whose keys are set, plus ``local``."""
    return {LOCAL} | {vendor for vendor, is_set in _CONFIGURED.items() if is_set(settings)}


def missing_configuration(vendor_id: str, catalog: Catalog | None = None) -> str:
    """What an operator must set to enable ``vendor_id`` (for listings and route errors)."""
    entry = (catalog or load_catalog()).vendor(vendor_id)
    if entry is None or not entry.key_env:
        return ""
    if vendor_id == "google":  # either variable works; python-genai prefers GOOGLE_API_KEY
        return "set GEMINI_API_KEY or GOOGLE_API_KEY"
    return "set " + " and ".join(entry.key_env)


def build_vendors(
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    catalog: Catalog | None = None,
) -> dict[str, VideoVendor]:
    """One adapter per configured vendor, all sharing ``client`` (the worker's long-lived httpx client)."""
    # Adapters are imported here, not at module level: the API reads ``configured_vendors`` and the catalog
    # and should not load (or need) any vendor's HTTP code to list models or plan routes.
    from vendors.fal import FalVendor
    from vendors.google import GoogleVeoVendor
    from vendors.http_vendor import VendorOptions
    from vendors.kling import KlingVendor
    from vendors.local import LocalVendor
    from vendors.luma import LumaVendor
    from vendors.minimax import MiniMaxVendor
    from vendors.replicate import ReplicateVendor
    from vendors.runway import RunwayVendor

    catalog = catalog or load_catalog()
    options = VendorOptions.from_settings(settings)
    vendors: dict[str, VideoVendor] = {LOCAL: LocalVendor(base_url=settings.local_base_url, client=client)}
    if settings.gemini_api_key is not None:
        key = settings.gemini_api_key.get_secret_value()
        vendors["google"] = GoogleVeoVendor(
            key, base_url=settings.google_base_url, client=client, catalog=catalog, options=options
        )
    if settings.runwayml_api_secret is not None:
        key = settings.runwayml_api_secret.get_secret_value()
        vendors["runway"] = RunwayVendor(
            key, base_url=settings.runway_base_url, client=client, catalog=catalog, options=options
        )
    if settings.lumaai_api_key is not None:
        key = settings.lumaai_api_key.get_secret_value()
        agents_key = settings.luma_agents_api_key
        vendors["luma"] = LumaVendor(
            key,
            base_url=settings.luma_base_url,
            agents_base_url=settings.luma_agents_base_url,
            agents_api_key=agents_key.get_secret_value() if agents_key is not None else None,
            client=client,
            catalog=catalog,
            options=options,
        )
    if settings.replicate_api_token is not None:
        key = settings.replicate_api_token.get_secret_value()
        vendors["replicate"] = ReplicateVendor(
            key, base_url=settings.replicate_base_url, client=client, catalog=catalog, options=options
        )
    if settings.fal_key is not None:
        key = settings.fal_key.get_secret_value()
        vendors["fal"] = FalVendor(
            key, base_url=settings.fal_base_url, client=client, catalog=catalog, options=options
        )
    if settings.minimax_api_key is not None:
        key = settings.minimax_api_key.get_secret_value()
        vendors["minimax"] = MiniMaxVendor(
            key, base_url=settings.minimax_base_url, client=client, catalog=catalog, options=options
        )
    if settings.kling_access_key is not None and settings.kling_secret_key is not None:
        vendors["kling"] = KlingVendor(
            settings.kling_access_key.get_secret_value(),
            settings.kling_secret_key.get_secret_value(),
            base_url=settings.kling_base_url,
            client=client,
            catalog=catalog,
            options=options,
        )
    return vendors
