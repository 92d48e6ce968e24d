"""``GET /v1/video/jobs``: the project's jobs, newest first, a page at a time (``has_more`` + ``next``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.cursors import CursorCodec, InvalidCursor
from api.deps import CurrentProject, CursorsDep, ListerDep, MediaLinksDep
from api.presenter import present_job
from api.problems import ProblemError, problem_responses
from api.schemas import VideoJob
from core.models import JobState
from jobs.listing import JobFilter, Position

router = APIRouter(prefix="/v1/video", tags=["video"])

MAX_PAGE = 100
INVALID_CURSOR = "invalid_cursor"
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$"


class JobList(BaseModel):
    data: list[VideoJob]
    has_more: bool
    next: str | None = Field(None, description="Pass as `after` for the next page; null on the last one.")


def invalid_cursor() -> ProblemError:
    return ProblemError(
        400, INVALID_CURSOR, "The cursor is not valid for this listing; start again without `after`."
    )


def encode_position(codec: CursorCodec, where: JobFilter, order: str, position: Position) -> str:
    return codec.encode(
        {
            "p": where.project_id,
            "s": where.state.value if where.state else None,
            "v": where.vendor,
            "o": order,
            "t": position.started.isoformat(),
            "j": position.job_id,
        }
    )


def decode_position(codec: CursorCodec, where: JobFilter, order: str, cursor: str) -> Position:
    """The position a cursor names, if it was made for this very listing (same project, filters, order)."""
    try:
        fields = codec.decode(cursor)
    except InvalidCursor:
        raise invalid_cursor() from None
    made_for = (where.project_id, where.state.value if where.state else None, where.vendor, order)
    if (fields.get("p"), fields.get("s"), fields.get("v"), fields.get("o")) != made_for:
        raise invalid_cursor()
    try:
        return Position(datetime.fromisoformat(fields["t"] or ""), fields["j"] or "")
    except (KeyError, ValueError):
        raise invalid_cursor() from None


@router.get(
    "/jobs",
    response_model=JobList,
    responses=problem_responses(
        described={
            400: "A cursor this listing did not issue",
            401: "Missing or invalid API key",
            422: "Invalid filter",
            503: "Temporarily unavailable",
        }
    ),
)
async def list_jobs(
    project: CurrentProject,
    codec: CursorsDep,
    lister: ListerDep,
    links: MediaLinksDep,
    state: JobState | None = None,
    vendor: Annotated[str | None, Query(pattern=_NAME_PATTERN)] = None,
    after: Annotated[str | None, Query(description="The `next` cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> JobList:
    """The project's jobs, newest first, optionally only one state or vendor."""
    where = JobFilter(project.project_id, state, vendor)
    position = decode_position(codec, where, "desc", after) if after else None
    page = await lister.page(where, after=position, limit=limit)
    return JobList(
        data=[present_job(job, links) for job in page.jobs],
        has_more=page.has_more,
        next=encode_position(codec, where, "desc", page.last) if page.has_more and page.last else None,
    )
