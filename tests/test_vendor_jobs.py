"""Every paid vendor through the whole product: API → Temporal → worker → the vendor's loopback emulator →
rehost → a playable MP4 in our storage, with the vendor, model and cost on the ``VideoJob``. Also: routing
preferences visible on the job, a vendor-reported cost settled as reported, and an expired output URL."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import av
import httpx
import pytest

from tests.fixtures.vendor_stack import EmulatedVendors
from vendors.catalog import load_catalog


@dataclass(frozen=True)
class Case:
    vendor: str
    model: str
    request: dict[str, Any]  # what the customer sends besides the prompt
    reports_progress: bool  # the vendor's status carries a percentage (others only say "running")

    def __str__(self) -> str:
        return f"{self.vendor}/{self.model}"


CASES = [
    Case("google", "veo-3.1-fast", {"duration_seconds": 8}, reports_progress=False),
    Case("runway", "gen4.5", {"duration_seconds": 5}, reports_progress=True),
    Case("luma", "ray-2", {"duration_seconds": 5}, reports_progress=False),
    Case("luma", "ray-3.2", {"duration_seconds": 5, "aspect": "9:16"}, reports_progress=False),
    Case("replicate", "google/veo-3.1-fast", {"duration_seconds": 6}, reports_progress=True),
    Case("fal", "fal-ai/veo3/fast", {"duration_seconds": 8}, reports_progress=False),
    Case("minimax", "MiniMax-Hailuo-02", {"duration_seconds": 6}, reports_progress=False),
    Case("kling", "kling-v2-5-turbo", {"duration_seconds": 5, "resolution": "1080p"}, reports_progress=False),
]


def estimate(case: Case) -> Decimal:
    entry = load_catalog().model(case.vendor, case.model)
    assert entry is not None
    resolution = case.request.get("resolution", "720p")
    return entry.price_per_second(resolution) * case.request["duration_seconds"]


def playable(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {"codec": stream.codec_context.name, "size": (stream.width, stream.height), "frames": frames}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_job_runs_through_each_vendor_to_a_playable_video(case: Case, emulated: EmulatedVendors) -> None:
    emulator = emulated[case.vendor]
    emulator.configure(polls_to_finish=3, hold=True)  # keep it generating until we have looked
    response = emulated.stack.generate(
        prompt=f"a heron over a lake, by {case.vendor}", vendor=case.vendor, model=case.model, **case.request
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert (response.json()["vendor"], response.json()["model"]) == (case.vendor, case.model)

    if case.reports_progress:  # the vendor's own percentage, read from the poll's heartbeat
        generating = emulated.stack.wait_for(job_id, lambda job: (job["progress"] or 0) > 0)
        assert generating["stage"] == "generating" and 0 < generating["progress"] < 100
    else:
        generating = emulated.stack.wait_for(job_id, lambda job: job["stage"] == "generating")
        assert generating["progress"] is None  # no invented progress for vendors that report none
    emulator.configure(polls_to_finish=3)  # release

    job = emulated.stack.wait_final(job_id)
    assert job["state"] == "succeeded", job
    assert (job["vendor"], job["model"], job["progress"], job["error"]) == (
        case.vendor,
        case.model,
        100,
        None,
    )
    assert Decimal(job["cost"]["estimated_usd"]) == estimate(case)
    assert Decimal(job["cost"]["settled_usd"]) == estimate(case)
    video = playable(job["video_url"])
    assert video == {"codec": "h264", "size": (320, 180), "frames": 24}  # the emulator's clip, rehosted
    assert (job["video"]["width"], job["video"]["height"]) == (320, 180)
    assert not job["video_url"].startswith(emulator.url)  # served by us, not by the vendor's URL
    stats = emulator.stats()
    assert (stats["submissions"], stats["accepted"]) == (1, 1)
    assert stats["polls"] >= 4 and stats["downloads"] >= 1


def test_prefer_picks_the_cheapest_or_the_smartest_vendor(emulated: EmulatedVendors) -> None:
    spec = {"duration_seconds": 5, "resolution": "720p", "aspect": "16:9"}
    cheapest, smartest = emulated.route("cheapest", **spec)[0], emulated.route("smartest", **spec)[0]
    assert cheapest.vendor != smartest.vendor  # the two preferences really disagree for this request
    jobs = {}
    for prefer, expected in (("cheapest", cheapest), ("smartest", smartest)):
        response = emulated.stack.generate(prompt="a paper lantern rising", prefer=prefer, **spec)
        assert response.status_code == 202, response.text
        assert (response.json()["vendor"], response.json()["model"]) == (expected.vendor, expected.model)
        jobs[prefer] = (response.json()["job_id"], expected)
    for job_id, expected in jobs.values():
        job = emulated.stack.wait_final(job_id)
        assert job["state"] == "succeeded", job
        assert (job["vendor"], job["model"]) == (expected.vendor, expected.model)
        assert Decimal(job["cost"]["settled_usd"]) == expected.estimated_cost_usd


def test_a_vendor_reported_cost_is_what_gets_settled(emulated: EmulatedVendors) -> None:
    # fal reports what it billed in x-fal-billable-units (seconds for this model): 6.4 s of an 8 s request.
    emulated["fal"].configure(billable_units=6.4)
    response = emulated.stack.generate(
        prompt="a kite at dusk", vendor="fal", model="fal-ai/veo3/fast", duration_seconds=8
    )
    job = emulated.stack.wait_final(response.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["cost"]["estimated_usd"] == "1.20"  # 8 s x $0.15
    assert job["cost"]["settled_usd"] == "0.96"  # 6.4 units x $0.15, as fal reported


def test_an_output_url_that_expired_before_rehost_fails_the_job_clearly(emulated: EmulatedVendors) -> None:
    emulated["runway"].configure(output_url_ttl_seconds=0)  # presigned URL already dead when fetched
    response = emulated.stack.generate(
        prompt="a glass of water", vendor="runway", model="gen4.5", duration_seconds=5
    )
    job = emulated.stack.wait_final(response.json()["job_id"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "vendor_error"
    assert "403" in job["error"]["message"] and "expired" in job["error"]["message"]
    assert job["error"]["billed"] is False and job["cost"]["settled_usd"] == "0.00"
    assert job["video_url"] is None
    assert emulated["runway"].stats()["expired_downloads"] == 1  # refused once, not retried into a hang
