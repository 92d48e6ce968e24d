"""An OpenAI-compatible videos API on our jobs: the official ``openai`` SDK works with ``base_url`` set to
``<api>/v1`` and a project key as its ``api_key``.

``POST /v1/videos`` (multipart form as the SDK sends it, or JSON), ``GET /v1/videos/{id}``,
``GET /v1/videos/{id}/content`` (``variant=video|thumbnail``), ``GET /v1/videos`` (``after``/``limit``/
``order``) and ``DELETE /v1/videos/{id}`` (a finished job: its media and its record). Jobs made here are
ordinary jobs (the same ids work on ``/v1/video/jobs``) and the other way round. Errors use OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``, so the SDK raises its usual exceptions with our message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from accounts.errors import AccountsUnavailable
from api.deadlines import CancelAfterHeader
from api.deps import (
    CreatorDep,
    CurrentProject,
    JobCreatingProject,
    JobsDep,
    ListerDep,
    SettingsDep,
    StorageDep,
)
from api.domain_problems import REFUSED_HOLDS, problem_for, refused_hold_problem
from api.job_requests import IdempotencyKeyHeader, job_request
from api.openai_requests import create_request_fields, generate_request
from api.openai_schemas import (
    OpenAIRequestError,
    Video,
    VideoDeleted,
    VideoList,
    video_of,
)
from api.problems import ProblemError
from core.errors import ErrorCode
from core.models import JobState
from jobs.errors import JobError
from jobs.listing import JobFilter, Position
from storage import ObjectNotFoundError

_CHUNK = 1024 * 1024
_ERROR_TYPES = {401: "authentication_error", 402: "insufficient_quota", 429: "rate_limit_error"}
VIDEO_NOT_READY = "video_not_ready"
VIDEO_NOT_FINISHED = "video_not_finished"


def openai_error(
    status: int, code: str, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class OpenAIErrorRoute(APIRoute):
    """Answers this router's errors in OpenAI's shape instead of problem JSON (auth failures included:
    dependencies run inside the route handler)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ProblemError as err:
                return openai_error(err.status, err.code, err.detail, headers=err.headers)
            except JobError as err:
                problem = problem_for(err)
                return openai_error(problem.status, problem.code, problem.detail, headers=problem.headers)
            except REFUSED_HOLDS as err:  # credits, a spend cap (402) or a concurrency cap (429)
                problem = refused_hold_problem(err)
                return openai_error(problem.status, problem.code, problem.detail)
            except OpenAIRequestError as err:
                return openai_error(400, ErrorCode.INVALID_INPUT, err.message, err.param)
            except RequestValidationError as err:
                first = err.errors()[0] if err.errors() else {}
                param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
                return openai_error(400, ErrorCode.INVALID_INPUT, str(first.get("msg", "invalid")), param)
            except AccountsUnavailable as err:
                return openai_error(
                    503,
                    ErrorCode.SERVICE_UNAVAILABLE,
                    "Accounts are temporarily unavailable; retry shortly.",
                    headers={"Retry-After": str(err.retry_after_seconds)},
                )

        return handle


router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIErrorRoute)

_ERROR_BODY: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "object"}},
                "required": ["error"],
            }
        }
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, **_ERROR_BODY}
    for status, description in {
        400: "Invalid request",
        401: "Missing or invalid API key",
        402: "Insufficient credits, or a spend cap of the project or key",
        404: "No such video in this project",
        409: "The video is not in a state that allows this",
        410: "The requested model is retired (`model_retired`)",
        422: "No vendor serves the request, or an unsafe reference URL",
        429: "Over this key's rate limit (`rate_limit_exceeded`, retry after Retry-After), or the project or "
        "key runs as many jobs as its concurrency cap allows (`concurrency_limit_exceeded`)",
        503: "Temporarily unavailable",
    }.items()
}
_CREATE_FIELDS = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string"},
        "model": {"type": "string"},
        "seconds": {"type": "string", "pattern": "^([1-9]|[1-5][0-9]|60)$", "examples": ["4"]},
        "size": {"type": "string", "pattern": "^[0-9]{2,5}[xX][0-9]{2,5}$", "examples": ["1280x720"]},
    },
}
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    **_CREATE_FIELDS,
                    "properties": {
                        **_CREATE_FIELDS["properties"],  # type: ignore[dict-item]
                        "input_reference": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    **_CREATE_FIELDS,
                    "properties": {
                        **_CREATE_FIELDS["properties"],  # type: ignore[dict-item]
                        "input_reference": {
                            "type": "object",
                            "properties": {"image_url": {"type": "string"}},
                            "required": ["image_url"],
                            "additionalProperties": False,
                        },
                    },
                }
            },
        },
    }
}


