"""Honest ETAs on the real stack (API, worker, Temporal, accounts DB) with vendors emulated on loopback:
each finished job's vendor time is measured per (vendor, model, resolution, duration) bucket, the models
listing shows the bucket's p50/p90 computed from exactly those samples, and running jobs carry an ETA and
fal's queue position, on status and on the event stream."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.vendor_emulators import emulator_environment
from tests.fixtures.vendor_stack import VENDOR_STACK_TIMINGS

FAL_MODEL = "fal-ai/veo3/fast"
MIN_SAMPLES = 3


@pytest.fixture(scope="module")
def eta_stack(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    vendor_emulators: dict[str, EmulatorServer],
) -> Iterator[Stack]:
    """A stack of its own: the bucket table is read afresh on every call (no cache), and three samples
    make a bucket count."""
    overrides = {
        **emulator_environment(vendor_emulators),
        **VENDOR_STACK_TIMINGS,
        "INFRAI_ETA_CACHE_SECONDS": "0",
        "INFRAI_ETA_MIN_SAMPLES": str(MIN_SAMPLES),
    }
    with started_stack(temporal_server, tmp_path_factory.mktemp("eta-stack"), **overrides) as running:
        yield running


@pytest.fixture
def fal(eta_stack: Stack, vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:
    eta_stack.ensure_running()
    vendor_emulators["fal"].reset()
    return vendor_emulators["fal"]


def recorded_samples(stack: Stack, model: str, resolution: str, duration: int) -> dict[str, int]:
    """The bucket's measured vendor times as the accounts DB holds them: job id -> milliseconds."""
    with sqlite3.connect(Path(stack.data_dir) / "accounts.db") as db:
        rows = db.execute(
            "SELECT job_id, vendor_ms FROM vendor_timings"
            " WHERE model = ? AND resolution = ? AND duration_seconds = ?",
            (model, resolution, duration),
        ).fetchall()
    return {str(job_id): int(ms) for job_id, ms in rows}


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] / 1000


def measured_bucket(stack: Stack, model: str, resolution: str, duration: int) -> dict[str, Any] | None:
    with stack.client() as client:
        listing = client.get("/v1/video/models").json()
    entry = next(item for item in listing["data"] if item["model"] == model)
    return next(
        (
            bucket
            for bucket in entry["measured_latency"]
            if bucket["resolution"] == resolution and bucket["duration_seconds"] == duration
        ),
        None,
    )


def test_bucket_percentiles_are_those_of_the_measured_vendor_times(
    eta_stack: Stack, fal: EmulatorServer
) -> None:
    fal.configure(polls_to_finish=3)
    jobs = []
    for n in range(MIN_SAMPLES + 2):
        response = eta_stack.generate(
            prompt=f"a lighthouse in fog, take {n}", vendor="fal", model=FAL_MODEL, duration_seconds=4
        )
        assert response.status_code == 202, response.text
        jobs.append(response.json())
    finished = [eta_stack.wait_final(job["job_id"]) for job in jobs]
    assert [job["state"] for job in finished] == ["succeeded"] * len(jobs)

    recorded = recorded_samples(eta_stack, FAL_MODEL, "720p", 4)
    assert set(recorded) == {job["job_id"] for job in finished}  # one per finished job, none twice
    for job in finished:  # a vendor time lies inside its job's own life
        life = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])
        assert 0 < recorded[job["job_id"]] / 1000 <= life.total_seconds()
    samples = list(recorded.values())
    bucket = measured_bucket(eta_stack, FAL_MODEL, "720p", 4)
    assert bucket is not None
    assert bucket["samples"] == len(samples)
    assert bucket["p50_seconds"] == percentile(samples, 0.5)
    assert bucket["p90_seconds"] == percentile(samples, 0.9)
    assert bucket["used_for_eta"] is True


def test_a_running_job_carries_its_eta_and_fals_queue_position(eta_stack: Stack, fal: EmulatorServer) -> None:
    fal.steer("queued", queue_position=2)
    response = eta_stack.generate(
        prompt="a harbour at dawn [[queued]]", vendor="fal", model=FAL_MODEL, duration_seconds=6
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["eta_source"] == "catalog"  # nothing measured at 6 s yet
    assert started["eta_seconds"] is not None and started["expected_finish_at"] is not None

    job = eta_stack.wait_for(started["job_id"], lambda job: job.get("queue_position") == 2)
    assert job["state"] == "running" and job["stage"] == "generating"
    assert job["eta_source"] == "catalog"
    assert job["eta_seconds"] >= 0
    expected = datetime.fromisoformat(job["expected_finish_at"])
    assert expected >= datetime.fromisoformat(job["created_at"])

    event = first_event(eta_stack, started["job_id"])
    assert event["queue_position"] == 2
    assert event["eta_seconds"] is not None and event["eta_source"] == "catalog"

    fal.steer("queued")  # the queue moves: the task runs and finishes
    final = eta_stack.wait_final(started["job_id"])
    assert final["state"] == "succeeded"
    assert final["eta_seconds"] is None and final["queue_position"] is None


def test_a_bucket_with_enough_samples_gives_measured_etas(eta_stack: Stack, fal: EmulatorServer) -> None:
    fal.configure(polls_to_finish=2)
    for n in range(MIN_SAMPLES):
        job_id = eta_stack.generate(
            prompt=f"a kite, take {n}", vendor="fal", model=FAL_MODEL, duration_seconds=8
        ).json()["job_id"]
        assert eta_stack.wait_final(job_id)["state"] == "succeeded"
    fal.configure(hold=True, polls_to_finish=2)
    job_id = eta_stack.generate(
        prompt="a kite, held", vendor="fal", model=FAL_MODEL, duration_seconds=8
    ).json()["job_id"]
    running = eta_stack.wait_for(job_id, lambda job: job["stage"] == "generating")
    assert running["eta_source"] == "measured"
    fal.configure(hold=False, polls_to_finish=2)
    assert eta_stack.wait_final(job_id)["state"] == "succeeded"


def first_event(stack: Stack, job_id: str) -> dict[str, Any]:
    with (
        stack.client() as client,
        client.stream("GET", f"/v1/video/jobs/{job_id}/events", timeout=60) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                event: dict[str, Any] = json.loads(line.removeprefix("data:").strip())
                return event
    raise AssertionError("the stream ended without an event")
