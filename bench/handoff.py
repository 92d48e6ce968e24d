"""From the vendor's "done" to the job ``succeeded``, for a 5 MB video, against an upload plus one round trip.

Ours, per job (API → worker → the fal emulator, which serves a real 5 MB 1080p H.264 file as the output,
the embedded default's local-file storage): from the moment Temporal recorded the poll activity's
completion (it returns as soon as the vendor answered "done" and its result) to the workflow's
completion, both read from the job's history (server clock). In between: the workflow task that schedules
the rehost, the download and store of the 5 MB (sha256, fsync, rename), the probe and thumbnail, the
settlement in the accounts DB, and the workflow task that finishes with the final snapshot in the memo.

The baseline is the least any design must do with those bytes: download the same file from the emulator
and write it to a local file with fsync, plus one workflow round trip (start a trivial workflow on a
worker in this process and wait for its result), on the same server. How soon the poll notices "done"
(half the poll interval on average, 15 s at most at the default backoff) comes before both and is left out.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path

import httpx
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.media import write_clip
from bench.report import Row, ratio_text
from bench.sampling import wait_until
from bench.services import BenchRun, api_client
from core.models import JobSnapshot, Resolution
from workflows.video_job import POLL

TARGET = 1.5
JOB_BODY = {"prompt": "a heron landing on a lake", "vendor": "fal", "duration_seconds": 8}


@workflow.defn(name="BenchRoundTrip")
class RoundTrip:
    """One workflow task and done: the cheapest complete trip through Temporal and a worker."""

    @workflow.run
    async def run(self) -> str:
        return "done"


async def handoff_seconds(client: Client, job_id: str) -> float:
    """Poll activity completed → workflow completed, from the job's history."""
    history = await client.get_workflow_handle(job_id).fetch_history()
    scheduled: dict[int, str] = {}
    done_at = end_at = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            if scheduled[event.activity_task_completed_event_attributes.scheduled_event_id] == POLL:
                done_at = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            end_at = event.event_time.ToDatetime()
    if done_at is None or end_at is None:
        raise RuntimeError(f"job {job_id} did not poll to the end and complete")
    return (end_at - done_at).total_seconds()


async def raw_handoff_seconds(client: Client, task_queue: str, video_url: str, folder: Path) -> float:
    """Download + write + fsync the same bytes, then one workflow round trip."""
    started = time.perf_counter()
    async with httpx.AsyncClient() as http, http.stream("GET", video_url) as response:
        response.raise_for_status()
        with (folder / "raw.mp4").open("wb") as out:
            async for chunk in response.aiter_bytes(1024 * 1024):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    await client.execute_workflow(RoundTrip.run, id=f"bench-rt-{uuid.uuid4().hex}", task_queue=task_queue)
    return time.perf_counter() - started


async def vendor_output_url(client: Client, emulator_url: str, job_id: str) -> str:
    """Where the emulator serves the job's output (the task id is in the job's final snapshot)."""
    snapshot = await (await client.get_workflow_handle(job_id).describe()).memo_value(
        "job", type_hint=JobSnapshot
    )
    task_id = snapshot.attempts[-1].task_id
    return f"{emulator_url}/_files/{task_id}.mp4"


async def handoff_rows(run: BenchRun) -> list[Row]:
    jobs = 3 if run.quick else 12
    folder = run.folder("handoff")
    size = write_clip(folder / "clip.mp4", seconds=5, resolution=Resolution.P1080, bitrate="8400k")
    emulator = run.fal
    emulator.reset()
    # Done at the first poll: the measured stretch starts there anyway, and the run stays short.
    emulator.configure(polls_to_finish=0, output_file=str(folder / "clip.mp4"))
    client = await run.client()
    round_trip_queue = f"bench-round-trip-{uuid.uuid4().hex[:6]}"
    ours: list[float] = []
    raw: list[float] = []
    with run.stack("handoff") as stack:
        await run.wait_for_worker(stack)
        runner = UnsandboxedWorkflowRunner()
        worker = Worker(client, task_queue=round_trip_queue, workflows=[RoundTrip], workflow_runner=runner)
        async with worker, api_client(stack, connections=2) as http:
            for index in range(jobs + 1):  # the first of each warms up (connections, caches), not counted
                created = await http.post("/v1/video/generate", json=JOB_BODY)
                created.raise_for_status()
                job_id: str = created.json()["job_id"]

                async def finished(job_id: str = job_id) -> bool:
                    response = await http.get(f"/v1/video/jobs/{job_id}")
                    return bool(response.json()["state"] in ("succeeded", "failed", "cancelled"))

                await wait_until(finished, timeout=120, interval=0.1, what=f"job {job_id} finishing")
                state = (await http.get(f"/v1/video/jobs/{job_id}")).json()["state"]
                if state != "succeeded":
                    raise RuntimeError(f"job {job_id} ended {state}")
                source = await vendor_output_url(client, emulator.url, job_id)
                ours_seconds = await handoff_seconds(client, job_id)
                raw_seconds = await raw_handoff_seconds(client, round_trip_queue, source, folder)
                if index:
                    ours.append(ours_seconds)
                    raw.append(raw_seconds)
    ours_median, raw_median = statistics.median(ours), statistics.median(raw)
    return [
        Row(
            measure=f"vendor done → job `succeeded`, {size / 1e6:.1f} MB video (median of {jobs})",
            ours=f"{ours_median * 1000:.0f} ms (max {max(ours) * 1000:.0f})",
            baseline=f"download + write + 1 workflow round trip: {raw_median * 1000:.0f} ms",
            ratio=ratio_text(ours_median, raw_median),
            target=f"≤ {TARGET}x",
            met=ours_median <= TARGET * raw_median,
        )
    ]
