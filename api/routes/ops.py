"""Operations endpoints, outside the public API and its auth: liveness, readiness, Prometheus metrics, and
the jobs whose workflow task keeps failing (``/ops/stuck-jobs``; docs/operations/stuck-jobs.md).

Put them behind your network's policy in production (they reveal no customer data, but they are not
meant for the internet): ``/metrics`` for the scraper, the probes for the orchestrator.
"""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Query, Response

from accounts.errors import AccountsUnavailable
from api.deps import AccountsDep, MetricsDep, ServicesDep, StuckJobsDep
from api.problems import ProblemError
from api.readiness import OK, check_readiness
from core.errors import ErrorCode

router = APIRouter(tags=["ops"], include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP (what a liveness probe restarts on)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> dict[str, object]:
    """200 when Temporal, the accounts DB and storage all answer; 503 naming the ones that do not."""
    checks = await check_readiness(services.temporal, services.accounts, services.storage)
    failing = sorted(name for name, result in checks.items() if result != OK)
    if failing:
        raise ProblemError(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            f"not ready: {', '.join(failing)} unreachable",
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return {"status": "ready", "checks": checks}


@router.get("/ops/stuck-jobs")
async def stuck_jobs(watch: StuckJobsDep) -> dict[str, object]:
    """Running jobs whose workflow task keeps failing, longest-failing first (503 when Temporal cannot be
    asked). Their credit holds stay held until housekeeping terminates them (see the docs)."""
    try:
        jobs = await watch.current()
    except Exception as error:
        raise ProblemError(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            f"cannot list stuck jobs: {type(error).__name__}",
            headers={"Retry-After": "5"},
        ) from error
    return {"count": len(jobs), "stuck_jobs": [job.as_json() for job in jobs]}


@router.get("/metrics")
async def metrics(api_metrics: MetricsDep, accounts: AccountsDep, watch: StuckJobsDep) -> Response:
    # Read at scrape time from the journal every worker writes, so it is the cluster's figure, not ours.
    with contextlib.suppress(AccountsUnavailable):
        api_metrics.possible_orphans.set(await accounts.submit_journal().count_possible_orphans())
    stuck = await watch.current_or_last()
    longest = max((job.failing_seconds() for job in stuck), default=0.0)
    api_metrics.stuck_jobs_seen(len(stuck), longest, watch.checked_at)
    body, content_type = api_metrics.exposition()
    return Response(body, media_type=content_type)


@router.get("/ops/possible-orphans")
async def possible_orphans(
    accounts: AccountsDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, object]:
    """Vendor submits whose outcome stayed unknown (the worker died mid-request, or the answer was lost,
    at a vendor that cannot look tasks up by our key): the job failed unbilled, but a task may run at the
    vendor. Check each at the vendor's console with its job id and time; newest first."""
    records = await accounts.submit_journal().possible_orphans(limit)  # an outage is the usual 503
    return {
        "possible_orphans": [
            {
                "job_id": record.job_id,
                "attempt_key": record.attempt_key,
                "vendor": record.vendor,
                "model": record.model,
                "attempts": record.attempts,
                "detail": record.detail,
                "first_sent_at": record.created_at.isoformat(),
                "last_seen_at": record.updated_at.isoformat(),
            }
            for record in records
        ]
    }
