"""A job that has ended while its workflow is still open (it records the end, then starts its webhook
deliveries in a later workflow task): read from its description alone, as a status does when no worker
answers the query, it is the final snapshot the workflow wrote, media and all, never its end state
without its video."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core.ids import new_job_id
from core.models import JobCost, JobSnapshot, JobState
from core.stored_media import StoredVideo
from jobs.snapshots import listed_snapshot, snapshot_from_description
from workflows import search_attributes as sa

FINAL = JobSnapshot(
    job_id="vid_placeholder",
    project_id="proj_finished_open",
    state=JobState.SUCCEEDED,
    created_at=datetime(2026, 12, 7, tzinfo=UTC),
    cost=JobCost(estimated_usd=Decimal("0.50"), settled_usd=Decimal("0.50")),
    progress=100,
    media=StoredVideo(
        video_key="videos/proj_finished_open/vid_placeholder/video.mp4", size_bytes=1234, sha256="0" * 64
    ),
)


@workflow.defn(name="FinishedStillOpen")
class FinishedStillOpen:
    """What the job workflow does as it ends (the succeeded state and the final snapshot in one task),
    then stays open, as it does until its webhook deliveries have started."""

    def __init__(self) -> None:
        self._close = False

    @workflow.run
    async def run(self, snapshot: JobSnapshot) -> None:
        workflow.upsert_search_attributes([sa.STATE.value_set(JobState.SUCCEEDED.value)])
        workflow.upsert_memo({"job": snapshot.model_dump(mode="json"), "project": snapshot.project_id})
        await workflow.wait_condition(lambda: self._close)

    @workflow.signal
    def close(self) -> None:
        self._close = True


async def test_an_ended_job_read_from_its_description_is_its_final_snapshot(temporal_client: Client) -> None:
    queue = f"finished-open-{uuid.uuid4().hex[:8]}"
    job_id = new_job_id()
    final = FINAL.model_copy(update={"job_id": job_id})
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[FinishedStillOpen],
        workflow_runner=UnsandboxedWorkflowRunner(),  # the workflow lives in this test module
    )
    async with worker:
        handle = await temporal_client.start_workflow(
            FinishedStillOpen.run, final, id=job_id, task_queue=queue
        )
        for _ in range(200):
            desc = await handle.describe()
            if desc.typed_search_attributes.get(sa.STATE) == JobState.SUCCEEDED.value:
                break
        described = await snapshot_from_description(desc)
        listed = await listed_snapshot(desc)
        await handle.signal(FinishedStillOpen.close)
        await handle.result()
    assert desc.status is not None and desc.status.name == "RUNNING"
    for snapshot in (described, listed):
        assert snapshot.state is JobState.SUCCEEDED
        assert snapshot.media is not None and snapshot.media.video_key == FINAL.media.video_key  # type: ignore[union-attr]
        assert (snapshot.progress, snapshot.cost.settled_usd) == (100, Decimal("0.50"))
