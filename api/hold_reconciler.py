"""Releases credit holds that no job will ever settle.

The API holds a job's credits *before* it starts the job's workflow (so a job never runs unpaid), which
means a crash of the API, or a Temporal outage, between the two leaves a hold with no job under it: those
credits would stay unavailable for good. Every ``hold_reconcile_interval_seconds`` this task lists the
holds older than ``hold_reconcile_after_seconds`` that are still open (``AccountStore.stale_holds``) and
asks Temporal about each one's job:

- no workflow has the job's id: the job never started → release the hold, charging nothing;
- the workflow is closed: it ended without settling (terminated by an operator, timed out) → release;
- the workflow is running: it settles itself when it ends → leave it, and do not ask about it again for
  another ``after`` (a three-hour job would otherwise be described every round).

Why here: the API is the one place that places holds and it already holds the accounts store and the
Temporal client. Several API processes may each run it; a release is a settlement, recorded once per job.
The age threshold sits far above any start latency, so a request between its hold and its start is never
judged; a client that comes back with the same idempotency key after the release gets ``409`` (the key's
job id is spent), and should a start race the release anyway, that job's own settlement still charges it
(``accounts.ledger``). During an outage of either side a round simply stops and the next one retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus

from accounts.errors import AccountsUnavailable
from accounts.store import AccountStore
from api.jobs import JobService
from api.temporal_outages import is_temporal_outage

logger = logging.getLogger(__name__)


class HoldReconciler:
    def __init__(
        self, accounts: AccountStore, jobs: JobService, *, after: timedelta, interval: float
    ) -> None:
        self._accounts = accounts
        self._jobs = jobs
        self._after = after
        self._interval = interval
        self._seen_running: dict[str, float] = {}  # job id -> when (monotonic) it was last seen running

    async def run_once(self) -> list[str]:
        """One round; the job ids whose holds it released."""
        released: list[str] = []
        try:
            holds = await self._accounts.stale_holds(self._after)
            self._forget_all_but({hold.job_id for hold in holds})
            for hold in holds:
                if self._seen_running_lately(hold.job_id):
                    continue
                status = await self._jobs.workflow_status(hold.job_id)
                if status is WorkflowExecutionStatus.RUNNING:
                    self._seen_running[hold.job_id] = time.monotonic()
                    continue
                why = "no_workflow" if status is None else f"workflow_{status.name.lower()}"
                settlement = await self._accounts.release_stale_hold(hold.job_id, why)
                if not settlement.replayed:
                    logger.warning(
                        "released stale hold of job %s (project %s, %s USD): %s",
                        hold.job_id,
                        hold.project_id,
                        settlement.released_usd,
                        why,
                    )
                    released.append(hold.job_id)
        except AccountsUnavailable as error:
            logger.info("hold reconciliation postponed: %s", error)
        except Exception as error:
            if not is_temporal_outage(error):
                raise
            logger.info("hold reconciliation postponed: temporal unavailable (%s)", error)
        return released

    def _seen_running_lately(self, job_id: str) -> bool:
        seen = self._seen_running.get(job_id)
        return seen is not None and time.monotonic() - seen < self._after.total_seconds()

    def _forget_all_but(self, job_ids: set[str]) -> None:
        for job_id in self._seen_running.keys() - job_ids:
            del self._seen_running[job_id]

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("hold reconciliation failed; trying again next round")
            await asyncio.sleep(self._interval)
