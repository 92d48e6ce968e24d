"""The activities a ``VideoJob`` runs, each called the one way the workflow calls it: by method, with its
timeouts, retry policy and summary, and (for rehost) its failure read as the job's failure.

The stages' order and the cancellation around them are the workflow's (``workflows/video_job.py``); these
calls only say how one activity runs. An activity's name on the wire is written once, in its
``@activity.defn`` (``activities/``); the names below are those, for the frozen v1 run, the API and tests.
The requests and retry policies are public because the frozen v1 run (``workflows/video_job_v1.py``)
sends the same ones.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.ledger import SETTLE_JOB, LedgerActivities
    from activities.rehost import REHOST_VIDEO, RehostActivities
    from activities.vendor_submit import SUBMIT_TO_VENDOR, VendorSubmitActivities
    from activities.vendor_tasks import (
        CANCEL_VENDOR_TASK,
        POLL_VENDOR,
        STOP_VENDOR_TASK,
        VendorTaskActivities,
    )
    from core.models import (
        CancelVendorRequest,
        JobInput,
        JobState,
        PollRequest,
        RehostRequest,
        RouteCandidate,
        SettleRequest,
        SettleResult,
        StoredVideo,
        SubmitRequest,
        VendorCancel,
        VendorOutcome,
        VendorTask,
    )
    from workflows.job_failures import rehost_failed

# Polling and rehosting run on their own task queues (the workflow's queue + suffix) so each scales on its
# own: thousands of cheap heartbeating polls per worker, a handful of bandwidth-heavy rehosts.

POLL_QUEUE_SUFFIX = "-poll"
REHOST_QUEUE_SUFFIX = "-rehost"

SUBMIT = SUBMIT_TO_VENDOR
POLL = POLL_VENDOR
STOP_VENDOR = STOP_VENDOR_TASK
CANCEL_VENDOR = CANCEL_VENDOR_TASK  # the v1 form of STOP_VENDOR
REHOST = REHOST_VIDEO
SETTLE = SETTLE_JOB


def _doubling(first: timedelta, cap: timedelta, attempts: int = 0) -> RetryPolicy:
    """Retries from ``first``, doubling up to ``cap``; ``attempts`` 0 means until the activity's timeout."""
    return RetryPolicy(
        initial_interval=first, backoff_coefficient=2.0, maximum_interval=cap, maximum_attempts=attempts
    )


SUBMIT_RETRIES = _doubling(timedelta(seconds=1), timedelta(seconds=30), attempts=4)
POLL_RETRIES = _doubling(timedelta(seconds=1), timedelta(seconds=30), attempts=10)
REHOST_RETRIES = _doubling(timedelta(seconds=2), timedelta(seconds=60), attempts=6)
SETTLE_RETRIES = _doubling(timedelta(seconds=1), timedelta(minutes=5))
STOP_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


def submit_request(job: JobInput, index: int, candidate: RouteCandidate) -> SubmitRequest:
    return SubmitRequest(
        job_id=job.job_id,
        attempt_key=f"{job.job_id}-{index}",
        spec=job.spec,
        vendor=candidate.vendor,
        model=candidate.model,
    )


def poll_request(job: JobInput, task: VendorTask) -> PollRequest:
    return PollRequest(
        task=task,
        initial_interval_seconds=job.timings.poll_initial_interval_seconds,
        max_interval_seconds=job.timings.poll_max_interval_seconds,
    )


def rehost_request(job: JobInput, task: VendorTask, outcome: VendorOutcome) -> RehostRequest:
    assert outcome.output_url is not None
    return RehostRequest(
        job_id=job.job_id,
        project_id=job.project_id,
        task=task,
        output_url=outcome.output_url,
        thumbnail_url=outcome.thumbnail_url,
    )


def settle_request(job: JobInput, outcome: JobState, charge: Decimal, reason: str) -> SettleRequest:
    return SettleRequest(
        job_id=job.job_id,
        project_id=job.project_id,
        outcome=outcome,
        charge_usd=charge,
        reason=reason,
        billed=charge > 0,
    )


async def submit(job: JobInput, index: int, candidate: RouteCandidate) -> VendorTask:
    timings = job.timings
    return await workflow.execute_activity_method(
        VendorSubmitActivities.submit_to_vendor,
        submit_request(job, index, candidate),
        start_to_close_timeout=timedelta(seconds=timings.submit_timeout_seconds),
        heartbeat_timeout=timedelta(seconds=timings.submit_heartbeat_timeout_seconds),
        retry_policy=SUBMIT_RETRIES,
        summary=(
            f"submit to {candidate.vendor} / {candidate.model} (candidate {index + 1} of {len(job.route)})"
        ),
    )


