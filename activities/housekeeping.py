"""The periodic chores of a deployment, run by the ``Housekeeping`` workflow (workflows/housekeeping.py).

- **Stranded credit holds.** The API holds a job's credits *before* it starts the job's workflow (so a
  job never runs unpaid): a crash of the API, or a Temporal outage, between the two leaves a hold with no
  job under it. Holds older than ``hold_reconcile_after_seconds`` still open are judged by their job's
  workflow: none (never started) or closed (terminated by an operator, timed out: ended without
  settling) → released, charging nothing; running → left alone (it settles itself when it ends), and not
  asked about again for another ``after`` (a three-hour job would otherwise be described every round).
  The age threshold sits far above any start latency, so a request between its hold and its start is
  never judged; a client that comes back with the same idempotency key after the release gets ``409``
  (the key's job id is spent), and should a start race the release anyway, that job's own settlement
  still charges it (``accounts.ledger``). A release is a settlement, recorded once per job.
- **Media retention.** Videos with their thumbnails (``videos/<project>/<job>/``) and reference images
  (``references/<project>/<job>/``) each have a retention in days (0: kept for good). An object older
  than its retention is deleted unless its job is still running; a job whose workflow is gone (past
  Temporal's own retention) is finished. Age is the object's: the time it was written.
- **Stuck jobs** (``observability.stuck_jobs``): reported every round (a warning per job); once one has
  been failing longer than ``stuck_job_terminate_after_hours`` its workflow is terminated with the
  reason, and its hold released at once. Until then the hold stays: a fixed deploy lets the very same
  workflow task succeed and the job then settles normally.

Every step raises what it cannot do (Temporal or the accounts DB unreachable): the activity is retried,
and the next round starts from scratch anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from accounts.errors import HoldNotFound
from accounts.store import AccountStore
from core.settings import Settings
from observability.stuck_jobs import StuckJob, find_stuck_jobs
from storage import MediaStorage

logger = logging.getLogger(__name__)

RELEASE_STRANDED_HOLDS = "release_stranded_holds"
EXPIRE_MEDIA = "expire_media"
HANDLE_STUCK_JOBS = "handle_stuck_jobs"

# Where jobs' objects live (``activities.rehost.media_keys``, ``storage.keys.reference_image_key``):
# ``<prefix><project>/<job>/<name>``.
VIDEOS_PREFIX = "videos/"
REFERENCES_PREFIX = "references/"


@dataclass
class MediaExpiry:
    deleted: int = 0
    deleted_bytes: int = 0
    kept_running: int = 0  # old enough, but their job is still running


@dataclass
class StuckJobsReport:
    stuck: list[str] = field(default_factory=list)  # job ids, longest-failing first
    terminated: list[str] = field(default_factory=list)


class HousekeepingActivities:
    def __init__(
        self, client: Client, accounts: AccountStore, storage: MediaStorage, settings: Settings
    ) -> None:
        self._client = client
        self._accounts = accounts
        self._storage = storage
        self._settings = settings
        self._seen_running: dict[str, float] = {}  # job id -> when (monotonic) it was last seen running

    # -- stranded holds --------------------------------------------------------------------------------

    @activity.defn(name=RELEASE_STRANDED_HOLDS)
    async def release_stranded_holds(self) -> list[str]:
        """The job ids whose holds this round released."""
        after = timedelta(seconds=self._settings.hold_reconcile_after_seconds)
        holds = await self._accounts.stale_holds(after)
        self._forget_all_but({hold.job_id for hold in holds})
        released: list[str] = []
        for hold in holds:
            if self._seen_running_within(hold.job_id, after):
                continue
            status = await self._workflow_status(hold.job_id)
            if status is WorkflowExecutionStatus.RUNNING:
                self._seen_running[hold.job_id] = time.monotonic()
                continue
            why = "no_workflow" if status is None else f"workflow_{status.name.lower()}"
            if await self._release(hold.job_id, why):
                released.append(hold.job_id)
        return released

    async def _release(self, job_id: str, why: str) -> bool:
        try:
            settlement = await self._accounts.release_stale_hold(job_id, why)
        except HoldNotFound:
            return False  # nothing was held for this job
        if settlement.replayed:
            return False
        logger.warning(
            "released stale hold of job %s (project %s, %s USD): %s",
            job_id,
            settlement.project_id,
            settlement.released_usd,
            why,
        )
        return True

    def _seen_running_within(self, job_id: str, after: timedelta) -> bool:
        seen = self._seen_running.get(job_id)
        return seen is not None and time.monotonic() - seen < after.total_seconds()

    def _forget_all_but(self, job_ids: set[str]) -> None:
        for job_id in self._seen_running.keys() - job_ids:
            del self._seen_running[job_id]

    async def _workflow_status(self, job_id: str) -> WorkflowExecutionStatus | None:
        try:
            description = await self._client.get_workflow_handle(job_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return description.status or WorkflowExecutionStatus.RUNNING

    # -- media retention -------------------------------------------------------------------------------

    @activity.defn(name=EXPIRE_MEDIA)
    async def expire_media(self) -> MediaExpiry:
        expiry = MediaExpiry()
        running: dict[str, bool] = {}  # job id -> running, asked once per job and round
        for prefix, days in (
            (VIDEOS_PREFIX, self._settings.media_retention_days),
            (REFERENCES_PREFIX, self._settings.reference_image_retention_days),
        ):
            if days > 0:
                cutoff = datetime.now(UTC) - timedelta(days=days)
                await self._expire(prefix, cutoff, running, expiry)
        if expiry.deleted:
            logger.info("media retention deleted %s objects (%s bytes)", expiry.deleted, expiry.deleted_bytes)
        return expiry

    async def _expire(
        self, prefix: str, cutoff: datetime, running: dict[str, bool], expiry: MediaExpiry
    ) -> None:
        async for listed in self._storage.list_objects(prefix):
            activity.heartbeat(listed.key)  # throttled by the SDK; a long listing is alive too
            parts = listed.key.split("/")
            if listed.modified >= cutoff or len(parts) < 4:
                continue  # young, or not laid out as a job's object: not ours to judge
            job_id = parts[2]
            if job_id not in running:
                status = await self._workflow_status(job_id)
                running[job_id] = status is WorkflowExecutionStatus.RUNNING
            if running[job_id]:
                expiry.kept_running += 1
                continue
            await self._storage.delete(listed.key)
            expiry.deleted += 1
            expiry.deleted_bytes += listed.size_bytes

    # -- stuck jobs ------------------------------------------------------------------------------------

    @activity.defn(name=HANDLE_STUCK_JOBS)
    async def handle_stuck_jobs(self) -> StuckJobsReport:
        report = StuckJobsReport()
        limit_hours = self._settings.stuck_job_terminate_after_hours
        for job in await find_stuck_jobs(self._client, self._settings.temporal_task_queue):
            report.stuck.append(job.job_id)
            if limit_hours > 0 and job.failing_seconds() > limit_hours * 3600:
                await self._terminate(job)
                report.terminated.append(job.job_id)
            else:
                logger.warning(
                    "job %s is stuck: its workflow task has failed %s times since %s (%s); its credit "
                    "hold stays until it recovers or is terminated",
                    job.job_id,
                    job.attempts,
                    job.failing_since.isoformat(),
                    ", ".join(job.problems),
                )
        return report

    async def _terminate(self, job: StuckJob) -> None:
        hours = job.failing_seconds() / 3600
        reason = (
            f"housekeeping: workflow task failing for {hours:.1f} h ({job.attempts} attempts; "
            f"{', '.join(job.problems)}); hold released"
        )
        handle = self._client.get_workflow_handle(job.job_id, run_id=job.run_id)
        try:
            await handle.terminate(reason=reason)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # closed meanwhile: its hold is judged as usual
                raise
            return
        logger.error("terminated stuck job %s: %s", job.job_id, reason)
        await self._release(job.job_id, "stuck_terminated")
