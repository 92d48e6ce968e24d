"""History events and billable Temporal actions of one job, for a vendor taking 10 s and one taking 30 min.

How the measurement stays honest in a couple of minutes:

- The job is real: API → Temporal dev server → the real worker and activities → the fal emulator →
  rehost → settle. The poll activity really sleeps between polls and really heartbeats, because that is
  what decides the cost. The emulator's clock is the benchmark's: tasks stay "running" until the
  benchmark releases them, a vendor duration after they were accepted.
- A 30-minute vendor is run in compressed time: every time constant of the poll (initial and maximum poll
  interval, heartbeat timeout, the worker's heartbeat throttle) is divided by ``SCALE`` (40), and so is
  the vendor's duration. The poll then makes the same number of polls and heartbeats in 45 s as it would
  in 30 min at production settings; the only difference is the activity's 50 ms floor on the first poll
  interval (25 ms scaled), which costs the compressed run one or two early polls.
- Actions are counted by the server itself: the dev server's ``action`` counter (what Temporal Cloud
  bills: workflow start, activity starts and retries, heartbeats that reach the server, search-attribute
  upserts, queries, ...), in a namespace of their own where nothing else runs, read before and after
  each job. The benchmark watches the job through describe and the history, which are not actions (a
  status query would be one).
- The time-skipping test server is not used: it would skip past the real sleeps of the poll (they are
  activity time, not workflow timers) and it has no action counter; this workflow has no timers to skip.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio.client import Client, WorkflowExecutionStatus

from bench.report import Row
from bench.sampling import wait_until
from bench.services import HISTORY_NAMESPACE, BenchRun, api_client
from tests.emulators.server import EmulatorServer
from tests.fixtures.housekeeping import described_schedule
from tests.fixtures.stack import Stack

SCALE = 40
JOB_BODY = {"prompt": "a lighthouse in a storm", "vendor": "fal", "duration_seconds": 8}
HEARTBEAT_ACTION = "grpc_RecordActivityTaskHeartbeat"
EVENT_LIMIT = 40

# Production's values (core/settings.py) of the time constants the compression divides.
PRODUCTION_POLL_TIMINGS = {
    "INFRAI_POLL_INITIAL_INTERVAL_SECONDS": 1.0,
    "INFRAI_POLL_MAX_INTERVAL_SECONDS": 15.0,
    "INFRAI_POLL_HEARTBEAT_TIMEOUT_SECONDS": 60.0,
    "INFRAI_WORKER_MAX_HEARTBEAT_THROTTLE_SECONDS": 5.0,
}


@dataclass(frozen=True)
class JobCost:
    vendor_seconds: float
    events: int
    actions: dict[str, float]
    polls: int
    state: str

    @property
    def heartbeats(self) -> int:
        return round(self.actions.get(HEARTBEAT_ACTION, 0))

    @property
    def other_actions(self) -> int:
        return round(sum(self.actions.values())) - self.heartbeats


def compressed_timings(scale: float) -> dict[str, str]:
    return {name: f"{seconds / scale:g}" for name, seconds in PRODUCTION_POLL_TIMINGS.items()}


async def one_job(run: BenchRun, stack: Stack, client: Client, vendor_seconds: float) -> JobCost:
    emulator: EmulatorServer = run.fal
    emulator.reset()
    emulator.configure(polls_to_finish=1, hold=True)
    before = run.temporal.actions(HISTORY_NAMESPACE)
    async with api_client(stack, connections=1) as http:
        response = await http.post("/v1/video/generate", json=JOB_BODY)
        response.raise_for_status()
        job_id: str = response.json()["job_id"]

    async def accepted() -> bool:
        return emulator.stats()["accepted"] >= 1

    await wait_until(accepted, timeout=60, interval=0.02, what="the vendor accepting the task")
    await asyncio.sleep(vendor_seconds / SCALE)
    emulator.configure(polls_to_finish=1, hold=False)
    handle = client.get_workflow_handle(job_id)

    async def closed() -> bool:
        return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING

    await wait_until(closed, timeout=120, interval=0.1, what=f"job {job_id} closing")
    described = await handle.describe()
    history = await handle.fetch_history()
    after = await settled_actions(run)
    grown = {name: count - before.get(name, 0.0) for name, count in after.items()}
    actions = {name: count for name, count in grown.items() if count > 0}
    return JobCost(
        vendor_seconds=vendor_seconds,
        events=len(history.events),
        actions=actions,
        polls=emulator.stats()["polls"],
        state=described.status.name.lower() if described.status else "?",
    )


async def worker_started(run: BenchRun, stack: Stack, client: Client) -> None:
    """Until the worker's own start-up actions are counted: it creates its housekeeping schedule as it
    starts (a ``CreateSchedule``, and the server's scheduler workflow then takes a timer, a marker and a
    search-attribute upsert of its own), which would otherwise land in the first job's count."""
    await described_schedule(client, stack.env["INFRAI_TEMPORAL_TASK_QUEUE"])
    await settled_actions(run)


async def settled_actions(run: BenchRun) -> dict[str, float]:
    """The action counts once they stop changing: the server's metrics reach its endpoint in batches."""
    last = run.temporal.actions(HISTORY_NAMESPACE)
    for _ in range(40):
        await asyncio.sleep(1.0)
        now = run.temporal.actions(HISTORY_NAMESPACE)
        if now == last:
            return now
        last = now
    return last


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


async def history_rows(run: BenchRun) -> list[Row]:
    durations = (10.0, 180.0) if run.quick else (10.0, 1800.0)
    await run.client(HISTORY_NAMESPACE)  # search attributes registered before the first job
    timings = compressed_timings(SCALE)
    started = time.monotonic()
    with run.stack("history", timings=timings, INFRAI_TEMPORAL_NAMESPACE=HISTORY_NAMESPACE) as stack:
        await run.wait_for_worker(stack)
        client = await run.client(HISTORY_NAMESPACE)
        await worker_started(run, stack, client)
        costs = [await one_job(run, stack, client, seconds) for seconds in durations]
    short, long = costs
    label = f"vendor {_duration(short.vendor_seconds)} vs {_duration(long.vendor_seconds)}"
    constant = short.events == long.events
    rows = [
        Row(
            measure=f"history events per job, {label}",
            ours=f"{short.events} / {long.events} events ({short.state} / {long.state})",
            target=f"≤ {EVENT_LIMIT} events, constant",
            met=constant and long.events <= EVENT_LIMIT and short.state == long.state == "completed",
        ),
        Row(
            measure=f"billable Temporal actions per job, {label}",
            ours=(
                f"{short.other_actions} + {short.heartbeats} heartbeats / "
                f"{long.other_actions} + {long.heartbeats} heartbeats"
            ),
            target="constant but for heartbeats",
            met=short.other_actions == long.other_actions,
            note=(
                f"counted by the server's `action` metric; {short.polls} / {long.polls} vendor polls; run at "
                f"1/{SCALE} time ({time.monotonic() - started:.0f} s); the long job's actions: "
                + ", ".join(f"{name} {count:g}" for name, count in sorted(long.actions.items()))
                + "; the short job's: "
                + ", ".join(f"{name} {count:g}" for name, count in sorted(short.actions.items()))
            ),
        ),
    ]
    return rows
