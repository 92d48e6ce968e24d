"""``GET /v1/video/jobs/{id}/events``: the job's state, stage and progress as Server-Sent Events.

Each event is ``event: job`` with the ``VideoJob`` as ``data`` (the ETA fields while it runs, signed media
URLs on the final one) and an ``id`` that is the job's progress position
(``jobs.watching.progress_position``): it only grows, and it means the same in every API process. A client
that reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` does so by itself) gets only what is
newer, even from a restarted API; one that has seen the final event gets ``204 No Content``, which tells
``EventSource`` to stop reconnecting. The stream ends after the final event. A comment line every 15 s keeps
idle proxies from closing it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.deps import CurrentProject, EtasDep, MediaLinksDep, SettingsDep, WatchesDep
from api.media_links import MediaLinks
from api.presenter import present_job
from api.problems import problem_responses
from core.models import JobSnapshot
from jobs.errors import JobNotFound
from jobs.etas import EtaBoard
from jobs.watching import JobWatch, progress_position

router = APIRouter(prefix="/v1/video", tags=["video"])

RETRY_MILLISECONDS = 2000
KEEPALIVE_SECONDS = 15.0


def _last_position(last_event_id: str | None) -> int:
    value = (last_event_id or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1


async def _event(snapshot: JobSnapshot, links: MediaLinks, etas: EtaBoard) -> str:
    job = present_job(snapshot, links, await etas.estimate(snapshot))
    return f"id: {progress_position(snapshot)}\nevent: job\ndata: {job.model_dump_json()}\n\n"


async def _stream(
    watch: JobWatch,
    seen: int,
    stack: contextlib.AsyncExitStack,
    links: MediaLinks,
    etas: EtaBoard,
    max_seconds: float,
) -> AsyncIterator[str]:
    deadline = asyncio.get_running_loop().time() + max_seconds
    async with stack:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while asyncio.get_running_loop().time() < deadline:
            version, snapshot = watch.version, watch.latest
            assert snapshot is not None
            if progress_position(snapshot) > seen:
                seen = progress_position(snapshot)
                yield await _event(snapshot, links, etas)
            if snapshot.state.is_final or isinstance(watch.error, JobNotFound):
                return
            wait = min(KEEPALIVE_SECONDS, max(0.0, deadline - asyncio.get_running_loop().time()))
            if not await watch.changed_since(version, wait):
                yield ": keep-alive\n\n"


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The event stream", "content": {"text/event-stream": {}}},
        204: {"description": "The client has seen the final event already (Last-Event-ID)"},
        **problem_responses(
            described={
                401: "Missing or invalid API key",
                404: "No such job in this project",
                503: "Temporarily unavailable",
            }
        ),
    },
)
async def job_events(
    job_id: str,
    project: CurrentProject,
    watches: WatchesDep,
    links: MediaLinksDep,
    settings: SettingsDep,
    etas: EtasDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Stream the job's progress until it ends (Server-Sent Events)."""
    seen = _last_position(last_event_id)
    stack = contextlib.AsyncExitStack()
    # Joined before the response starts, so an unknown job is a plain 404, not a broken stream.
    watch = await stack.enter_async_context(watches.watch(job_id, project.project_id))
    latest = watch.latest
    if latest is not None and latest.state.is_final and progress_position(latest) <= seen:
        await stack.aclose()
        return Response(status_code=204)
    return StreamingResponse(
        _stream(watch, seen, stack, links, etas, settings.job_events_max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        # Leaves the watch even if the stream never started (client gone before the first byte);
        # closing the stack twice is harmless.
        background=BackgroundTask(stack.aclose),
    )
