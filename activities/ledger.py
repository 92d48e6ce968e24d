"""The ledger activity: settle a job's credits once its outcome is known.

The workflow calls ``settle_job`` exactly when a job ends. The store makes it idempotent (one release
and at most one charge per job, whatever the retries), so Temporal may retry it freely: a DB outage is
a retryable ``ApplicationError`` with the store's Retry-After as the next delay.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from accounts.errors import AccountsUnavailable, ProjectNotFound
from accounts.store import AccountStore
from core.errors import ErrorCode
from core.models import SettleRequest, SettleResult

# The activity's name on the wire: workflows call it by method, the API and tests look it up by this name.
SETTLE_JOB = "settle_job"


class LedgerActivities:
    def __init__(self, store: AccountStore) -> None:
        self._store = store

    @activity.defn(name=SETTLE_JOB)
    async def settle_job(self, req: SettleRequest) -> SettleResult:
        # Not billed means the project pays nothing, whatever the estimate said: failures the vendor did
        # not bill and cancels before the vendor accepted release the whole hold.
        charge = req.charge_usd if req.billed else Decimal(0)
        reason = req.reason or str(req.outcome)
        try:
            settlement = await self._store.settle(
                req.job_id, charge=charge, reason=reason, project_id=req.project_id
            )
        except AccountsUnavailable as error:
            raise ApplicationError(
                str(error),
                type=str(ErrorCode.SERVICE_UNAVAILABLE),
                non_retryable=False,
                next_retry_delay=timedelta(seconds=error.retry_after_seconds),
            ) from error
        except (ProjectNotFound, ValueError) as error:
            # A job settled against a project that does not hold it is a bug; retrying will not fix it.
            raise ApplicationError(str(error), type=str(ErrorCode.INTERNAL), non_retryable=True) from error
        if settlement.uncollected_usd > 0:
            activity.logger.warning(
                "job %s cost %s USD more than project %s could pay",
                req.job_id,
                settlement.uncollected_usd,
                req.project_id,
            )
        return SettleResult(
            charged_usd=settlement.charged_usd,
            released_usd=settlement.released_usd,
            uncollected_usd=settlement.uncollected_usd,
        )
