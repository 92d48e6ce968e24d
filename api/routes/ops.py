"""Operations endpoints, outside the public API and its auth: liveness, readiness, Prometheus metrics.

Put them behind your network's policy in production (they reveal no customer data, but they are not
meant for the internet): ``/metrics`` for the scraper, the probes for the orchestrator.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.problems import ProblemError
from api.readiness import OK, check_readiness
from core.errors import ErrorCode
from observability.http import ApiMetrics

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


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    body, content_type = api_metrics.exposition()
    return Response(body, media_type=content_type)
