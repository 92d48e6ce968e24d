"""Which vendors are configured, from the vendors' own key variables, and adapters wired to base URLs."""

from __future__ import annotations

import pytest

from core.models import Resolution, VideoSpec
from core.settings import Settings
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import emulator_settings, vendor_emulators  # noqa: F401
from vendors.registry import build_vendors, configured_vendors, missing_configuration

KEY_VARIABLES = [
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "RUNWAYML_API_SECRET",
    "LUMAAI_API_KEY",
    "REPLICATE_API_TOKEN",
    "FAL_KEY",
    "MINIMAX_API_KEY",
    "KLING_ACCESS_KEY",
    "KLING_SECRET_KEY",
]


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_with_no_keys_only_local_is_configured() -> None:
    assert configured_vendors(Settings()) == {"local"}


def test_keys_are_read_from_each_vendors_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_runway_secret")
    monkeypatch.setenv("FAL_KEY", "f")
    monkeypatch.setenv("KLING_ACCESS_KEY", "only-half")
    monkeypatch.setenv("INFRAI_RUNWAY_BASE_URL", "http://runway.internal")
    settings = Settings()
    assert configured_vendors(settings) == {"local", "google", "runway", "fal"}  # Kling needs both keys
    assert settings.runway_base_url == "http://runway.internal"
    assert "key_runway_secret" not in repr(settings) + str(settings.model_dump())


def test_missing_configuration_names_the_variables() -> None:
    assert missing_configuration("runway") == "set RUNWAYML_API_SECRET"
    assert missing_configuration("kling") == "set KLING_ACCESS_KEY and KLING_SECRET_KEY"
    assert missing_configuration("google") == "set GEMINI_API_KEY or GOOGLE_API_KEY"
    assert missing_configuration("local") == ""


SPECS = {
    "google": ("veo-3.1-fast", VideoSpec(prompt="p", duration_seconds=8)),
    "runway": ("gen4.5", VideoSpec(prompt="p")),
    "luma": ("ray-2", VideoSpec(prompt="p")),
    "replicate": ("google/veo-3.1-fast", VideoSpec(prompt="p", duration_seconds=4)),
    "fal": ("fal-ai/veo3/fast", VideoSpec(prompt="p", duration_seconds=4)),
    "minimax": ("MiniMax-Hailuo-02", VideoSpec(prompt="p", duration_seconds=6)),
    "kling": ("kling-v2-5-turbo", VideoSpec(prompt="p", resolution=Resolution.P1080)),
}


async def test_built_adapters_use_the_configured_keys_and_base_urls(
    vendor_emulators: dict[str, EmulatorServer],  # noqa: F811
) -> None:
    pytest.importorskip("vendors.local")  # written concurrently by another helper
    settings = emulator_settings(vendor_emulators)
    vendors = build_vendors(settings)
    assert set(vendors) == {"local", *SPECS}
    for name, (model, spec) in SPECS.items():
        vendor_emulators[name].reset()
        task = await vendors[name].submit(spec, model, "k")
        assert task.vendor == name
        assert vendor_emulators[name].stats()["accepted"] == 1, name
    for vendor in vendors.values():
        await vendor.aclose()
