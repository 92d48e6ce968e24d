"""Replicate adapter specifics: each model's own input names and formats, and the prediction's URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.models import VideoSpec
from tests.emulators import replicate
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, vendor_emulators  # noqa: F401
from vendors.replicate import ReplicateVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["replicate"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[ReplicateVendor]:
    vendor = ReplicateVendor(replicate.API_TOKEN, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_the_input_uses_the_models_own_names_and_sizes(
    adapter: ReplicateVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="p", duration_seconds=6, reference_image_url="https://x.example/a.png")
    await adapter.submit(spec, "minimax/hailuo-02", "k")
    assert emulator.last_submit() == {
        "input": {
            "prompt": "p",
            "duration": 6,
            "resolution": "768p",
            "aspect_ratio": "16:9",
            "first_frame_image": "https://x.example/a.png",
        }
    }


async def test_the_predictions_get_and_cancel_urls_are_kept(
    adapter: ReplicateVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=4), "google/veo-3.1-fast", "k")
    assert task.links == {
        "get": f"{emulator.url}/v1/predictions/{task.task_id}",
        "cancel": f"{emulator.url}/v1/predictions/{task.task_id}/cancel",
    }
