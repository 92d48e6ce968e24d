"""Kling adapter specifics: the JWT, task families, mode for size, string durations, raw base64 images."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import jwt
import pytest

from core.models import Resolution, VendorCancel, VideoSpec
from tests.emulators import kling
from tests.emulators.media import sample_png
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.base import TaskFinder
from vendors.kling import KlingVendor


@pytest.fixture
def emulator(vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators["kling"]
    server.reset()
    return server


@pytest.fixture
async def adapter(emulator: EmulatorServer) -> AsyncIterator[KlingVendor]:
    vendor = KlingVendor(kling.ACCESS_KEY, kling.SECRET_KEY, base_url=emulator.base_url, options=TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


def test_the_token_is_an_hs256_jwt_issued_by_the_access_key(adapter: KlingVendor) -> None:
    token = adapter._headers()["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, kling.SECRET_KEY, algorithms=["HS256"])
    assert claims["iss"] == kling.ACCESS_KEY
    assert claims["exp"] - claims["nbf"] == 1805
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


async def test_size_is_chosen_by_mode_and_duration_is_a_string(
    adapter: KlingVendor, emulator: EmulatorServer
) -> None:
    await adapter.submit(VideoSpec(prompt="p", duration_seconds=10), "kling-v2-5-turbo", "job-7:1")
    sent = emulator.last_submit()
    assert (sent["family"], sent["mode"], sent["duration"]) == ("text2video", "std", "10")
    assert sent["external_task_id"] == "job-7:1"
    await adapter.submit(VideoSpec(prompt="p", resolution=Resolution.P1080), "kling-v2-5-turbo", "k")
    assert emulator.last_submit()["mode"] == "pro"


async def test_an_image_task_is_created_and_polled_in_the_image2video_family(
    adapter: KlingVendor, emulator: EmulatorServer
) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(sample_png()).decode()
    task = await adapter.submit(VideoSpec(prompt="p", reference_image_url=data_uri), "kling-v2-5-turbo", "k")
    sent = emulator.last_submit()
    assert sent["family"] == "image2video" and base64.b64decode(sent["image"]) == sample_png()
    assert task.links == {"family": "image2video"}
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"  # the emulator 404s the wrong family


async def test_a_task_is_found_again_by_its_external_task_id(
    adapter: KlingVendor, emulator: EmulatorServer
) -> None:
    spec = VideoSpec(prompt="a kite", duration_seconds=5)
    created = await adapter.submit(spec, "kling-v2-5-turbo", "vid_abc-0")
    found = await adapter.find_task(spec, "kling-v2-5-turbo", "vid_abc-0")
    assert found is not None and (found.task_id, found.links) == (created.task_id, created.links)
    assert await adapter.find_task(spec, "kling-v2-5-turbo", "vid_never-0") is None
    assert emulator.stats()["accepted"] == 1


async def test_kling_has_no_cancel_so_the_task_runs_to_its_end(
    adapter: KlingVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(VideoSpec(prompt="p"), "kling-v2-5-turbo", "k")

    assert await adapter.cancel(task) is VendorCancel.UNSUPPORTED

    assert emulator.stats()["cancels"] == 0
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"


async def test_an_image_task_is_found_again_in_its_own_family(
    adapter: KlingVendor, emulator: EmulatorServer
) -> None:
    assert isinstance(adapter, TaskFinder)
    spec = VideoSpec(prompt="p", reference_image_url="https://x.example/a.png")
    created = await adapter.submit(spec, "kling-v2-5-turbo", "vid_img-0")

    found = await adapter.find_task(spec, "kling-v2-5-turbo", "vid_img-0")

    assert found is not None and (found.task_id, found.links) == (created.task_id, {"family": "image2video"})
    assert emulator.stats()["accepted"] == 1
