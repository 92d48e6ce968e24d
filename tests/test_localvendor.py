"""The local vendor end to end: the real server subprocess, driven through the ``LocalVendor`` adapter."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from core.errors import ErrorCode, VendorError
from core.models import Aspect, Resolution, VendorCancel, VendorTask, VideoSpec
from tests.fixtures.localvendor import CannedResponse, LocalVendorServer, LoopbackHTTPServer
from vendors.base import VendorStatus
from vendors.local import LOCAL_MODEL, LocalVendor

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 60.0
) -> T:
    """Call ``probe`` until ``done`` holds for its result (the deadline only guards against hangs)."""
    async with asyncio.timeout(timeout):
        while True:
            result = await probe()
            if done(result):
                return result
            await asyncio.sleep(0.05)


async def _final_status(vendor: LocalVendor, task: VendorTask) -> VendorStatus:
    return await eventually(lambda: vendor.poll(task), lambda status: status.is_final)


def _is_rendering(status: VendorStatus) -> bool:
    return status.state == "running" and (status.progress or 0) > 0


def _key() -> str:
    return f"test-{uuid.uuid4()}"


def _spec(prompt: str = "a kite over the dunes", seconds: int = 2, **fields: Any) -> VideoSpec:
    return VideoSpec(prompt=prompt, duration_seconds=seconds, **fields)


async def _generation(server: LocalVendorServer, task_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.base_url}/v1/generations/{task_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def _stats(server: LocalVendorServer) -> dict[str, Any]:
    return await asyncio.to_thread(server.stats)


def _video_frames(video: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(video), mode="r") as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _png(colour: tuple[int, int, int]) -> bytes:
    pixels = np.zeros((360, 640, 3), dtype=np.uint8)
    pixels[:, :320] = colour
    pixels[:, 320:] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_submit_poll_and_download_through_the_adapter(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    task = await local_vendor.submit(_spec(), LOCAL_MODEL, _key())
    seen: list[VendorStatus] = []

    async def poll() -> VendorStatus:
        seen.append(await local_vendor.poll(task))
        return seen[-1]

    final = await eventually(poll, lambda status: status.is_final)

    assert task.vendor == "local" and task.task_id.startswith("gen_")
    assert final.state == "succeeded" and final.progress == 100 and final.cost_usd == 0
    progress = [status.progress or 0 for status in seen if status.state == "running"]
    assert progress == sorted(progress) and any(0 < p < 100 for p in progress)
    assert {status.state for status in seen} <= {"pending", "running", "succeeded"}
    assert final.output_url == f"{local_vendor_server.base_url}/v1/generations/{task.task_id}/video.mp4"
    async with httpx.AsyncClient() as client:
        head = await client.get(final.output_url, headers={"Range": "bytes=0-1023"})
        full = await client.get(final.output_url)
        thumbnail = await client.get(final.thumbnail_url or "")
    assert head.status_code == 206 and head.headers["content-type"] == "video/mp4"
    assert head.headers["content-length"] == "1024" and len(head.content) == 1024
    assert head.headers["content-range"] == f"bytes 0-1023/{len(full.content)}"
    assert head.content == full.content[:1024]
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    with av.open(io.BytesIO(full.content), mode="r") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
    assert len(_video_frames(full.content)) == 48


async def test_portrait_1080p_request_renders_at_that_size(local_vendor: LocalVendor) -> None:
    spec = _spec("a tall tower", seconds=1, aspect=Aspect.PORTRAIT, resolution=Resolution.P1080)
    task = await local_vendor.submit(spec, LOCAL_MODEL, _key())

    final = await _final_status(local_vendor, task)

    async with httpx.AsyncClient() as client:
        video = (await client.get(final.output_url or "")).content
    with av.open(io.BytesIO(video), mode="r") as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1080, 1920)


async def test_same_idempotency_key_and_body_returns_the_same_task_without_a_second_render(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    key = _key()
    before = await _stats(local_vendor_server)

    first = await local_vendor.submit(_spec("once only"), LOCAL_MODEL, key)
    second = await local_vendor.submit(_spec("once only"), LOCAL_MODEL, key)

    after = await _stats(local_vendor_server)
    assert second.task_id == first.task_id
    assert after["submissions"] - before["submissions"] == 1
    assert after["by_idempotency_key"][key] == 1 and after["replays_by_idempotency_key"][key] == 1
    final = await _final_status(local_vendor, first)
    assert final.state == "succeeded"
    assert (await _generation(local_vendor_server, first.task_id))["attempts"] == 1


async def test_same_idempotency_key_with_a_different_body_is_a_conflict(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    key = _key()
    await local_vendor.submit(_spec("the first body"), LOCAL_MODEL, key)

    with pytest.raises(VendorError) as raised:
        await local_vendor.submit(_spec("another body"), LOCAL_MODEL, key)

    assert raised.value.code is ErrorCode.IDEMPOTENCY_CONFLICT and not raised.value.retryable
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{local_vendor_server.base_url}/v1/generations",
            json={"model": LOCAL_MODEL, "prompt": "yet another", "duration_seconds": 1},
            headers={"Idempotency-Key": key},
        )
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_conflict"
    assert (await _stats(local_vendor_server))["by_idempotency_key"][key] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": LOCAL_MODEL, "prompt": "", "duration_seconds": 1}, "invalid_request"),
        ({"model": LOCAL_MODEL, "prompt": "x", "duration_seconds": 0}, "invalid_request"),
        ({"model": LOCAL_MODEL, "prompt": "x", "aspect": "4:3"}, "invalid_request"),
        ({"model": "sora-99", "prompt": "x"}, "unknown_model"),
        (
            {"model": LOCAL_MODEL, "prompt": "x", "reference_image_url": "ftp://nope"},
            "invalid_reference_image",
        ),
    ],
)
async def test_bad_requests_are_400_with_an_error_code(
    local_vendor_server: LocalVendorServer, body: dict[str, Any], code: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{local_vendor_server.base_url}/v1/generations", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


async def test_adapter_maps_a_rejected_request_to_invalid_input(local_vendor: LocalVendor) -> None:
    with pytest.raises(VendorError) as raised:
        await local_vendor.submit(_spec(), "no-such-model", _key())

    assert raised.value.code is ErrorCode.INVALID_INPUT
    assert not raised.value.retryable and not raised.value.accepted


async def test_adapter_maps_an_unknown_task_to_vendor_error(local_vendor: LocalVendor) -> None:
    task = VendorTask(
        vendor="local", model=LOCAL_MODEL, task_id="gen_missing", submitted_at="2025-01-01T00:00:00Z"
    )

    with pytest.raises(VendorError) as raised:
        await local_vendor.poll(task)

    assert raised.value.code is ErrorCode.VENDOR_ERROR and raised.value.accepted


async def test_reference_image_from_a_url_and_from_a_data_uri(local_vendor: LocalVendor) -> None:
    red, blue = _png((220, 20, 20)), _png((20, 20, 220))
    with LoopbackHTTPServer() as images:
        images.routes[("GET", "/red.png")] = CannedResponse(200, red, "image/png")
        by_url = await local_vendor.submit(
            _spec("from a url", seconds=1, reference_image_url=f"{images.base_url}/red.png"),
            LOCAL_MODEL,
            _key(),
        )
    data_uri = "data:image/png;base64," + base64.b64encode(blue).decode()
    by_data = await local_vendor.submit(
        _spec("inline", seconds=1, reference_image_url=data_uri), LOCAL_MODEL, _key()
    )

    for task, channel in ((by_url, 0), (by_data, 2)):
        final = await _final_status(local_vendor, task)
        assert final.state == "succeeded"
        async with httpx.AsyncClient() as client:
            video = (await client.get(final.output_url or "")).content
        first = _video_frames(video)[0].astype(int)
        left = first[:, : first.shape[1] // 4]  # the coloured half of the picture fills the left
        assert left[:, :, channel].mean() > left[:, :, 1].mean() + 100


async def test_unfetchable_reference_image_is_invalid_input(local_vendor: LocalVendor) -> None:
    with LoopbackHTTPServer() as images:  # answers 404 for every path
        spec = _spec(reference_image_url=f"{images.base_url}/missing.png")
        with pytest.raises(VendorError) as raised:
            await local_vendor.submit(spec, LOCAL_MODEL, _key())

    assert raised.value.code is ErrorCode.INVALID_INPUT and "404" in raised.value.message


async def test_cancel_mid_render_stops_the_render_process(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    # 20 s of video takes several seconds to encode, so the cancel lands mid-render.
    task = await local_vendor.submit(_spec("interrupted", seconds=20), LOCAL_MODEL, _key())
    await eventually(lambda: local_vendor.poll(task), _is_rendering)
    stopped_before = (await _stats(local_vendor_server))["renders"]["stopped"]

    assert await local_vendor.cancel(task) is VendorCancel.STOPPED

    assert (await local_vendor.poll(task)).state == "cancelled"
    renders = (await eventually(lambda: _stats(local_vendor_server), lambda s: s["renders"]["active"] == 0))[
        "renders"
    ]
    assert renders["stopped"] == stopped_before + 1  # the render saw the stop flag, it did not run to the end
    final = await local_vendor.poll(task)
    assert final.state == "cancelled" and final.output_url is None and (final.progress or 0) < 99
    assert not (local_vendor_server.tasks_dir / task.task_id / "video.mp4").exists()
    assert not list((local_vendor_server.tasks_dir / task.task_id).glob("*.part"))


async def test_a_killed_render_process_fails_its_task_and_the_next_task_still_renders(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    doomed = await local_vendor.submit(_spec("the render process dies", seconds=20), LOCAL_MODEL, _key())
    await eventually(lambda: local_vendor.poll(doomed), _is_rendering)
    (render_process,) = local_vendor_server.render_process_ids()

    os.kill(render_process, signal.SIGKILL)

    failed = await _final_status(local_vendor, doomed)
    assert failed.state == "failed" and failed.error is not None and "render_crashed" in failed.error.message
    after = await local_vendor.submit(_spec("a fresh pool", seconds=1), LOCAL_MODEL, _key())
    assert (await _final_status(local_vendor, after)).state == "succeeded"
    assert render_process not in local_vendor_server.render_process_ids()
    assert not list((local_vendor_server.tasks_dir / doomed.task_id).glob("*.part"))


async def test_tasks_queue_fifo_and_a_queued_task_can_be_cancelled(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer
) -> None:
    long = await local_vendor.submit(_spec("long", seconds=20), LOCAL_MODEL, _key())
    await eventually(lambda: local_vendor.poll(long), lambda status: status.state == "running")
    waiting = await local_vendor.submit(_spec("waits its turn", seconds=1), LOCAL_MODEL, _key())
    dropped = await local_vendor.submit(_spec("dropped while queued", seconds=1), LOCAL_MODEL, _key())

    assert (await local_vendor.poll(waiting)).state == "pending"  # one render process: it must wait
    assert await local_vendor.cancel(dropped) is VendorCancel.STOPPED
    assert await local_vendor.cancel(dropped) is VendorCancel.STOPPED  # a retried cancel: still stopped
    assert await local_vendor.cancel(long) is VendorCancel.STOPPED

    final = await _final_status(local_vendor, waiting)
    assert final.state == "succeeded"
    dropped_task = await _generation(local_vendor_server, dropped.task_id)
    assert dropped_task["status"] == "cancelled" and dropped_task["attempts"] == 0


async def test_cancel_after_success_says_finished_and_leaves_the_task_unchanged(
    local_vendor: LocalVendor,
) -> None:
    task = await local_vendor.submit(_spec("done already", seconds=1), LOCAL_MODEL, _key())
    await _final_status(local_vendor, task)

    assert await local_vendor.cancel(task) is VendorCancel.FINISHED

    status = await local_vendor.poll(task)
    assert status.state == "succeeded" and status.output_url is not None
    async with httpx.AsyncClient() as client:
        assert (await client.get(status.output_url)).status_code == 200


@pytest.mark.parametrize("crash", [True, False], ids=["sigkill", "sigterm"])
async def test_restart_mid_render_finishes_the_task_and_keeps_old_ones(
    local_vendor: LocalVendor, local_vendor_server: LocalVendorServer, crash: bool
) -> None:
    old = await local_vendor.submit(_spec("rendered before the crash", seconds=1), LOCAL_MODEL, _key())
    old_final = await _final_status(local_vendor, old)
    async with httpx.AsyncClient() as client:
        old_video = (await client.get(old_final.output_url or "")).content
    key = _key()
    task = await local_vendor.submit(_spec("survives a restart", seconds=5), LOCAL_MODEL, key)
    await eventually(lambda: local_vendor.poll(task), _is_rendering)

    await asyncio.to_thread(local_vendor_server.restart, crash=crash)

    final = await _final_status(local_vendor, task)
    assert final.state == "succeeded"
    assert (await _generation(local_vendor_server, task.task_id))["attempts"] == 2  # really restarted
    assert (
        await local_vendor.submit(_spec("survives a restart", seconds=5), LOCAL_MODEL, key)
    ).task_id == task.task_id
    async with httpx.AsyncClient() as client:
        assert (await client.get(old_final.output_url or "")).content == old_video
        video = (await client.get(final.output_url or "")).content
    assert len(_video_frames(video)) == 5 * 24
    assert not [p for p in Path(local_vendor_server.tasks_dir).rglob("*.part")]
