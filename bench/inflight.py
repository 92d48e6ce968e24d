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
from tests.fixtures.stack import Stack

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


@dataclass
class Held:
    """What one layout measured with every job in flight."""

    started: float
    generated: float
    accepted: float
    cpu: float
    polls_per_second: float
    rss: dict[str, tuple[ProcessSample, ProcessSample, int]]  # process → (idle, steady, peak)


async def _hold_jobs(run: BenchRun, stack: Stack, pids: dict[str, int], jobs: int) -> Held:
    """Start ``jobs`` through the API, wait until every one is polled at the steady interval, then sample
    the ``pids``' memory and the poll process's (the first of ``pids``) CPU over a window."""
    window = 5.0 if run.quick else 30.0
    steady_after = 5.0 if run.quick else STEADY_AFTER_SECONDS
    emulator = run.fal
    emulator.reset()
    emulator.configure(polls_to_finish=1, hold=True)
    await run.wait_for_worker(stack)
    idle = {name: sample_process(pid) for name, pid in pids.items()}
    stop = asyncio.Event()
    watches = {name: RssWatch(pid) for name, pid in pids.items()}
    watchers = [asyncio.create_task(watch.run(stop)) for watch in watches.values()]
    poll_pid = next(iter(pids.values()))
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
        first = sample_process(poll_pid)
        await asyncio.sleep(window)
        last = sample_process(poll_pid)
        polls = emulator.stats()["polls"] - polls_before
        steady = {name: sample_process(pid) for name, pid in pids.items()}
    finally:
        stop.set()
        await asyncio.gather(*watchers)
    rss = {name: (idle[name], steady[name], watches[name].peak) for name in pids}
    return Held(started, generated, accepted, cores_used(first, last), polls / window, rss)


def _rss(samples: tuple[ProcessSample, ProcessSample, int]) -> str:
    idle, steady, peak = samples
    return f"RSS {steady.rss_bytes / MiB:.0f} MB (peak {peak / MiB:.0f}, idle {idle.rss_bytes / MiB:.0f})"


def _note(held: Held, jobs: int, where: str) -> str:
    return (
        f"started through the API at {jobs / (held.generated - held.started):.0f} jobs/s (concurrency 32); "
        f"all {jobs} accepted by the vendor {held.accepted - held.started:.0f} s after the first "
        f"({jobs / (held.accepted - held.started):.0f} jobs/s through {where}); CPU measured over the "
        "window once polls had backed off to every 15 s"
    )


async def inflight_rows(run: BenchRun) -> list[Row]:
    """Two layouts of the same code: one worker serving every role (the embedded stack's), and the
    scale-out one, where the heartbeating polls have a worker process of their own
    (``INFRAI_WORKER_ROLES=poll``) and the workflows another."""
    jobs = 60 if run.quick else 1000
    target = "1,000 jobs, RSS ≤ 300 MB, CPU well under one core"
    with run.stack("inflight") as stack:
        held = await _hold_jobs(run, stack, {"worker": stack.processes["worker"].pid}, jobs)
    one = held.rss["worker"]
    rows = [
        Row(
            measure=f"{jobs:,} jobs in flight on one worker (every role), vendor polled with heartbeats",
            ours=f"{_rss(one)}; poll CPU {held.cpu:.2f} core at {held.polls_per_second:.0f} polls/s",
            target=target,
            met=jobs >= 1000 and one[2] <= RSS_LIMIT and held.cpu < 0.5,
            note=_note(held, jobs, "one worker"),
        )
    ]
    with run.stack("inflight-split", processes=("api",)) as stack:
        stack.modules["poll-worker"] = stack.modules["worker"]
        try:
            stack.start("poll-worker", INFRAI_WORKER_ROLES="poll")
            stack.start("worker", INFRAI_WORKER_ROLES="workflows,rehost")
            pids = {"poll": stack.processes["poll-worker"].pid, "workflows": stack.processes["worker"].pid}
            held = await _hold_jobs(run, stack, pids, jobs)
        finally:
            for name in ("worker", "poll-worker"):
                if name in stack.processes:
                    stack.stop(name)
    poll, workflows = held.rss["poll"], held.rss["workflows"]
    rows.append(
        Row(
            measure=f"{jobs:,} jobs in flight on one poll worker (`INFRAI_WORKER_ROLES=poll`)",
            ours=f"{_rss(poll)}; poll CPU {held.cpu:.2f} core at {held.polls_per_second:.0f} polls/s",
            target=target,
            met=jobs >= 1000 and poll[2] <= RSS_LIMIT and held.cpu < 0.5,
            note=(
                f"{_note(held, jobs, 'the two workers')}; the workflows worker beside it, holding the "
                f"{jobs} jobs' workflows in its cache: {_rss(workflows)}"
            ),
        )
    )
    return rows
