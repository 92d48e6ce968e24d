"""``/v1/video``: generate, status (optionally waiting for the end: ``Prefer: wait=N``), cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from accounts.errors import HoldConflict, HoldSettled, InsufficientCredits
from accounts.store import AccountStore
from api.deps import AppSettings, CurrentProject
from api.job_watch import JobWatchHub
from api.jobs import JobConflict, JobService, StartedJob
from api.prefer import MAX_WAIT_SECONDS, preferred_wait
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
from core.models import (
    DEFAULT_WEBHOOK_EVENTS,
    JobInput,
    JobSnapshot,
    JobState,
    RouteCandidate,
    VideoSpec,
    WebhookTarget,
)
from core.settings import Settings
from core.url_safety import UnsafeUrl, parse_allowlist
from core.webhook_targets import vet_webhook_url
from vendors.router import NoRouteError, plan_route

router = APIRouter(prefix="/v1/video", tags=["video"])
# A keyed generate whose job the project deleted (the OpenAI-compatible DELETE): 404 like its status.
JOB_DELETED = "job_deleted"

_ERRORS = problem_responses(401, 404, 413, 422, 503)  # status and cancel
_GENERATE_ERRORS = problem_responses(
    400, 401, 402, 404, 409, 413, 422, 503,
    described={
        404: "The job this idempotency key names was deleted (`job_deleted`)",
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
        extra: dict[str, object] = {"constraint": err.constraint, "alternatives": err.alternatives}
        if err.max_prompt_chars is not None:
            extra["max_prompt_chars"] = err.max_prompt_chars
        raise ProblemError(422, err.code, err.detail, extra=extra) from None


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
    started = await create_job(request, body, project.project_id, settings)
    response.headers["Location"] = f"/v1/video/jobs/{started.snapshot.job_id}"
    if not started.created:
        response.status_code = 200
    return _present(request, started.snapshot)


async def create_job(
    request: Request, body: GenerateRequest, project_id: str, settings: Settings
) -> StartedJob:
    """Start the job ``body`` asks for, or find the one its idempotency key already names (any API
    dialect that makes jobs comes through here; the key comes from the body or the request headers)."""
    key = _idempotency_key(body, request)
    job_id = job_id_for_key(project_id, key) if key else new_job_id()
    fingerprint = body.fingerprint()
    try:
        if key:
            replayed = await _replay(request, body, project_id, job_id, fingerprint)
            if replayed is not None:
                return replayed
        try:
            # No look-up first, even with a key: the hold is keyed by job id (a repeat holds nothing more)
            # and the start finds the existing workflow if there is one, then compares fingerprints.
            return await _start(request, body, settings, project_id, job_id, fingerprint)
        except ProblemError:
            # Refused before the start (no route any more, a reference URL that stopped resolving, ...):
            # a repeat of a request that did start a job still gets that job.
            existing = await _jobs(request).find_existing(job_id, project_id, fingerprint) if key else None
            if existing is None:
                raise
            return existing
    except JobConflict:
        raise ProblemError(
            409,
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "This idempotency key was already used for a different request; use a new key.",
            extra={"job_id": job_id},
        ) from None


async def _replay(
    request: Request, body: GenerateRequest, project_id: str, job_id: str, fingerprint: str
) -> StartedJob | None:
    """What a keyed request answers before anything is fetched or held: ``404 job_deleted`` when its job
    was deleted (a status of it is 404 too; found nowhere else once Temporal removes the execution), and
    with a reference image the job it already started, so a replay neither fetches the customer's URL
    again nor writes over the copy the job renders from. Otherwise None: go on and start (or find) it."""
    jobs = _jobs(request)
    if await jobs.deleted_among([job_id]):
        raise ProblemError(
            404,
            JOB_DELETED,
            "The job this idempotency key names was deleted; use a new key for a new job.",
            extra={"job_id": job_id},
        )
    if body.reference_image_url is None:
        return None  # nothing to refetch: the start itself finds an existing job (no extra round trip)
    return await jobs.find_existing(job_id, project_id, fingerprint)


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
    webhook = await _webhook_target(request, settings, body, project_id)
    route = _route(request, body, spec)
    image = await fetch_reference_image(body.reference_image_url, settings)
    try:
        route = await _hold_for_route(request.app.state.accounts, project_id, job_id, route, fingerprint)
    except HoldConflict:
        # Of concurrent requests under one key, only the one whose body was held can start the job.
        raise JobConflict(job_id) from None
    except HoldSettled:
        # The job this key names already ended (a concurrent twin of this request finished it), or its
        # hold was released because it never started: only an existing job can be answered.
        existing = await _jobs(request).find_existing(job_id, project_id, fingerprint)
        if existing is None:
            raise _spent_key(job_id) from None
        return existing
    # Stored only once every check passed and credits are held: a refused request leaves nothing behind.
    spec = await with_stored_reference(spec, image, request.app.state.storage, project_id, job_id)
    job = JobInput(
        job_id=job_id,
        project_id=project_id,
        spec=spec,
        route=route,
        created_at=datetime.now(UTC),
        timings=settings.job_timings(),
        webhook=webhook,
    )
    return await _jobs(request).start(job, fingerprint)


async def _hold_for_route(
    accounts: AccountStore, project_id: str, job_id: str, route: list[RouteCandidate], fingerprint: str
) -> list[RouteCandidate]:
    """Hold credits for the dearest candidate the job may fail over to, so a failover never settles above
    the hold. A project that can't cover every candidate keeps the ones it can, in route order, as long as
    the first is among them; otherwise InsufficientCredits becomes the 402 problem in the accounts error
    handler (the one place that formats its amounts). Holds are keyed by job id and carry the request's
    fingerprint: a retry never holds twice, and a different body under the same key is a HoldConflict.
    """
    try:
        await accounts.hold(project_id, job_id, max(c.estimated_cost_usd for c in route), request=fingerprint)
        return route
    except InsufficientCredits as err:
        affordable = [c for c in route if c.estimated_cost_usd <= err.available]
        if not affordable or affordable[0] is not route[0]:
            raise
    await accounts.hold(
        project_id, job_id, max(c.estimated_cost_usd for c in affordable), request=fingerprint
    )
    return affordable


async def _webhook_target(
    request: Request, settings: Settings, body: GenerateRequest, project_id: str
) -> WebhookTarget | None:
    if body.webhook_url is None:
        return None
    try:
        await vet_webhook_url(
            body.webhook_url,
            allowlist=parse_allowlist(settings.url_allowlist.split(",")),
            allow_private=settings.allow_private_urls,
        )
    except UnsafeUrl as err:
        raise ProblemError(
            422, ErrorCode.UNSAFE_URL, f"webhook_url refused: {err.message}", extra={"reason": err.reason}
        ) from None
    # Made now rather than at the first delivery, so the project can read it before any webhook arrives.
    await request.app.state.accounts.webhook_secret(project_id)
    events = [JobState(event) for event in body.webhook_events or DEFAULT_WEBHOOK_EVENTS]
    return WebhookTarget(url=body.webhook_url, events=list(dict.fromkeys(events)))


def _spent_key(job_id: str) -> ProblemError:
    return ProblemError(
        409,
        ErrorCode.IDEMPOTENCY_CONFLICT,
        "This idempotency key's job no longer exists (it never started, or its record has expired); "
        "use a new key.",
        extra={"job_id": job_id},
    )


@router.get("/jobs/{job_id}", response_model=VideoJob, responses=_ERRORS)
async def get_job(
    job_id: str,
    request: Request,
    response: Response,
    project: CurrentProject,
    prefer: Annotated[
        str | None,
        Header(description="`wait=N`: answer as soon as the job is final, or after N seconds (at most 60)."),
    ] = None,
) -> VideoJob:
    """The job's state; a finished job carries fresh signed ``video_url`` and ``thumbnail_url``.

    With ``Prefer: wait=N`` the answer comes as soon as the job is final, or after N seconds (at most 60)
    with the job as it is then; ``Preference-Applied: wait=N`` says the wait was honoured.
    """
    settings: Settings = request.app.state.settings
    wait = preferred_wait(prefer, min(MAX_WAIT_SECONDS, settings.job_wait_max_seconds))
    response.headers["Vary"] = "Prefer"
    if wait is None:
        snapshot = await _jobs(request).status(job_id, project.project_id)
    else:
        watches: JobWatchHub = request.app.state.watches
        snapshot = await watches.wait_final(job_id, project.project_id, within_seconds=wait)
        response.headers["Preference-Applied"] = f"wait={wait}"
    return _present(request, snapshot)


@router.post("/jobs/{job_id}/cancel", response_model=CancelResult, responses=_ERRORS)
async def cancel_job(job_id: str, request: Request, project: CurrentProject) -> CancelResult:
    """Cancel a job. A finished job answers ``ok: false`` with its state (``ok: true`` if cancelled)."""
    ok, state = await _jobs(request).cancel(job_id, project.project_id)
    return CancelResult(ok=ok, job_id=job_id, state=state)
