"""fal adapter specifics: per-app inputs, image-to-video sub-paths, the queue URLs on the task, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from core.models import Resolution, VendorCancel, VendorTask, VideoSpec
from tests.emulators import fal
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
from vendors.fal import FalVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["fal"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[FalVendor]:
    vendor = FalVendor(fal.FAL_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_image_to_video_goes_to_the_sub_path_and_polls_without_it(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="p", duration_seconds=8, reference_image_url="https://x.example/a.png")
    task = await adapter.submit(spec, "fal-ai/veo3/fast", "k")
    sent = emulator.last_submit()
    assert sent["app"] == "fal-ai/veo3/fast/image-to-video"
    assert sent["input"]["image_url"] == "https://x.example/a.png" and sent["input"]["duration"] == "8s"
    request_base = f"{emulator.url}/fal-ai/veo3/requests/{task.task_id}"
    assert task.links == {
        "status_url": f"{request_base}/status",
        "response_url": request_base,
        "cancel_url": f"{request_base}/cancel",
        "resolution": "720p",
    }
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"


async def test_a_single_size_app_gets_no_resolution_and_a_bare_duration(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="p", duration_seconds=10, resolution=Resolution.P1080)
    await adapter.submit(spec, "fal-ai/kling-video/v2.5-turbo/pro", "k")
    sent = emulator.last_submit()
    assert sent["app"] == "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
    assert sent["input"] == {"prompt": "p", "duration": "10", "aspect_ratio": "16:9"}


async def test_the_billed_units_fal_reports_price_the_task(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(billable_units=8.008)  # fal bills the output's real length (audio tail included)
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=8), "fal-ai/veo3/fast", "k")
    final = (await poll_to_end(adapter, task))[-1]
    assert final.cost_usd == Decimal("8.008") * Decimal("0.15")


async def test_billed_units_in_an_unknown_unit_leave_the_estimate(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(billable_units=3)  # this app's billing unit is not confirmed to be a second
    spec = VideoSpec(prompt="p", duration_seconds=5, resolution=Resolution.P1080)
    task = await adapter.submit(spec, "fal-ai/kling-video/v2.5-turbo/pro", "k")
    assert (await poll_to_end(adapter, task))[-1].cost_usd is None


def _raw_status(task: VendorTask) -> str:
    headers = {"Authorization": f"Key {fal.FAL_KEY}"}
    return str(httpx.get(task.links["status_url"], headers=headers).json()["status"])


async def test_cancelling_a_queued_request_takes_it_off_the_queue(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=8), "fal-ai/veo3/fast", "k")

    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert emulator.stats()["cancels"] == 1 and _raw_status(task) == "CANCELED"


async def test_cancelling_a_running_request_says_requested(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=8), "fal-ai/veo3/fast", "k")
    await adapter.poll(task)
    assert (await adapter.poll(task)).state == "running"

    assert await adapter.cancel(task) is VendorCancel.REQUESTED  # fal answered CANCELLATION_REQUESTED

    assert (await adapter.poll(task)).state == "cancelled"


async def test_cancelling_a_completed_request_says_finished_and_keeps_its_result(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=8), "fal-ai/veo3/fast", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"

    assert await adapter.cancel(task) is VendorCancel.FINISHED  # fal answered 400 ALREADY_COMPLETED

    status = await adapter.poll(task)
    assert status.state == "succeeded" and status.output_url is not None
    assert httpx.get(status.output_url).status_code == 200


async def test_a_request_fal_does_not_know_is_answered_finished(
    adapter: FalVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=8), "fal-ai/veo3/fast", "k")
    gone = task.model_copy(
        update={"links": {**task.links, "cancel_url": f"{emulator.url}/fal-ai/veo3/requests/nope/cancel"}}
    )

    assert await adapter.cancel(gone) is VendorCancel.FINISHED  # NOT_FOUND: left the queue for good


def test_fal_offers_no_way_to_find_a_request_by_our_key(adapter: FalVendor) -> None:
    assert not isinstance(adapter, TaskFinder)
