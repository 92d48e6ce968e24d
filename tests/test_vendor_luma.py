"""Luma adapter specifics: durations with a unit, the first frame as a keyframe URL, cancel versus delete."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.errors import ErrorCode, VendorError
from core.models import Aspect, Resolution, VendorCancel, VideoSpec
from tests.emulators import luma
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
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


def _raw_get(emulator: EmulatorServer, generation_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {luma.API_KEY}"}
    return httpx.get(f"{emulator.base_url}/generations/{generation_id}", headers=headers)


async def test_cancelling_a_dreaming_generation_deletes_it_and_says_stopped(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="p"), "ray-2", "k")
    assert (await adapter.poll(task)).state in ("pending", "running")

    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert emulator.stats()["cancels"] == 1
    assert _raw_get(emulator, task.task_id).status_code == 404  # Luma's only stop removes the generation


async def test_a_repeated_cancel_of_a_removed_generation_says_stopped(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="p"), "ray-2", "k")
    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert await adapter.cancel(task) is VendorCancel.STOPPED  # an activity retry after a lost answer
    assert emulator.stats()["cancels"] == 1


async def test_cancelling_a_completed_generation_keeps_it_and_its_video(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p"), "ray-2", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"

    assert await adapter.cancel(task) is VendorCancel.FINISHED

    assert emulator.stats()["cancels"] == 0  # no DELETE: it would remove the finished video
    status = await adapter.poll(task)
    assert status.state == "succeeded" and status.output_url is not None
    assert httpx.get(status.output_url).status_code == 200


async def test_cancelling_a_failed_generation_says_finished(
    adapter: LumaVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(outcome="fail")
    task = await adapter.submit(VideoSpec(prompt="p"), "ray-2", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "failed"

    assert await adapter.cancel(task) is VendorCancel.FINISHED
    assert emulator.stats()["cancels"] == 0


def test_luma_offers_no_way_to_find_a_generation_by_our_key(adapter: LumaVendor) -> None:
    assert not isinstance(adapter, TaskFinder)
