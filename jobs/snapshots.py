"""Job snapshots from what Temporal keeps: the memo and search attributes a job starts with, and the
snapshot of a job read from its description (running) or its final memo entry (closed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.errors import ErrorCode
from core.models import ErrorInfo, JobCost, JobInput, JobSnapshot, JobState, VideoSpec
from workflows import search_attributes as sa

CLOSED_STATES = {
    WorkflowExecutionStatus.COMPLETED: JobState.SUCCEEDED,
    WorkflowExecutionStatus.FAILED: JobState.FAILED,
    WorkflowExecutionStatus.CANCELED: JobState.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: JobState.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: JobState.FAILED,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: JobState.FAILED,
}
CLOSED_STATUSES = frozenset(CLOSED_STATES)


def start_memo_and_attributes(
    job: JobInput, fingerprint: str
) -> tuple[dict[str, Any], TypedSearchAttributes]:
    """What a job's workflow starts with besides its input: the memo and the search attributes."""
    first = job.route[0]
    memo: dict[str, Any] = {
        "project": job.project_id,
        "fingerprint": fingerprint,
        "created_at": job.created_at.isoformat(),
        "estimated_usd": str(first.estimated_cost_usd),
        # What was asked, for status and listings that only have the description (never the image:
        # a data: URI can be megabytes).
        "spec": job.spec.model_dump(mode="json", exclude={"reference_image_url"}),
    }
    if job.deadline_seconds is not None:
        memo["deadline_seconds"] = job.deadline_seconds
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.PROJECT, job.project_id),
            SearchAttributePair(sa.VENDOR, first.vendor),
            SearchAttributePair(sa.MODEL, first.model),
            SearchAttributePair(sa.STATE, JobState.QUEUED.value),
        ]
    )
    return memo, attributes


async def listed_snapshot(execution: WorkflowExecution) -> JobSnapshot:
    """A job as a visibility listing shows it: final snapshot for closed jobs, else state from search
    attributes (no query per row: a listing must not cost a worker round-trip per job)."""
    if execution.status in CLOSED_STATES:
        return await closed_snapshot(execution)
    return await snapshot_from_description(execution)


async def memo_text(desc: WorkflowExecution, key: str) -> str | None:
    value = await desc.memo_value(key, None)
    return value if isinstance(value, str) else None


def queued_snapshot(job: JobInput) -> JobSnapshot:
    first = job.route[0]
    return JobSnapshot(
        job_id=job.job_id,
        project_id=job.project_id,
        vendor=first.vendor,
        model=first.model,
        spec=job.spec,
        created_at=job.created_at,
        cost=JobCost(estimated_usd=first.estimated_cost_usd),
        # The workflow measures the deadline from its own start, a moment after this: status says exactly.
        deadline_at=_deadline_at(job.created_at, job.deadline_seconds),
    )


def _deadline_at(start: datetime | None, seconds: object) -> datetime | None:
    if start is None or not isinstance(seconds, int):
        return None
    return start + timedelta(seconds=seconds)


async def snapshot_from_description(desc: WorkflowExecution) -> JobSnapshot:
    """What describe alone can say: the final snapshot once the job has one in its memo (it is written when
    the job ends; the workflow may stay open a while after, delivering webhooks), else state/vendor/model
    from search attributes and cost from the memo."""
    final = await desc.memo_value("job", None, type_hint=JobSnapshot)
    if isinstance(final, JobSnapshot):
        return final
    attrs = desc.typed_search_attributes
    created = await memo_text(desc, "created_at")
    estimate = await memo_text(desc, "estimated_usd")
    spec = await desc.memo_value("spec", None, type_hint=VideoSpec)
    state = attrs.get(sa.STATE) or JobState.QUEUED.value
    return JobSnapshot(
        job_id=desc.id,
        project_id=await memo_text(desc, "project") or "",
        state=JobState(state) if state in JobState._value2member_map_ else JobState.RUNNING,
        vendor=attrs.get(sa.VENDOR),
        model=attrs.get(sa.MODEL),
        spec=spec if isinstance(spec, VideoSpec) else None,
        created_at=datetime.fromisoformat(created) if created else desc.start_time or datetime.now(UTC),
        cost=JobCost(estimated_usd=estimate or "0"),
        deadline_at=_deadline_at(desc.start_time, await desc.memo_value("deadline_seconds", None)),
    )


async def closed_snapshot(desc: WorkflowExecution) -> JobSnapshot:
    final = await desc.memo_value("job", None, type_hint=JobSnapshot)
    if isinstance(final, JobSnapshot):
        return final
    snapshot = await snapshot_from_description(desc)
    # Closed without writing its final snapshot: terminated or timed out by an operator or a deadline.
    snapshot.state = CLOSED_STATES.get(desc.status or WorkflowExecutionStatus.FAILED, JobState.FAILED)
    snapshot.finished_at = desc.close_time
    status_name = desc.status.name.lower() if desc.status else "closed"
    snapshot.error = ErrorInfo(
        code=ErrorCode.TIMEOUT
        if desc.status == WorkflowExecutionStatus.TIMED_OUT
        else ErrorCode.VENDOR_ERROR,
        message=f"the job was {status_name} by the operator or a deadline",
    )
    return snapshot
