"""``POST /v1/video/generate`` and ``GET /v1/video/jobs/{id}`` against the raw Temporal calls they wrap.

Generate runs against an API with no worker on its task queue, so rendering never competes for the two
cores; every request carries an ``Idempotency-Key`` as the SDKs send one. The baseline is what the API
boils down to: ``Client.start_workflow`` of the same workflow, input, memo, search attributes and
id-conflict policy, from this process, on the same server. Ours includes the HTTP client, uvicorn, auth,
routing, the credit hold and the start; both are measured by the same load driver, interleaved.

Status reads one job that is generating (held at the fal emulator; a worker answers its ``status``
query) and the same job once it has succeeded. Baselines: the raw ``status`` query, and the raw describe.

Generate at concurrency 1 and both status reads are also measured against their framework floor
(``bench.framework_floor``: a bare FastAPI route making only the same call, served as the API is), in
the same rounds, so a ratio splits into what putting FastAPI and uvicorn in front of the call costs and
what our own code adds.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.framework_floor import started_floor
from bench.lean_http import LeanHttp
from bench.raw_starter import GENERATE_BODY, RawStarter, commit_latency
from bench.report import Row, ratio_text
from bench.sampling import Latency, drive, interleaved, sample_process, wait_until
from bench.services import BenchRun, lean_client
from core.models import JobSnapshot
from tests.fixtures.stack import Stack
from workflows.video_job import STATUS_QUERY

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


def _offset(call: Callable[[int], Awaitable[object]], by: int) -> Callable[[int], Awaitable[object]]:
    """``call`` with its request numbers shifted by ``by`` (each number is an idempotency key)."""
    return lambda index: call(by + index)


@dataclass
class ApiCpu:
    """CPU the API process spent (user + system, all its threads) over the requests it served."""

    seconds: float = 0.0
    requests: int = 0

    @property
    def ms_per_request(self) -> float:
        return self.seconds / max(self.requests, 1) * 1000


async def generate_latencies(
    stack: Stack,
    raw: RawStarter,
    *,
    concurrency: int,
    requests: int,
    rounds: int,
    cpu: ApiCpu,
    floor: LeanHttp | None = None,
) -> dict[str, Latency]:
    """Generate latency at ``concurrency`` of ours, raw and (given) the framework floor, over ``requests``
    each, interleaved in rounds."""
    run_id = uuid.uuid4().hex[:8]
    api_pid = stack.processes["api"].pid
    async with lean_client(stack) as http:
        ours_call = http_generate(http, run_id)

        async def raw_call(index: int) -> None:
            await raw.start(f"{run_id}-raw-{index}")

        async def floor_call(index: int) -> None:
            assert floor is not None
            response = await floor.post(f"/generate/{run_id}-floor-{index}")
            response.raise_for_status()

        calls = {"ours": ours_call, "raw": raw_call} | ({"floor": floor_call} if floor else {})
        warmup = max(concurrency, 10)
        for call in calls.values():
            await drive(_offset(call, 10**8), requests=warmup, concurrency=concurrency)
        per_round = requests // rounds

        def contender(name: str) -> Callable[[int], Awaitable[list[float]]]:
            async def one_round(round_number: int) -> list[float]:
                base = round_number * per_round
                before = sample_process(api_pid)
                samples = await drive(_offset(calls[name], base), requests=per_round, concurrency=concurrency)
                if name == "ours":
                    cpu.seconds += sample_process(api_pid).cpu_seconds - before.cpu_seconds
                    cpu.requests += per_round
                return samples

            return one_round

        pooled = await interleaved({name: contender(name) for name in calls}, rounds)
    return {name: Latency.of(samples) for name, samples in pooled.items()}


def floor_row(measure: str, measured: dict[str, Latency]) -> Row:
    """The framework floor against the raw call, and ours against the floor in the note."""
    ours, raw, floor = measured["ours"], measured["raw"], measured["floor"]
    return Row(
        measure=f"{measure}: framework floor, a bare FastAPI route making only that call",
        ours=floor.ms(),
        baseline=raw.ms(),
        ratio=f"{ratio_text(floor.p50, raw.p50)} / {ratio_text(floor.p99, raw.p99)}",
        note=f"ours against the framework floor: {ratio_text(ours.p50, floor.p50)} / "
        f"{ratio_text(ours.p99, floor.p99)} (p50 / p99)",
    )


async def generate_rows(run: BenchRun) -> list[Row]:
    requests = {1: 24, 32: 128} if run.quick else {1: 300, 32: 1600}
    rows: list[Row] = []
    with run.stack("generate", ("api",)) as stack:
        client = await run.client()
        async with lean_client(stack) as http:
            project = await project_of(http)
        raw = RawStarter(client, stack.env["INFRAI_TEMPORAL_TASK_QUEUE"], project)
        with started_floor(stack, project) as floor:
            for concurrency, count in requests.items():
                cpu = ApiCpu()
                measured = await generate_latencies(
                    stack,
                    raw,
                    concurrency=concurrency,
                    requests=count,
                    rounds=4,
                    cpu=cpu,
                    floor=floor if concurrency == 1 else None,
                )
                measure = f"`POST /v1/video/generate` p50 / p99, concurrency {concurrency}"
                row = latency_row(measure, measured["ours"], measured["raw"], GENERATE_TARGET)
                note = f"the API process spent {cpu.ms_per_request:.1f} ms of CPU per request"
                rows.append(dataclasses.replace(row, note=note))
                if "floor" in measured:
                    durable = commit_latency(stack.data_dir, durable=True)
                    plain = commit_latency(stack.data_dir, durable=False)
                    split = floor_row(measure, measured)
                    note = (
                        f"{split.note}; a SQLite write transaction on this disk (the credit hold commits "
                        f"one), p50 / p99: waiting for the disk {durable.ms()}, not waiting {plain.ms()}"
                    )
                    rows.append(dataclasses.replace(split, note=note))
            await floor.aclose()
    return rows


# -- status ------------------------------------------------------------------------------------------


async def _job_state(http: LeanHttp, job_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/video/jobs/{job_id}")
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


async def status_latencies(
    http: LeanHttp,
    path: str,
    raw_call: Callable[[], Awaitable[object]],
    *,
    requests: int,
    floor: tuple[LeanHttp, str] | None = None,
    concurrency: int = 1,
) -> dict[str, Latency]:
    """Ours (GET ``path``), the raw call and (given: its client and path) the framework floor, interleaved."""

    def getting(client: LeanHttp, url: str) -> Callable[[int], Awaitable[None]]:
        async def get(_: int) -> None:
            response = await client.get(url)
            response.raise_for_status()

        return get

    async def raw(_: int) -> None:
        await raw_call()

    calls = {"ours": getting(http, path), "raw": raw} | ({"floor": getting(*floor)} if floor else {})
    for call in calls.values():
        await drive(call, requests=20, concurrency=concurrency)
    rounds = 4

    def contender(call: Callable[[int], Awaitable[None]]) -> Callable[[int], Awaitable[list[float]]]:
        return lambda _: drive(call, requests=requests // rounds, concurrency=concurrency)

    pooled = await interleaved({name: contender(call) for name, call in calls.items()}, rounds)
    return {name: Latency.of(samples) for name, samples in pooled.items()}


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
            path = f"/v1/video/jobs/{job_id}"

            async def generating() -> bool:
                return bool((await _job_state(http, job_id))["stage"] == "generating")

            await wait_until(generating, timeout=60, what="the job generating")
            handle = client.get_workflow_handle(job_id)

            async def raw_query() -> None:
                await handle.query(STATUS_QUERY, result_type=JobSnapshot)

            with started_floor(stack, await project_of(http)) as floor:
                measure = "status of a running job p50 / p99 (vs raw `status` query)"
                measured = await status_latencies(
                    http, path, raw_query, requests=requests, floor=(floor, f"/status/{job_id}")
                )
                rows.append(latency_row(measure, measured["ours"], measured["raw"], STATUS_TARGET))
                rows.append(floor_row(measure, measured))

                run.fal.configure(polls_to_finish=2, hold=False)

                async def succeeded() -> bool:
                    return bool((await _job_state(http, job_id))["state"] == "succeeded")

                await wait_until(succeeded, timeout=120, what="the job succeeded")

                async def raw_describe() -> None:
                    await handle.describe()

                measure = "status of a finished job p50 / p99 (vs raw describe)"
                measured = await status_latencies(
                    http, path, raw_describe, requests=requests, floor=(floor, f"/describe/{job_id}")
                )
                rows.append(latency_row(measure, measured["ours"], measured["raw"], STATUS_TARGET))
                rows.append(floor_row(measure, measured))
                await floor.aclose()
    return rows
