"""The generate baseline: ``Client.start_workflow`` exactly as the API makes it, minus the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

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
