"""The generate baseline (``Client.start_workflow`` exactly as the API makes it, minus the API), and what
the one durable write on a generate's path costs on this disk."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from bench.sampling import Latency
from core.ids import job_id_for_key
from core.models import JobInput, Prefer, VideoSpec
from core.settings import Settings
from jobs.snapshots import start_memo_and_attributes
from vendors.catalog import load_catalog
from vendors.router import plan_route
from workflows.video_job import WORKFLOW_NAME

GENERATE_BODY: dict[str, Any] = {
    "prompt": "a paper boat drifting on a pond at dawn",
    "vendor": "fal",
    "duration_seconds": 8,
}


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

    async def start(self, key: str) -> str:
        """Start the job of idempotency key ``key``; its id."""
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
        return job.job_id


def commit_latency(folder: Path, *, durable: bool, commits: int = 200) -> Latency:
    """What one small SQLite write transaction (BEGIN IMMEDIATE, an INSERT, COMMIT) takes on the disk under
    ``folder``: in WAL mode as the accounts DB runs, waiting for the disk (``synchronous=FULL``, the credit
    hold's commit) or not (``NORMAL``, the rate-limit count's). A generate's hold pays the durable one."""
    path = folder / f"commit-{'full' if durable else 'normal'}.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        connection.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
        samples = []
        for n in range(commits):
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO rows (body) VALUES (?)", (f"hold {n}",))
            connection.execute("COMMIT")
            samples.append(time.perf_counter() - started)
    finally:
        connection.close()
        for leftover in folder.glob(path.name + "*"):
            leftover.unlink()
    return Latency.of(samples)
