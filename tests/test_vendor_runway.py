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
from vendors.base import TaskFinder
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


async def test_cancelling_a_running_task_stops_it(adapter: RunwayVendor, emulator: EmulatorServer) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    assert (await adapter.poll(task)).state in ("pending", "running")

    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert emulator.stats()["cancels"] == 1
    assert (await adapter.poll(task)).state == "cancelled"  # cancelled, not deleted: still readable


async def test_a_repeated_cancel_says_stopped_again_without_another_delete(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    assert await adapter.cancel(task) is VendorCancel.STOPPED

    assert await adapter.cancel(task) is VendorCancel.STOPPED  # an activity retry after a lost answer
    assert emulator.stats()["cancels"] == 1


async def test_cancelling_a_finished_task_keeps_it_and_its_output(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"

    assert await adapter.cancel(task) is VendorCancel.FINISHED

    assert emulator.stats()["cancels"] == 0  # no DELETE: on a finished task it would delete the output
    status = await adapter.poll(task)
    assert status.state == "succeeded" and status.output_url is not None
    assert httpx.get(status.output_url).status_code == 200


async def test_cancelling_a_failed_task_says_finished(
    adapter: RunwayVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(outcome="fail")
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    assert (await poll_to_end(adapter, task))[-1].state == "failed"

    assert await adapter.cancel(task) is VendorCancel.FINISHED
    assert emulator.stats()["cancels"] == 0


async def test_a_deleted_task_is_finished_and_gone(adapter: RunwayVendor, emulator: EmulatorServer) -> None:
    task = await adapter.submit(VideoSpec(prompt="x"), "gen4.5", "k")
    output_url = (await poll_to_end(adapter, task))[-1].output_url or ""
    headers = {"Authorization": f"Bearer {runway.API_KEY}", "X-Runway-Version": API_VERSION}
    deleted = httpx.delete(f"{emulator.base_url}/v1/tasks/{task.task_id}", headers=headers)
    assert deleted.status_code == 204 and httpx.get(output_url).status_code == 404  # what DELETE does

    assert await adapter.cancel(task) is VendorCancel.FINISHED  # it ended; nothing of it is left to stop

    with pytest.raises(VendorError) as caught:
        await adapter.poll(task)
    assert (caught.value.code, caught.value.retryable, caught.value.accepted) == (
        ErrorCode.VENDOR_ERROR,
        False,
        True,
    )


def test_runway_offers_no_way_to_find_a_task_by_our_key(adapter: RunwayVendor) -> None:
    assert not isinstance(adapter, TaskFinder)
