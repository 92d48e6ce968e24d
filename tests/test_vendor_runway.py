"""Runway adapter specifics: endpoint per input, pixel ratios, the version header, cancel versus delete."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.errors import ErrorCode, VendorError
from core.models import Aspect, VendorCancel, VideoSpec
from tests.emulators import runway
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.runway import API_VERSION, RunwayVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["runway"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[RunwayVendor]:
    vendor = RunwayVendor(runway.API_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_text_to_video_sends_camel_case_with_a_pixel_ratio(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    await adapter.submit(VideoSpec(prompt="waves", duration_seconds=7, aspect=Aspect.PORTRAIT), "gen4.5", "k")
    assert emulator.last_submit() == {
        "model": "gen4.5",
        "promptText": "waves",
        "ratio": "720:1280",
        "duration": 7,
    }


async def test_a_reference_image_goes_to_image_to_video_as_prompt_image(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="move", aspect=Aspect.SQUARE, reference_image_url="https://cdn.example/first.png")
    await adapter.submit(spec, "gen4_turbo", "k")
    sent = emulator.last_submit()
    assert sent["promptImage"] == "https://cdn.example/first.png" and sent["ratio"] == "960:960"


async def test_the_emulator_like_runway_refuses_calls_without_the_version_header(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    body = {"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "duration": 5}
    headers = {"Authorization": f"Bearer {runway.API_KEY}"}
    bare = httpx.post(emulator.base_url + "/v1/text_to_video", json=body, headers=headers)
    assert bare.status_code == 400 and "X-Runway-Version" in bare.json()["error"]
    await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")  # the adapter sends it
    assert emulator.stats()["accepted"] == 1 and API_VERSION == runway.API_VERSION


async def test_cancelling_a_finished_task_deletes_it(adapter: RunwayVendor, emulator: EmulatorServer) -> None:
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"
    assert await adapter.cancel(task) is VendorCancel.STOPPED
    with pytest.raises(VendorError) as caught:
        await adapter.poll(task)
    assert (caught.value.code, caught.value.retryable, caught.value.accepted) == (
        ErrorCode.VENDOR_ERROR,
        False,
        True,
    )
