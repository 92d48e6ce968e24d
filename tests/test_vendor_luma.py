"""Luma adapter specifics: durations with a unit, the first frame as a keyframe URL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.errors import ErrorCode, VendorError
from core.models import Aspect, Resolution, VendorCancel, VideoSpec
from tests.emulators import luma
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, vendor_emulators  # noqa: F401
from vendors.luma import LumaVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["luma"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[LumaVendor]:
    vendor = LumaVendor(luma.API_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_the_request_has_a_unit_duration_and_a_keyframe_url(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(
        prompt="p",
        duration_seconds=9,
        aspect=Aspect.SQUARE,
        resolution=Resolution.K4,
        reference_image_url="https://x.example/a.png",
    )
    await adapter.submit(spec, "ray-2", "k")
    assert emulator.last_submit() == {
        "model": "ray-2",
        "prompt": "p",
        "aspect_ratio": "1:1",
        "resolution": "4k",
        "duration": "9s",
        "keyframes": {"frame0": {"type": "image", "url": "https://x.example/a.png"}},
    }


async def test_a_data_uri_image_is_refused_before_submitting(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="p", reference_image_url="data:image/png;base64,iVBORw0KGgo=")
    with pytest.raises(VendorError) as caught:
        await adapter.submit(spec, "ray-2", "k")
    assert (caught.value.code, caught.value.retryable) == (ErrorCode.INVALID_INPUT, False)
    assert emulator.stats()["submissions"] == 0


async def test_ray_3_goes_to_the_agents_api_with_an_inline_start_frame(emulator: EmulatorServer) -> None:
    adapter = LumaVendor(
        luma.API_KEY,
        base_url=emulator.base_url,
        agents_base_url=emulator.url + luma.AGENTS_PATH,
        options=TEST_OPTIONS,
    )
    spec = VideoSpec(
        prompt="p", resolution=Resolution.P1080, reference_image_url="data:image/png;base64,iVBORw0KGgo="
    )
    try:
        task = await adapter.submit(spec, "ray-3.2", "k")
        assert await adapter.cancel(task) is VendorCancel.UNSUPPORTED  # no cancel on the Agents API
    finally:
        await adapter.aclose()
    assert task.links == {"surface": "agents"}
    assert emulator.last_submit() == {
        "api": "agents",
        "model": "ray-3.2",
        "type": "video",
        "prompt": "p",
        "aspect_ratio": "16:9",
        "video": {
            "resolution": "1080p",
            "duration": "5s",
            "start_frame": {"data": "iVBORw0KGgo=", "media_type": "image/png"},
        },
    }
