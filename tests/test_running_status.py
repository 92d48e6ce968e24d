"""A running job's status polled often: its description (whose job it is, the vendor's progress) is read
once a second at most, each answer still comes from the job's own ``status`` query, and a job that ended
meanwhile, or belongs to another project, is answered as if nothing had been kept."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

from core.models import JobState, Stage
from jobs.errors import JobNotFound
from jobs.service import JobService
from tests.fixtures.vendor_stack import EmulatedVendors


class CountingService(JobService):
    """The API's job service, counting the descriptions it asks Temporal for."""

    describes = 0

    async def _describe_raw(self, job_id: str) -> DescribeWorkflowExecutionResponse:
        self.describes += 1
        return await super()._describe_raw(job_id)


def _service(emulated: EmulatedVendors, running_view_seconds: float) -> CountingService:
    return CountingService(
        emulated.temporal,
        emulated.stack.env["INFRAI_TEMPORAL_TASK_QUEUE"],
        query_timeout=timedelta(seconds=5),
        rpc_timeout=timedelta(seconds=5),
        running_view_seconds=running_view_seconds,
    )


def _held_runway_job(emulated: EmulatedVendors) -> str:
    """A runway job kept generating, its poll having reported the vendor's progress."""
    emulated["runway"].configure(polls_to_finish=3, hold=True)
    response = emulated.stack.generate(
        prompt="a lighthouse at dusk", vendor="runway", model="gen4.5", duration_seconds=5
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    emulated.stack.wait_for(job_id, lambda job: (job["progress"] or 0) > 0)
    return job_id


async def test_a_status_polled_often_describes_the_job_once_a_second(emulated: EmulatedVendors) -> None:
    job_id = _held_runway_job(emulated)
    service = _service(emulated, running_view_seconds=1.0)
    first = await service.snapshot(job_id)
    assert (first.state, first.stage) == (JobState.RUNNING, Stage.GENERATING)
    assert first.progress is not None and 0 < first.progress < 100
    for _ in range(5):
        again = await service.status(job_id, first.project_id)
        assert (again.stage, again.progress, again.job_id) == (Stage.GENERATING, first.progress, job_id)
    assert service.describes == 1  # the five answers after the first came from the query alone
    time.sleep(1.1)
    await service.snapshot(job_id)
    assert service.describes == 2  # the kept view expired: described again
    emulated["runway"].configure(polls_to_finish=3)  # let it finish


async def test_a_kept_view_refuses_another_project_and_sees_the_job_end(emulated: EmulatedVendors) -> None:
    job_id = _held_runway_job(emulated)
    service = _service(emulated, running_view_seconds=600.0)
    owner = (await service.snapshot(job_id)).project_id
    with pytest.raises(JobNotFound):
        await service.status(job_id, "proj_someone_else")
    emulated["runway"].configure(polls_to_finish=3)  # release: the job ends while its view is kept
    await emulated.temporal.get_workflow_handle(job_id).result()
    ended = await service.status(job_id, owner)
    assert (ended.state, ended.progress, ended.media is not None) == (JobState.SUCCEEDED, 100, True)
    assert service.describes == 1  # the end came from the rejected query, then the closed job's read
