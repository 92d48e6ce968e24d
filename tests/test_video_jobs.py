"""A video job end to end through the real processes: API (uvicorn) → Temporal → worker → local vendor →
storage, and back out as a signed URL to a playable MP4."""

from __future__ import annotations

import base64
import io

import av
import httpx
import pytest
from PIL import Image
from temporalio.client import Client

from core.models import JobSnapshot
from tests.fixtures.stack import Stack
from tests.mp4_probe import probe_mp4
from workflows.video_job import STATUS_QUERY


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def test_generate_answers_202_with_location_and_a_queued_job(live_stack: Stack) -> None:
    response = live_stack.generate(prompt="a paper boat on a pond")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["job_id"].startswith("vid_")
    assert response.headers["location"] == f"/v1/video/jobs/{job['job_id']}"
    assert job["state"] in ("queued", "running")
    assert job["vendor"] == "local" and job["model"]
    assert job["cost"]["estimated_usd"] == "0.00"


def test_a_job_ends_with_a_playable_mp4_of_the_asked_shape(live_stack: Stack) -> None:
    response = live_stack.generate(prompt="a lighthouse at night", duration_seconds=2, aspect="9:16")
    job = live_stack.wait_final(response.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["error"] is None and job["finished_at"] and job["progress"] == 100
    video = probe_mp4(_download(job["video_url"]))
    assert video["codec"] == "h264"
    assert (video["width"], video["height"]) == (720, 1280)
    assert video["frames"] == 48
    assert video["duration"] == pytest.approx(2.0, abs=0.1)
    assert job["video"]["width"] == 720 and job["video"]["height"] == 1280
    assert job["video"]["size_bytes"] > 1000 and len(job["video"]["sha256"]) == 64
    thumbnail = Image.open(io.BytesIO(_download(job["thumbnail_url"])))
    assert thumbnail.format == "JPEG" and thumbnail.height > thumbnail.width


def test_each_status_call_mints_a_fresh_signed_url_that_supports_ranges(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="rain on a window").json()["job_id"]
    first = live_stack.wait_final(job_id)
    second = live_stack.job(job_id)
    assert first["video_url"] and second["video_url"]
    partial = httpx.get(second["video_url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert partial.status_code == 206
    assert partial.headers["content-type"] == "video/mp4"
    assert len(partial.content) == 100
    tampered = second["video_url"].replace("sig=", "sig=0")
    assert httpx.get(tampered, timeout=30).status_code == 403


def test_a_reference_image_is_animated(live_stack: Stack) -> None:
    image = Image.new("RGB", (320, 180), (200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    job_id = live_stack.generate(prompt="zoom into the red", reference_image_url=data_uri).json()["job_id"]
    job = live_stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    with av.open(io.BytesIO(_download(job["video_url"]))) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = (frame[..., channel].mean() for channel in range(3))
    assert red > green + 60 and red > blue + 60  # the frame is mostly the reference image's red


def test_same_idempotency_key_and_body_returns_the_same_job(live_stack: Stack) -> None:
    first = live_stack.generate(prompt="a koi pond", idempotency_key="idem-same-1")
    second = live_stack.generate(prompt="a koi pond", idempotency_key="idem-same-1")
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["job_id"] == second.json()["job_id"]
    with live_stack.client() as client:
        via_header = client.post(
            "/v1/video/generate",
            json={"prompt": "a koi pond", "duration_seconds": 1},
            headers={"Idempotency-Key": "idem-same-1"},
        )
    assert via_header.status_code == 200 and via_header.json()["job_id"] == first.json()["job_id"]


def test_same_idempotency_key_with_a_different_body_is_409(live_stack: Stack) -> None:
    first = live_stack.generate(prompt="a koi pond", idempotency_key="idem-conflict-1")
    conflict = live_stack.generate(prompt="a different pond", idempotency_key="idem-conflict-1")
    assert first.status_code == 202
    assert conflict.status_code == 409
    problem = conflict.json()
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "idempotency_conflict" and problem["status"] == 409
    assert live_stack.job(first.json()["job_id"])["state"] in ("queued", "running", "succeeded")


def test_idempotent_retry_after_the_job_finished_still_returns_it(live_stack: Stack) -> None:
    first = live_stack.generate(prompt="snow falling", idempotency_key="idem-after-done")
    done = live_stack.wait_final(first.json()["job_id"])
    again = live_stack.generate(prompt="snow falling", idempotency_key="idem-after-done")
    assert again.status_code == 200
    assert again.json()["job_id"] == done["job_id"] and again.json()["state"] == "succeeded"


async def _snapshot(temporal: Client, job_id: str) -> JobSnapshot:
    handle = temporal.get_workflow_handle(job_id)
    result: JobSnapshot = await handle.query(STATUS_QUERY, result_type=JobSnapshot)
    return result


async def test_cancel_mid_generation_stops_the_vendor_task(
    live_stack: Stack, temporal_client: Client
) -> None:
    job_id = live_stack.generate(prompt="a long slow sunrise", duration_seconds=30).json()["job_id"]
    live_stack.wait_for(job_id, lambda job: job["stage"] == "generating")
    task_id = (await _snapshot(temporal_client, job_id)).attempts[-1].task_id
    with live_stack.client() as client:
        cancelled = client.post(f"/v1/video/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["ok"] is True
    job = live_stack.wait_final(job_id)
    assert job["state"] == "cancelled"
    assert job["error"]["code"] == "cancelled" and job["error"]["billed"] is False
    assert job["cost"]["settled_usd"] == "0.00"
    vendor_task = httpx.get(f"{live_stack.vendor_url}/v1/generations/{task_id}", timeout=10).json()
    assert vendor_task["status"] == "cancelled"


def test_cancel_of_a_finished_job_answers_ok_false_with_its_state(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a spinning top").json()["job_id"]
    live_stack.wait_final(job_id)
    with live_stack.client() as client:
        response = client.post(f"/v1/video/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json() == {"ok": False, "job_id": job_id, "state": "succeeded"}


def test_cancel_twice_is_harmless(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a candle flame", duration_seconds=30).json()["job_id"]
    with live_stack.client() as client:
        first = client.post(f"/v1/video/jobs/{job_id}/cancel")
        second = client.post(f"/v1/video/jobs/{job_id}/cancel")
    assert first.json()["ok"] is True and second.status_code == 200
    assert live_stack.wait_final(job_id)["state"] == "cancelled"
    with live_stack.client() as client:
        third = client.post(f"/v1/video/jobs/{job_id}/cancel")
    assert third.json() == {"ok": True, "job_id": job_id, "state": "cancelled"}


def test_closed_job_status_works_with_no_worker_running(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a windmill").json()["job_id"]
    done = live_stack.wait_final(job_id)
    live_stack.stop("worker")
    try:
        again = live_stack.job(job_id)
        assert again["state"] == "succeeded" and again["video"] == done["video"]
        assert again["video_url"]
        assert probe_mp4(_download(again["video_url"]))["codec"] == "h264"
    finally:
        live_stack.start("worker")
