"""A stand-in for the next release's ``VideoJob``: one more activity before the job settles (and for its
``VideoBatch``: the same activity before the batch waits for its items).

Adding a command to a running workflow's sequence is the change that breaks jobs in flight, so the tests use
this one twice: ``UnpatchedNextJob`` makes it as a careless release would (the replay test must catch it and
a rolling upgrade onto it strands jobs), ``PatchedNextJob`` guards it with ``workflow.patched`` as every
release must (old histories replay, in-flight jobs finish on it).

``python -m tests.histories.next_build`` runs the real worker with one of them in place of today's workflow
(``NEXT_BUILD_WORKFLOW=patched|unpatched``), the way a new image's worker would start.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from core.batches import BATCH_WORKFLOW_NAME, BatchInput, BatchOutcome
    from core.models import JobInput, JobSnapshot, JobState
    from workflows.video_batch import VideoBatchWorkflow
    from workflows.video_job import WORKFLOW_NAME, VideoJobWorkflow

AUDIT = "audit_before_settle"
PATCH_ID = "audit-before-settle"


@activity.defn(name=AUDIT)
async def audit_before_settle(job_id: str) -> str:
    """The new step: here it only logs (a real release would, say, write an audit row)."""
    activity.logger.info("audited %s before settling", job_id)
    return job_id


class _AuditsBeforeSettle(VideoJobWorkflow):
    """The step goes before every settle, on both paths today's workflow keeps: the current one and the
    frozen ``v1`` one that jobs started before the ``every-instant-safe`` patch replay through."""

    def _audits(self) -> bool:
        raise NotImplementedError

    async def _audit(self) -> None:
        if self._audits():
            await workflow.execute_activity(
                AUDIT, self._job.job_id, result_type=str, start_to_close_timeout=timedelta(seconds=30)
            )

    async def _settle(self, outcome: JobState, charge: Decimal, reason: str) -> None:
        await self._audit()
        await super()._settle(outcome, charge, reason)

    async def _settle_v1(self, outcome: JobState, charge: Decimal, reason: str) -> None:
        await self._audit()
        await super()._settle_v1(outcome, charge, reason)


@workflow.defn(name=WORKFLOW_NAME)
class UnpatchedNextJob(_AuditsBeforeSettle):
    @workflow.init
    def __init__(self, job: JobInput) -> None:
        super().__init__(job)

    @workflow.run
    async def run(self, job: JobInput) -> JobSnapshot:
        return await super().run(job)

    def _audits(self) -> bool:
        return True  # the mistake: jobs that started without this step meet it on replay


@workflow.defn(name=WORKFLOW_NAME)
class PatchedNextJob(_AuditsBeforeSettle):
    @workflow.init
    def __init__(self, job: JobInput) -> None:
        super().__init__(job)

    @workflow.run
    async def run(self, job: JobInput) -> JobSnapshot:
        return await super().run(job)

    def _audits(self) -> bool:
        # False while replaying a job that already got past this point without the step; True (and
        # recorded as a marker) for every job that reaches it on this build.
        return workflow.patched(PATCH_ID)


class _AuditsBatchFirst(VideoBatchWorkflow):
    """The same change to ``VideoBatch``: the audit step before the batch waits for its items (every batch
    passes there, with a webhook or without), so replay proves batches are held to their histories too."""

    def _audits(self) -> bool:
        raise NotImplementedError

    async def run(self, batch: BatchInput) -> BatchOutcome:
        if self._audits():
            await workflow.execute_activity(
                AUDIT, batch.batch_id, result_type=str, start_to_close_timeout=timedelta(seconds=30)
            )
        return await super().run(batch)


@workflow.defn(name=BATCH_WORKFLOW_NAME)
class UnpatchedNextBatch(_AuditsBatchFirst):
    @workflow.run
    async def run(self, batch: BatchInput) -> BatchOutcome:
        return await super().run(batch)

    def _audits(self) -> bool:
        return True


@workflow.defn(name=BATCH_WORKFLOW_NAME)
class PatchedNextBatch(_AuditsBatchFirst):
    @workflow.run
    async def run(self, batch: BatchInput) -> BatchOutcome:
        return await super().run(batch)

    def _audits(self) -> bool:
        return workflow.patched(PATCH_ID)


VARIANTS = {"patched": PatchedNextJob, "unpatched": UnpatchedNextJob}


def main() -> None:
    import asyncio

    from core.settings import get_settings
    from observability.logs import configure_logging
    from worker.runner import run_worker
    from workflows.webhook_delivery import WebhookDeliveryWorkflow

    job_workflow = VARIANTS[os.environ["NEXT_BUILD_WORKFLOW"]]
    settings = get_settings()
    configure_logging(settings, "worker")
    asyncio.run(
        run_worker(
            settings,
            workflows=[job_workflow, WebhookDeliveryWorkflow],
            extra_activities=[audit_before_settle],
        )
    )


if __name__ == "__main__":
    main()