async def poll(job: JobInput, task: VendorTask) -> VendorOutcome:
    timings = job.timings
    wait = timedelta(seconds=timings.poll_timeout_seconds)
    return await workflow.execute_activity_method(
        VendorTaskActivities.poll_vendor,
        poll_request(job, task),
        task_queue=workflow.info().task_queue + POLL_QUEUE_SUFFIX,
        start_to_close_timeout=wait,
        schedule_to_close_timeout=wait,  # the whole wait, retries included
        heartbeat_timeout=timedelta(seconds=timings.poll_heartbeat_timeout_seconds),
        retry_policy=POLL_RETRIES,
        summary=f"poll {task.vendor} task {task.task_id}",
    )


async def rehost(job: JobInput, task: VendorTask, outcome: VendorOutcome) -> StoredVideo:
    try:
        stored = await workflow.execute_activity_method(
            RehostActivities.rehost_video,
            rehost_request(job, task, outcome),
            task_queue=workflow.info().task_queue + REHOST_QUEUE_SUFFIX,
            start_to_close_timeout=timedelta(seconds=job.timings.rehost_timeout_seconds),
            heartbeat_timeout=timedelta(seconds=job.timings.rehost_heartbeat_timeout_seconds),
            retry_policy=REHOST_RETRIES,
            summary=f"rehost {task.vendor} task {task.task_id} into our storage",
        )
    except ActivityError as err:
        raise rehost_failed(err) from None
    workflow.set_current_details(
        f"rehosted {stored.size_bytes or 0} bytes from {task.vendor} task {task.task_id}"
    )
    return stored


async def stop_vendor_task(job: JobInput, task: VendorTask) -> VendorCancel:
    """What asking the vendor to stop achieved; a cancel that keeps failing counts as no cancel."""
    try:
        return await workflow.execute_activity_method(
            VendorTaskActivities.stop_vendor_task,
            CancelVendorRequest(task=task),
            start_to_close_timeout=timedelta(seconds=job.timings.cancel_timeout_seconds),
            retry_policy=STOP_RETRIES,
            summary=f"stop {task.vendor} task {task.task_id}",
        )
    except ActivityError:
        workflow.logger.warning("vendor cancel failed for %s/%s", task.vendor, task.task_id)
        return VendorCancel.UNSUPPORTED


async def settle(job: JobInput, outcome: JobState, charge: Decimal, reason: str) -> SettleResult:
    """Settle as a regular activity: visible as pending, retried for a day while the ledger is down."""
    return await workflow.execute_activity_method(
        LedgerActivities.settle_job,
        settle_request(job, outcome, charge, reason),
        start_to_close_timeout=timedelta(seconds=30),
        # Money must settle: retry for as long as the ledger is unreachable (a day of retries).
        retry_policy=SETTLE_RETRIES,
        schedule_to_close_timeout=timedelta(days=1),
        summary=f"settle {outcome.value}: charge {charge} USD ({reason})",
    )


async def settle_in_task(job: JobInput, outcome: JobState, charge: Decimal, reason: str) -> SettleResult:
    """Settle inside the workflow task that decided the outcome (one local activity attempt), falling back
    to ``settle`` when that attempt fails.

    Nearly every settle is one quick ledger write, and as a regular activity it cost an activity task and
    one more workflow task per job: a bare 4-activity workflow cost the dev server ~105 ms of CPU per job,
    ~82 with its last activity local (P8's burst: the job's server CPU per job went from ~1.05x to ~1.0x
    the bare workflow's). A failed attempt (the ledger unavailable or busy) is handed to ``settle``,
    which retries for a day and shows in the UI as a pending activity as before. The store settles a job
    once whatever the attempts (``activities/ledger.py``), so a local attempt whose answer was lost (its
    worker died, or it timed out after the write) followed by the regular activity charges once.
    """
    try:
        return await workflow.execute_local_activity_method(
            LedgerActivities.settle_job,
            settle_request(job, outcome, charge, reason),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary=f"settle {outcome.value}: charge {charge} USD ({reason})",
        )
    except FailureError:  # a local activity's failure arrives unwrapped (no ActivityError around it)
        return await settle(job, outcome, charge, reason)
