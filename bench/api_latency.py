"""``POST /v1/video/generate`` and ``GET /v1/video/jobs/{id}`` against the raw Temporal calls they wrap.

Generate runs against an API with no worker on its task queue, so rendering never competes for the two
cores; every request carries an ``Idempotency-Key`` as the SDKs send one. The baseline is what the API
boils down to: ``Client.start_workflow`` of the same workflow, input, memo, search attributes and
id-conflict policy, from this process, on the same server. Ours includes the HTTP client, uvicorn, auth,
routing, the credit hold and the start; both are measured by the same load driver, interleaved.

Status reads one job that is generating (held at the fal emulator; a worker answers its ``status``
query) and the same job once it has succeeded. Baselines: the raw ``status`` query, and the raw describe.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from bench.lean_http import LeanHttp
from bench.report import Row, ratio_text
from bench.sampling import Latency, drive, interleaved, sample_process, wait_until
from bench.services import BenchRun, lean_client
from core.ids import job_id_for_key
from core.models import JobInput, JobSnapshot, Prefer, VideoSpec
from core.settings import Settings
from jobs.snapshots import start_memo_and_attributes
from tests.fixtures.stack import Stack
from vendors.catalog import load_catalog
from vendors.router import plan_route
from workflows.video_job import STATUS_QUERY, WORKFLOW_NAME

GENERATE_BODY: dict[str, Any] = {
    "prompt": "a paper boat drifting on a pond at dawn",
    "vendor": "fal",
    "duration_seconds": 8,
}
GENERATE_TARGET = 1.3
STATUS_TARGET = 1.2


def _within(ours: Latency, raw: Latency, target: float) -> bool:
    return ours.p50 <= target * raw.p50 and ours.p99 <= target * raw.p99


def latency_row(measure: str, ours: Latency, raw: Latency, target: float | None) -> Row:
    return Row(
        measure=measure,
        ours=ours.ms(),
        baseline=raw.ms(),
        ratio=f"{ratio_text(ours.p50, raw.p50)} / {ratio_text(ours.p99, raw.p99)}",
        target=f"≤ {target}x" if target else "—",
        met=_within(ours, raw, target) if target else None,
    )


class RawStarter:
    """``start_workflow`` exactly as ``api/jobs.py`` calls it (same input, memo, search attributes and
    policies), for the same request, minus the API."""

    def __init__(self, client: Client, task_queue: str, project_id: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._project_id = project_id
        self._spec = VideoSpec(
            prompt=GENERATE_BODY["prompt"], duration_seconds=GENERATE_BODY["duration_seconds"]
        )
        self._route = plan_route(self._spec, Prefer.BALANCED, "fal", None, load_catalog(), {"fal"})
        self._timings = Settings().job_timings()

    async def start(self, key: str) -> None:
        job = JobInput(
            job_id=job_id_for_key(self._project_id, key),
            project_id=self._project_id,
            spec=self._spec,
            route=self._route,
            created_at=datetime.now(UTC),
            timings=self._timings,
        )
        memo, attributes = start_memo_and_attributes(job, fingerprint=key)
        await self._client.start_workflow(
            WORKFLOW_NAME,
            job,
            id=job.job_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo=memo,
            search_attributes=attributes,
        )


async def project_of(http: LeanHttp) -> str:
    response = await http.get("/v1/account")
    response.raise_for_status()
    project: str = response.json()["project_id"]
    return project


def http_generate(http: LeanHttp, run_id: str) -> Callable[[int], Awaitable[object]]:
    async def call(index: int) -> None:
        key = f"{run_id}-{index}"
        response = await http.post("/v1/video/generate", json=GENERATE_BODY, headers={"Idempotency-Key": key})
        if response.status_code != 202:
            raise RuntimeError(f"generate answered {response.status_code}: {response.text[:300]}")

    return call


@dataclass
class ApiCpu:
    """CPU the API process spent (user + system, all its threads) over the requests it served."""

    seconds: float = 0.0
    requests: int = 0

    @property
    def ms_per_request(self) -> float:
        return self.seconds / max(self.requests, 1) * 1000


async def generate_latencies(
    stack: Stack, raw: RawStarter, *, concurrency: int, requests: int, rounds: int, cpu: ApiCpu
) -> tuple[Latency, Latency]:
    """(ours, raw) generate latency at ``concurrency``, over ``requests`` each, interleaved in rounds."""
    run_id = uuid.uuid4().hex[:8]
    api_pid = stack.processes["api"].pid
    async with lean_client(stack) as http:
        ours_call = http_generate(http, run_id)

        async def raw_call(index: int) -> None:
            await raw.start(f"{run_id}-raw-{index}")

        warmup = max(concurrency, 10)
        await drive(lambda i: ours_call(10**8 + i), requests=warmup, concurrency=concurrency)
        await drive(lambda i: raw_call(10**8 + i), requests=warmup, concurrency=concurrency)
        per_round = requests // rounds

        async def ours_round(round_number: int) -> list[float]:
            base = round_number * per_round
            before = sample_process(api_pid)
            samples = await drive(lambda i: ours_call(base + i), requests=per_round, concurrency=concurrency)
            cpu.seconds += sample_process(api_pid).cpu_seconds - before.cpu_seconds
            cpu.requests += per_round
            return samples

        async def raw_round(round_number: int) -> list[float]:
            base = round_number * per_round
            return await drive(lambda i: raw_call(base + i), requests=per_round, concurrency=concurrency)

        pooled = await interleaved({"ours": ours_round, "raw": raw_round}, rounds)
    return Latency.of(pooled["ours"]), Latency.of(pooled["raw"])


async def generate_rows(run: BenchRun) -> list[Row]:
    requests = {1: 60, 32: 320} if run.quick else {1: 300, 32: 1600}
    rows: list[Row] = []
    with run.stack("generate", ("api",)) as stack:
        client = await run.client()
        async with lean_client(stack) as http:
            project = await project_of(http)
        raw = RawStarter(client, stack.env["INFRAI_TEMPORAL_TASK_QUEUE"], project)
        for concurrency, count in requests.items():
            cpu = ApiCpu()
            ours, base = await generate_latencies(
                stack, raw, concurrency=concurrency, requests=count, rounds=4, cpu=cpu
            )
            row = latency_row(
                f"`POST /v1/video/generate` p50 / p99, concurrency {concurrency}", ours, base, GENERATE_TARGET
            )
            note = f"the API process spent {cpu.ms_per_request:.1f} ms of CPU per request"
            rows.append(dataclasses.replace(row, note=note))
    return rows


# -- status ------------------------------------------------------------------------------------------


async def _job_state(http: LeanHttp, job_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/video/jobs/{job_id}")
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


async def status_latencies(
    http: LeanHttp,
    job_id: str,
    raw_call: Callable[[], Awaitable[object]],
    *,
    requests: int,
    concurrency: int = 1,
) -> tuple[Latency, Latency]:
    async def ours(_: int) -> None:
        response = await http.get(f"/v1/video/jobs/{job_id}")
        response.raise_for_status()

    async def raw(_: int) -> None:
        await raw_call()

    for call in (ours, raw):
        await drive(call, requests=20, concurrency=concurrency)
    rounds = 4
    pooled = await interleaved(
        {
            "ours": lambda _: drive(ours, requests=requests // rounds, concurrency=concurrency),
            "raw": lambda _: drive(raw, requests=requests // rounds, concurrency=concurrency),
        },
        rounds,
    )
    return Latency.of(pooled["ours"]), Latency.of(pooled["raw"])


async def status_rows(run: BenchRun) -> list[Row]:
    requests = 80 if run.quick else 400
    run.fal.reset()
    run.fal.configure(polls_to_finish=2, hold=True)
    rows: list[Row] = []
    with run.stack("status") as stack:
        await run.wait_for_worker(stack)
        client = await run.client()
        async with lean_client(stack) as http:
            created = await http.post("/v1/video/generate", json=GENERATE_BODY)
            created.raise_for_status()
            job_id: str = created.json()["job_id"]

            async def generating() -> bool:
                return bool((await _job_state(http, job_id))["stage"] == "generating")

            await wait_until(generating, timeout=60, what="the job generating")
            handle = client.get_workflow_handle(job_id)

            async def raw_query() -> None:
                await handle.query(STATUS_QUERY, result_type=JobSnapshot)

            ours, base = await status_latencies(http, job_id, raw_query, requests=requests)
            rows.append(
                latency_row(
                    "status of a running job p50 / p99 (vs raw `status` query)", ours, base, STATUS_TARGET
                )
            )

            run.fal.configure(polls_to_finish=2, hold=False)

            async def succeeded() -> bool:
                return bool((await _job_state(http, job_id))["state"] == "succeeded")

            await wait_until(succeeded, timeout=120, what="the job succeeded")

            async def raw_describe() -> None:
                await handle.describe()

            ours, base = await status_latencies(http, job_id, raw_describe, requests=requests)
            rows.append(
                latency_row("status of a finished job p50 / p99 (vs raw describe)", ours, base, STATUS_TARGET)
            )
    return rows
