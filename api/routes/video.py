"""``/v1/video``: generate, status, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from accounts.errors import HoldConflict, HoldSettled, InsufficientCredits
from api.deps import AppSettings, CurrentProject
from api.jobs import JobConflict, JobService, StartedJob
from api.presenter import present_job
from api.problems import ProblemError
from api.schemas import (
    DEFAULT_DURATION_SECONDS,
    IDEMPOTENCY_KEY_PATTERN,
    CancelResult,
    GenerateRequest,
    VideoJob,
)
from core.errors import ErrorCode
from core.ids import job_id_for_key, new_job_id
from core.models import JobInput, JobSnapshot, RouteCandidate, VideoSpec
from core.settings import Settings
from core.url_safety import UnsafeUrl, check_fetchable_url
from vendors.router import NoRouteError, plan_route

router = APIRouter(prefix="/v1/video", tags=["video"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {status: {"description": desc, **_PROBLEM} for status, desc in {
    400: "Malformed request", 401: "Missing or invalid API key", 402: "Insufficient credits",
    404: "No such job in this project", 409: "Idempotency key reused with a different request",
    422: "Invalid field, no vendor serves the request, or unsafe reference URL",
    503: "Temporarily unavailable; retry after the Retry-After seconds",
}.items()}  # fmt: skip


def _jobs(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


def _present(request: Request, snapshot: JobSnapshot) -> VideoJob:
    settings: Settings = request.app.state.settings
    return present_job(snapshot, request.app.state.storage, settings.media_url_ttl_seconds)


def _idempotency_key(body: GenerateRequest, header: str | None) -> str | None:
    if header is not None and not re.match(IDEMPOTENCY_KEY_PATTERN, header):
        raise ProblemError(
            422, ErrorCode.INVALID_INPUT, "Idempotency-Key must be 1-255 chars of [A-Za-z0-9._:-]."
        )
    if header and body.idempotency_key and header != body.idempotency_key:
        raise ProblemError(
            422, ErrorCode.INVALID_INPUT, "The Idempotency-Key header and the idempotency_key field differ."
        )
    return body.idempotency_key or header


def _route(request: Request, body: GenerateRequest, spec: VideoSpec) -> list[RouteCandidate]:
    try:
        return plan_route(
            spec,
            body.prefer,
            body.vendor,
            body.model,
            request.app.state.catalog,
            request.app.state.configured,
        )
    except NoRouteError as err:
        raise ProblemError(
            422,
            err.code,
            err.detail,
            extra={"constraint": err.constraint, "alternatives": err.alternatives},
        ) from None


async def _check_reference(settings: Settings, url: str | None) -> None:
    if url is None:
        return
    try:
        await check_fetchable_url(
            url, allow_private=settings.allow_private_urls, max_bytes=settings.reference_image_max_bytes
        )
    except UnsafeUrl as err:
        raise ProblemError(
            422,
            ErrorCode.UNSAFE_URL,
            f"reference_image_url refused: {err.message}",
            extra={"reason": err.reason},
        ) from None


@router.post(
    "/generate",
    status_code=202,
    response_model=VideoJob,
    responses={200: {"description": "An idempotent retry: the existing job", "model": VideoJob}, **_ERRORS},
)
async def generate(
    body: GenerateRequest,
    request: Request,
    response: Response,
    project: CurrentProject,
    settings: AppSettings,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> VideoJob:
    """Start a video job (202 + Location), or return the job an idempotency key already names (200)."""
    jobs = _jobs(request)
    key = _idempotency_key(body, idempotency_key)
    job_id = job_id_for_key(project.project_id, key) if key else new_job_id()
    fingerprint = body.fingerprint()
    try:
        existing = await jobs.find_existing(job_id, project.project_id, fingerprint) if key else None
        if existing is None:
            existing = await _start(request, body, settings, project.project_id, job_id, fingerprint)
    except JobConflict:
        raise ProblemError(
            409,
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "This idempotency key was already used for a different request; use a new key.",
            extra={"job_id": job_id},
        ) from None
    response.headers["Location"] = f"/v1/video/jobs/{job_id}"
    if not existing.created:
        response.status_code = 200
    return _present(request, existing.snapshot)


async def _start(
    request: Request,
    body: GenerateRequest,
    settings: Settings,
    project_id: str,
    job_id: str,
    fingerprint: str,
) -> StartedJob:
    spec = VideoSpec(
        prompt=body.prompt,
        reference_image_url=body.reference_image_url,
        duration_seconds=body.duration_seconds or DEFAULT_DURATION_SECONDS,
        aspect=body.aspect,
        resolution=body.resolution,
    )
    route = _route(request, body, spec)
    await _check_reference(settings, body.reference_image_url)
    try:
        # Held against the job id for this request's fingerprint: a retried request never holds twice,
        # and of concurrent requests under one key only the one whose body was held can start the job.
        await request.app.state.accounts.hold(
            project_id, job_id, route[0].estimated_cost_usd, request=fingerprint
        )
    except InsufficientCredits as err:
        raise ProblemError(
            402,
            ErrorCode.INSUFFICIENT_CREDITS,
            f"This job needs ${err.required} of credits; ${err.available} are available.",
            extra={"required_usd": str(err.required), "available_usd": str(err.available)},
        ) from None
    except HoldConflict:
        raise JobConflict(job_id) from None
    except HoldSettled:
        # The job this key names already ended (a concurrent twin of this request finished it), or its
        # hold was released because it never started: only an existing job can be answered.
        existing = await _jobs(request).find_existing(job_id, project_id, fingerprint)
        if existing is None:
            raise _spent_key(job_id) from None
        return existing
    job = JobInput(
        job_id=job_id,
        project_id=project_id,
        spec=spec,
        route=route,
        created_at=datetime.now(UTC),
        timings=settings.job_timings(),
    )
    return await _jobs(request).start(job, fingerprint)


def _spent_key(job_id: str) -> ProblemError:
    return ProblemError(
        409,
        ErrorCode.IDEMPOTENCY_CONFLICT,
        "This idempotency key's job no longer exists (it never started, or its record has expired); "
        "use a new key.",
        extra={"job_id": job_id},
    )


@router.get("/jobs/{job_id}", response_model=VideoJob, responses=_ERRORS)
async def get_job(job_id: str, request: Request, project: CurrentProject) -> VideoJob:
    """The job's state; a finished job carries fresh signed ``video_url`` and ``thumbnail_url``."""
    snapshot = await _jobs(request).status(job_id, project.project_id)
    return _present(request, snapshot)


@router.post("/jobs/{job_id}/cancel", response_model=CancelResult, responses=_ERRORS)
async def cancel_job(job_id: str, request: Request, project: CurrentProject) -> CancelResult:
    """Cancel a job. A finished job answers ``ok: false`` with its state (``ok: true`` if cancelled)."""
    ok, state = await _jobs(request).cancel(job_id, project.project_id)
    return CancelResult(ok=ok, job_id=job_id, state=state)
