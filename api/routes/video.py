"""``/v1/video``: generate, status, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from accounts.errors import InsufficientCredits
from api.deps import AppSettings, CurrentProject
from api.jobs import JobConflict, JobService, StartedJob
from api.presenter import present_job
from api.problems import ProblemError, problem_responses
from api.reference_images import fetch_reference_image, with_stored_reference
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
from vendors.router import NoRouteError, plan_route

router = APIRouter(prefix="/v1/video", tags=["video"])

_ERRORS = problem_responses(401, 404, 413, 422, 503)  # status and cancel
_GENERATE_ERRORS = problem_responses(
    400, 401, 402, 409, 413, 422, 503,
    described={
        409: "Idempotency key reused with a different request",
        422: "Invalid field, no vendor serves the request, or unsafe reference URL (`reason`)",
    },
)  # fmt: skip


def _jobs(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


def _present(request: Request, snapshot: JobSnapshot) -> VideoJob:
    settings: Settings = request.app.state.settings
    return present_job(snapshot, request.app.state.storage, settings.media_url_ttl_seconds)


def _idempotency_key(body: GenerateRequest, request: Request) -> str | None:
    headers = request.headers.getlist("idempotency-key")
    if len(headers) > 1:
        # Proxies disagree on which of several copies counts; one of them could start a second job.
        raise ProblemError(422, ErrorCode.INVALID_INPUT, "Send one Idempotency-Key header, not several.")
    header = headers[0] if headers else None
    if header is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, header):
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


@router.post(
    "/generate",
    status_code=202,
    response_model=VideoJob,
    responses={
        200: {"description": "An idempotent retry: the existing job", "model": VideoJob},
        **_GENERATE_ERRORS,
    },
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
    del idempotency_key  # declared for the OpenAPI document; read below with every copy it was sent in
    jobs = _jobs(request)
    key = _idempotency_key(body, request)
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
    image = await fetch_reference_image(body.reference_image_url, settings)
    try:
        # Held against the job id: a retried request never holds twice.
        await request.app.state.accounts.hold(project_id, job_id, route[0].estimated_cost_usd)
    except InsufficientCredits as err:
        raise ProblemError(
            402,
            ErrorCode.INSUFFICIENT_CREDITS,
            f"This job needs ${err.required} of credits; ${err.available} are available.",
            extra={"required_usd": str(err.required), "available_usd": str(err.available)},
        ) from None
    # Stored only once every check passed and credits are held: a refused request leaves nothing behind.
    spec = await with_stored_reference(spec, image, request.app.state.storage, project_id, job_id)
    job = JobInput(
        job_id=job_id,
        project_id=project_id,
        spec=spec,
        route=route,
        created_at=datetime.now(UTC),
        timings=settings.job_timings(),
    )
    return await _jobs(request).start(job, fingerprint)


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
