"""``python -m bench.framework_floor``: the latency measures' framework floor, never for serving anyone.

FastAPI under uvicorn, served exactly as the API is (``api.__main__``: the same uvicorn options, the same
Temporal client from ``workflows.connection``), with routes that make only the Temporal call an API route
wraps and answer its result as JSON: no authentication, no rate-limit count, no credit hold, no middleware,
no presenter. Ours against the raw call then splits in two, each measured in the same run: the floor
against the raw call is what any FastAPI service pays for putting HTTP in front of the call on these cores,
ours against the floor is what our own code adds.

- ``POST /generate/{key}``: ``RawStarter.start`` (the generate baseline's start, the same input, memo and
  search attributes) for the project ``BENCH_FLOOR_PROJECT``.
- ``GET /status/{job_id}``: the ``status`` query, answered as the ``JobSnapshot`` it returns.
- ``GET /describe/{job_id}``: ``describe``, answered as the workflow's status name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI, Request
from temporalio.client import Client

from api.__main__ import main as serve
from bench.lean_http import LeanHttp
from bench.raw_starter import RawStarter
from core.models import JobSnapshot
from core.settings import get_settings
from devstack.processes import ManagedProcess, wait_for_port
from tests.fixtures.ports import free_port
from tests.fixtures.stack import REPO, Stack
from workflows.connection import connect
from workflows.video_job import STATUS_QUERY

PROJECT_VARIABLE = "BENCH_FLOOR_PROJECT"


def create_app() -> FastAPI:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings)
        app.state.client = client
        app.state.starter = RawStarter(client, settings.temporal_task_queue, os.environ[PROJECT_VARIABLE])
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/generate/{key}", status_code=202)
    async def generate(key: str, request: Request) -> dict[str, str]:
        starter: RawStarter = request.app.state.starter
        return {"job_id": await starter.start(key)}

    @app.get("/status/{job_id}")
    async def status(job_id: str, request: Request) -> JobSnapshot:
        client: Client = request.app.state.client
        snapshot: JobSnapshot = await client.get_workflow_handle(job_id).query(
            STATUS_QUERY, result_type=JobSnapshot
        )
        return snapshot

    @app.get("/describe/{job_id}")
    async def describe(job_id: str, request: Request) -> dict[str, str]:
        client: Client = request.app.state.client
        description = await client.get_workflow_handle(job_id).describe()
        return {"status": description.status.name if description.status else "UNKNOWN"}

    return app


@contextmanager
def started_floor(stack: Stack, project_id: str) -> Iterator[LeanHttp]:
    """The floor on a port of its own, beside ``stack``'s API: its environment (server, namespace, task
    queue, payload codec), for ``project_id``; a client of it, until exit."""
    port = free_port()
    env = {**stack.env, "INFRAI_API_PORT": str(port), PROJECT_VARIABLE: project_id}
    log = stack.data_dir / "framework-floor.log"
    process = ManagedProcess("floor", [sys.executable, "-m", __name__], env=env, cwd=REPO, log_path=log)
    process.start()
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        yield LeanHttp(f"http://127.0.0.1:{port}")
    finally:
        process.stop(timeout=15)


if __name__ == "__main__":
    serve("bench.framework_floor:create_app")
