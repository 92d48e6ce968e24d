"""Replicate adapter specifics: each model's own input names and formats, the prediction's URLs, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.models import VendorCancel, VideoSpec
from tests.emulators import replicate
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
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


async def test_cancelling_a_running_prediction_stops_it(
    adapter: ReplicateVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=4), "google/veo-3.1-fast", "k")
    assert (await adapter.poll(task)).state in ("pending", "running")

    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert emulator.stats()["cancels"] == 1
    assert (await adapter.poll(task)).state == "cancelled"
    assert await adapter.cancel(task) is VendorCancel.STOPPED  # a retried cancel: still stopped


async def test_cancelling_a_succeeded_prediction_says_finished_and_keeps_its_output(
    adapter: ReplicateVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=4), "google/veo-3.1-fast", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"

    assert await adapter.cancel(task) is VendorCancel.FINISHED

    status = await adapter.poll(task)
    assert status.state == "succeeded" and status.output_url is not None
    assert httpx.get(status.output_url).status_code == 200


async def test_cancelling_a_failed_prediction_says_finished(
    adapter: ReplicateVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(outcome="fail")
    task = await adapter.submit(VideoSpec(prompt="p", duration_seconds=4), "google/veo-3.1-fast", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "failed"

    assert await adapter.cancel(task) is VendorCancel.FINISHED
    assert (await adapter.poll(task)).state == "failed"


def test_replicate_offers_no_way_to_find_a_prediction_by_our_key(adapter: ReplicateVendor) -> None:
    assert not isinstance(adapter, TaskFinder)
