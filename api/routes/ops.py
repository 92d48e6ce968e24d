"""Operations endpoints, outside the public API and its auth: liveness, readiness, Prometheus metrics, and
the jobs whose workflow task keeps failing (``/ops/stuck-jobs``; docs/operations/stuck-jobs.md).

Put them behind your network's policy in production (they reveal no customer data, but they are not
meant for the internet): ``/metrics`` for the scraper, the probes for the orchestrator.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.problems import ProblemError
from api.readiness import OK, check_readiness
from core.errors import ErrorCode
from observability.http import ApiMetrics
from observability.stuck_jobs import StuckJobWatch

router = APIRouter(tags=["ops"], include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP (what a liveness probe restarts on)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, object]:
    """200 when Temporal, the accounts DB and storage all answer; 503 naming the ones that do not."""
    state = request.app.state
    checks = await check_readiness(state.temporal, state.accounts, state.storage)
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
async def stuck_jobs(request: Request) -> dict[str, object]:
    """Running jobs whose workflow task keeps failing, longest-failing first (503 when Temporal cannot be
    asked). Their credit holds stay held until housekeeping terminates them (see the docs)."""
    watch: StuckJobWatch = request.app.state.stuck_jobs
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
async def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    watch: StuckJobWatch = request.app.state.stuck_jobs
    stuck = await watch.current_or_last()
    longest = max((job.failing_seconds() for job in stuck), default=0.0)
    api_metrics.stuck_jobs_seen(len(stuck), longest, watch.checked_at)
    body, content_type = api_metrics.exposition()
    return Response(body, media_type=content_type)
