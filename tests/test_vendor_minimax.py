"""MiniMax adapter specifics: the output URL comes from files/retrieve; sizes are MiniMax's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.models import Resolution, VendorCancel, VideoSpec
from tests.emulators import minimax
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
from vendors.minimax import MiniMaxVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["minimax"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[MiniMaxVendor]:
    vendor = MiniMaxVendor(minimax.API_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_the_video_url_is_resolved_from_the_file_id(
    adapter: MiniMaxVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="a cat", duration_seconds=6), "MiniMax-Hailuo-02", "k")
    final = (await poll_to_end(adapter, task))[-1]
    # The query answer only has a file_id; the URL is the download_url files/retrieve returned.
    assert final.output_url == f"{emulator.url}/_files/{task.task_id}.mp4"


async def test_720p_is_sent_as_768p_and_there_is_no_aspect_field(
    adapter: MiniMaxVendor, emulator: EmulatorServer
) -> None:
    await adapter.submit(VideoSpec(prompt="a cat", duration_seconds=10), "MiniMax-Hailuo-02", "k")
    sent = emulator.last_submit()
    assert (sent["resolution"], sent["duration"], "aspect_ratio" in sent) == ("768P", 10, False)


async def test_1080p_and_a_first_frame_image(adapter: MiniMaxVendor, emulator: EmulatorServer) -> None:
    spec = VideoSpec(
        prompt="a cat",
        duration_seconds=6,
        resolution=Resolution.P1080,
        reference_image_url="https://x.example/a.png",
    )
    await adapter.submit(spec, "MiniMax-Hailuo-02", "k")
    sent = emulator.last_submit()
    assert (sent["resolution"], sent["first_frame_image"]) == ("1080P", "https://x.example/a.png")


async def test_minimax_has_no_cancel_so_the_task_runs_to_its_end(
    adapter: MiniMaxVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=6), "MiniMax-Hailuo-02", "k")

    assert await adapter.cancel(task) is VendorCancel.UNSUPPORTED

    assert emulator.stats()["cancels"] == 0
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"


def test_minimax_offers_no_way_to_find_a_task_by_our_key(adapter: MiniMaxVendor) -> None:
    assert not isinstance(adapter, TaskFinder)
