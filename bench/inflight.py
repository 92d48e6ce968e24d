"""A thousand jobs in flight on one worker process, each polled by its own heartbeating activity.

The jobs are started through the API (which also gives the API's sustained generate rate) against the fal
emulator holding every task "running", with production timings: the first poll after 1 s, backing off
by 1.5x to one every 15 s, a heartbeat per poll. Once every job has reached that steady interval the
worker's CPU (user + system, from /proc) is measured over a window, along with its resident memory,
which is also sampled (for its peak) from the first start on. The worker serves every role, as the
embedded stack's does. The jobs are then left to the run's cleanup: the whole server goes away with it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bench.report import Row
from bench.sampling import MiB, ProcessSample, cores_used, drive, sample_process, wait_until
from bench.services import BenchRun, api_client

JOB_BODY = {"prompt": "a swarm of starlings at dusk", "vendor": "fal", "duration_seconds": 8}
RSS_LIMIT = 300 * MiB
# Polls back off 1 s → 15 s by 1.5x: the 8th waits 15 s, about 47 s after the first.
STEADY_AFTER_SECONDS = 50.0


@dataclass
class RssWatch:
    """Samples a process every second until stopped; keeps the peak."""

    pid: int
    peak: int = 0
    samples: list[ProcessSample] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sample = sample_process(self.pid)
            self.samples.append(sample)
            self.peak = max(self.peak, sample.rss_bytes)
            await asyncio.sleep(1.0)


async def inflight_rows(run: BenchRun) -> list[Row]:
    jobs = 60 if run.quick else 1000
    window = 5.0 if run.quick else 30.0
    steady_after = 5.0 if run.quick else STEADY_AFTER_SECONDS
    emulator = run.fal
    emulator.reset()
    emulator.configure(polls_to_finish=1, hold=True)
    with run.stack("inflight") as stack:
        await run.wait_for_worker(stack)
        worker_pid = stack.processes["worker"].pid
        idle = sample_process(worker_pid)
        stop = asyncio.Event()
        watch = RssWatch(worker_pid)
        watcher = asyncio.create_task(watch.run(stop))
        try:
            started = time.monotonic()
            async with api_client(stack, connections=32) as http:

                async def generate(_: int) -> None:
                    response = await http.post("/v1/video/generate", json=JOB_BODY)
                    if response.status_code != 202:
                        raise RuntimeError(f"generate answered {response.status_code}: {response.text[:200]}")

                await drive(generate, requests=jobs, concurrency=32)
            generated = time.monotonic()

            async def all_accepted() -> bool:
                return emulator.stats()["accepted"] >= jobs

            await wait_until(all_accepted, timeout=600, interval=0.5, what=f"{jobs} vendor tasks accepted")
            accepted = time.monotonic()
            await asyncio.sleep(steady_after)
            polls_before = emulator.stats()["polls"]
            first = sample_process(worker_pid)
            await asyncio.sleep(window)
            last = sample_process(worker_pid)
            polls = emulator.stats()["polls"] - polls_before
        finally:
            stop.set()
            await watcher
    cpu = cores_used(first, last)
    rss = f"RSS {last.rss_bytes / MiB:.0f} MB (peak {watch.peak / MiB:.0f}, idle {idle.rss_bytes / MiB:.0f})"
    note = (
        f"started through the API at {jobs / (generated - started):.0f} jobs/s (concurrency 32); all "
        f"{jobs} accepted by the vendor {accepted - started:.0f} s after the first "
        f"({jobs / (accepted - started):.0f} jobs/s through one worker); CPU measured over {window:.0f} s "
        "once polls had backed off to every 15 s"
    )
    return [
        Row(
            measure=f"{jobs:,} jobs in flight on one worker, emulated vendor polled with heartbeats",
            ours=f"{rss}; poll CPU {cpu:.2f} core at {polls / window:.0f} polls/s",
            target="1,000 jobs, RSS ≤ 300 MB, CPU well under one core",
            met=jobs >= 1000 and watch.peak <= RSS_LIMIT and cpu < 0.5,
            note=note,
        )
    ]