@router.post("/videos", response_model=Video, responses=_ERRORS, openapi_extra=_CREATE_BODY)
async def create_video(
    request: Request,
    project: JobCreatingProject,
    settings: SettingsDep,
    creator: CreatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
    cancel_after: CancelAfterHeader = None,
) -> Video:
    """Start a video job (OpenAI ``videos.create``); a deadline comes as the ``Cancel-After`` header."""
    fields = await create_request_fields(request, settings.reference_image_max_bytes)
    del idempotency_key, cancel_after  # declared for the OpenAPI document; job_request reads every copy
    job = job_request(generate_request(fields), request.headers)
    started = await creator.create(job, project.project_id, project.key_id)
    return video_of(started.snapshot)


@router.get("/videos/{video_id}", response_model=Video, responses=_ERRORS)
async def retrieve_video(video_id: str, project: CurrentProject, jobs: JobsDep) -> Video:
    """The video job (OpenAI ``videos.retrieve``)."""
    return video_of(await jobs.status(video_id, project.project_id))


async def _chunks(reader: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(reader.read, _CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(reader.close)


@router.get(
    "/videos/{video_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}, **_ERRORS},
)
async def download_video_content(
    video_id: str,
    project: CurrentProject,
    jobs: JobsDep,
    storage: StorageDep,
    variant: Annotated[Literal["video", "thumbnail", "spritesheet"], Query()] = "video",
) -> StreamingResponse:
    """The video's bytes, or its thumbnail's (OpenAI ``videos.download_content``)."""
    snapshot = await jobs.status(video_id, project.project_id)
    media = snapshot.media
    if snapshot.state is not JobState.SUCCEEDED or media is None:
        raise ProblemError(
            409, VIDEO_NOT_READY, f"Video {video_id} is {snapshot.state.value}, not completed."
        )
    key = media.video_key if variant == "video" else media.thumbnail_key if variant == "thumbnail" else None
    stored = await storage.head(key) if key else None
    if key is None or stored is None:
        raise ProblemError(404, ErrorCode.NOT_FOUND, f"Video {video_id} has no {variant}.")
    try:
        reader = await asyncio.to_thread(storage.open_reader, key)
    except ObjectNotFoundError:
        raise ProblemError(404, ErrorCode.NOT_FOUND, f"Video {video_id} has no {variant}.") from None
    return StreamingResponse(
        _chunks(reader),
        media_type=stored.content_type,
        headers={"Content-Length": str(stored.size_bytes)},
    )


@router.get("/videos", response_model=VideoList, responses=_ERRORS)
async def list_videos(
    project: CurrentProject,
    jobs: JobsDep,
    lister: ListerDep,
    after: Annotated[str | None, Query(description="The id of the last video of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> VideoList:
    """The project's video jobs (OpenAI ``videos.list``), newest first unless ``order=asc``."""
    position = None
    if after is not None:
        position = Position(await jobs.started_at(after, project.project_id), after)
    page = await lister.page(
        JobFilter(project.project_id), after=position, limit=limit, newest_first=order == "desc"
    )
    videos = [video_of(job) for job in page.jobs]
    return VideoList(
        data=videos,
        first_id=videos[0].id if videos else None,
        last_id=videos[-1].id if videos else None,
        has_more=page.has_more,
    )


@router.delete("/videos/{video_id}", response_model=VideoDeleted, responses=_ERRORS)
async def delete_video(
    video_id: str, project: CurrentProject, jobs: JobsDep, storage: StorageDep
) -> VideoDeleted:
    """Delete a finished video: its stored media, then the job itself (OpenAI ``videos.delete``).

    Media goes first, so a failure half-way leaves a job a retried DELETE can finish, never stored bytes
    that nothing points at any more. A job still running answers 409: cancel it first.
    """
    snapshot = await jobs.status(video_id, project.project_id)
    if not snapshot.state.is_final:
        raise ProblemError(
            409,
            VIDEO_NOT_FINISHED,
            f"Video {video_id} is {snapshot.state.value}; cancel it (POST /v1/video/jobs/{video_id}/cancel) "
            "or wait for it to finish, then delete it.",
        )
    if snapshot.media is not None:
        for key in (snapshot.media.video_key, snapshot.media.thumbnail_key):
            if key:
                await storage.delete(key)
    await jobs.delete(video_id, project.project_id)
    return VideoDeleted(id=video_id, deleted=True)
