"""Veo adapter specifics: inline base64 reference images, the operation name, the keyed file download."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from core.errors import ErrorCode, VendorError
from core.models import Aspect, Resolution, VendorCancel, VideoSpec
from tests.emulators import google
from tests.emulators.media import sample_png
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
from vendors.google import GoogleVeoVendor
from vendors.http_vendor import VendorOptions


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["google"]
    server.reset()
    return server


@pytest.fixture
async def veo(emulator: EmulatorServer) -> AsyncIterator[GoogleVeoVendor]:
    adapter = GoogleVeoVendor(google.API_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield adapter
    await adapter.aclose()


async def test_the_request_names_the_wire_model_and_veo_parameters(
    veo: GoogleVeoVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(
        prompt="a lighthouse", duration_seconds=8, aspect=Aspect.PORTRAIT, resolution=Resolution.P1080
    )
    task = await veo.submit(spec, "veo-3.1", "k")
    assert task.task_id.startswith("models/veo-3.1-generate-preview/operations/")
    sent = emulator.last_submit()
    assert sent["instances"] == [{"prompt": "a lighthouse"}]
    assert sent["parameters"] == {
        "aspectRatio": "9:16",
        "resolution": "1080p",
        "durationSeconds": 8,
        "sampleCount": 1,
    }


async def test_a_reference_image_url_is_fetched_and_sent_as_base64_bytes(
    veo: GoogleVeoVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(
        prompt="animate this", duration_seconds=8, reference_image_url=emulator.reference_image_url
    )
    await veo.submit(spec, "veo-3.1-fast", "k")
    image = emulator.last_submit()["instances"][0]["image"]
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["bytesBase64Encoded"]) == sample_png()


async def test_a_data_uri_reference_image_is_sent_as_its_bytes(
    veo: GoogleVeoVendor, emulator: EmulatorServer
) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(sample_png()).decode()
    await veo.submit(VideoSpec(prompt="p", duration_seconds=8, reference_image_url=data_uri), "veo-3.1", "k")
    image = emulator.last_submit()["instances"][0]["image"]
    assert base64.b64decode(image["bytesBase64Encoded"]) == sample_png()


async def test_a_reference_image_over_the_size_cap_is_refused_before_submitting(
    emulator: EmulatorServer,
) -> None:
    options = VendorOptions(reference_image_max_bytes=16, allow_private_urls=True)
    veo = GoogleVeoVendor(google.API_KEY, base_url=emulator.base_url, options=options)
    spec = VideoSpec(prompt="p", duration_seconds=8, reference_image_url=emulator.reference_image_url)
    try:
        with pytest.raises(VendorError) as caught:
            await veo.submit(spec, "veo-3.1", "k")
    finally:
        await veo.aclose()
    assert (caught.value.code, caught.value.accepted) == (ErrorCode.INVALID_INPUT, False)
    assert emulator.stats()["submissions"] == 0


async def test_a_private_reference_image_url_is_refused_unless_allowed(emulator: EmulatorServer) -> None:
    veo = GoogleVeoVendor(google.API_KEY, base_url=emulator.base_url, options=VendorOptions())
    spec = VideoSpec(prompt="p", duration_seconds=8, reference_image_url=emulator.reference_image_url)
    try:
        with pytest.raises(VendorError) as caught:
            await veo.submit(spec, "veo-3.1", "k")
    finally:
        await veo.aclose()
    assert caught.value.code == ErrorCode.UNSAFE_URL
    assert emulator.stats()["submissions"] == 0


async def test_the_api_key_goes_only_to_the_api_host_for_downloads(
    veo: GoogleVeoVendor, emulator: EmulatorServer
) -> None:
    task = await veo.submit(VideoSpec(prompt="p", duration_seconds=8), "veo-3.1", "k")
    own_file = emulator.base_url + "files/abc:download?alt=media"
    assert veo.download_headers(task, own_file) == {"x-goog-api-key": google.API_KEY}
    assert veo.download_headers(task, "https://elsewhere.example/files/abc.mp4") == {}


async def test_veo_has_no_cancel_so_the_operation_runs_to_its_end(
    veo: GoogleVeoVendor, emulator: EmulatorServer
) -> None:
    task = await veo.submit(VideoSpec(prompt="p", duration_seconds=8), "veo-3.1", "k")

    assert await veo.cancel(task) is VendorCancel.UNSUPPORTED

    assert emulator.stats()["cancels"] == 0
    assert (await poll_to_end(veo, task))[-1].state == "succeeded"


def test_veo_offers_no_way_to_find_an_operation_by_our_key(veo: GoogleVeoVendor) -> None:
    assert not isinstance(veo, TaskFinder)
