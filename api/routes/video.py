"""``/v1/video``: generate, status (optionally waiting for the end: ``Prefer: wait=N``), cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from api.deps import (
    CurrentProject,
    JobCreatingProject,
    JobsDep,
    ReadingProject,
    ServicesDep,
    job_creator,
)
from api.job_requests import JOB_HEADERS_OPENAPI, job_request
from api.model_lifecycle import deprecation_notice
from api.prefer import MAX_WAIT_SECONDS, preferred_wait
from api.presenter import present_job
from api.problems import answer_created, idempotent_create, problem_responses
from api.schemas import CancelResult, GenerateRequest, VideoJob

router = APIRouter(prefix="/v1/video", tags=["video"])

_ERRORS = problem_responses(401, 404, 413, 422, 503)  # status and cancel
_GENERATE_ERRORS = problem_responses(
    400, 401, 402, 404, 409, 410, 413, 422, 429, 503,
    described={
        402: "Insufficient credits (`insufficient_credits`), or a spend cap of the project or key would be "
        "passed (`budget_exceeded`)",
        410: "The pinned model is retired (`model_retired`, with its `successor`)",
        404: "The job this idempotency key names was deleted (`job_deleted`)",
        409: "Idempotency key reused with a different request",
        422: "Invalid field, no vendor serves the request, unsafe reference URL (`reason`), or a bad "
        "deadline (`invalid_deadline`)",
        429: "Over this key's rate limit (`rate_limit_exceeded`, retry after Retry-After), or the project or "
        "key runs as many jobs as its concurrency cap allows (`concurrency_limit_exceeded`)",
    },
)  # fmt: skip


@router.post(
    "/generate",
    **idempotent_create(VideoJob, "job", _GENERATE_ERRORS),
    openapi_extra=JOB_HEADERS_OPENAPI,  # Idempotency-Key and Cancel-After, read by job_request
)
async def generate(
    body: GenerateRequest,
    request: Request,
    response: Response,
    project: JobCreatingProject,
    services: ServicesDep,  # one dependency for every service it uses: each costs a resolution per call
) -> VideoJob:
    """Start a video job (202 + Location), or return the job an idempotency key already names (200).

    A job on a deprecated model starts, and the answer says so: a ``model_deprecated`` warning and the
    ``Deprecation`` / ``Sunset`` headers. A retired model is refused (410 ``model_retired``)."""
    creator = job_creator(services)
    started = await creator.create(job_request(body, request.headers), project.project_id, project.key_id)
    snapshot = started.snapshot
    answer_created(response, f"/v1/video/jobs/{snapshot.job_id}", created=started.created)
    warnings, headers = deprecation_notice(
        services.catalog, snapshot.vendor, snapshot.model, services.settings.model_lifecycle_date
    )
    response.headers.update(headers)
    eta = await services.etas.estimate(snapshot)
    return present_job(snapshot, services.links, eta, warnings)


@router.get("/jobs/{job_id}", response_model=VideoJob, responses=_ERRORS)
async def get_job(
    job_id: str,
    response: Response,
    caller: ReadingProject,
    services: ServicesDep,  # as generate's: the hottest read, one resolution for every service it uses
    prefer: Annotated[
        str | None,
        Header(description="`wait=N`: answer as soon as the job is final, or after N seconds (at most 60)."),
    ] = None,
) -> VideoJob:
    """The job's state; a finished job carries fresh signed ``video_url`` and ``thumbnail_url``, a running
    one its ETA (``eta_seconds``, ``expected_finish_at``, ``eta_source``; ``queue_position`` where the
    vendor reports one).

    With ``Prefer: wait=N`` the answer comes as soon as the job is final, or after N seconds (at most 60)
    with the job as it is then; ``Preference-Applied: wait=N`` says the wait was honoured.
    """
    project_id = caller.project.project_id
    settings = services.settings

    async def answer() -> VideoJob:
        wait = preferred_wait(prefer, min(MAX_WAIT_SECONDS, settings.job_wait_max_seconds))
        response.headers["Vary"] = "Prefer"
        if wait is None:
            snapshot = await services.jobs.status(job_id, project_id)
        else:
            snapshot = await services.watches.wait_final(job_id, project_id, within_seconds=wait)
            response.headers["Preference-Applied"] = f"wait={wait}"
        eta = await services.etas.estimate(snapshot)
        return present_job(snapshot, services.links, eta)

    return await caller.read(answer())


@router.post("/jobs/{job_id}/cancel", response_model=CancelResult, responses=_ERRORS)
async def cancel_job(job_id: str, project: CurrentProject, jobs: JobsDep) -> CancelResult:
    """Cancel a job. A finished job answers ``ok: false`` with its state (``ok: true`` if cancelled)."""
    ok, state = await jobs.cancel(job_id, project.project_id)
    return CancelResult(ok=ok, job_id=job_id, state=state)
