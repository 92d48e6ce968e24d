"""The local vendor's HTTP API. This docstring is the vendor's documentation: adapters code against it.

Base URL: ``http://{INFRAI_LOCAL_VENDOR_HOST}:{INFRAI_LOCAL_VENDOR_PORT}`` (default ``127.0.0.1:8300``).
No authentication. All bodies are JSON except the media files. Times are ISO 8601 in UTC.

Create a generation
    ``POST /v1/generations`` with an optional ``Idempotency-Key: <up to 255 chars>`` header and the body::

        {"model": "local-preview",          # required; the only model
         "prompt": "a red fox in snow",     # required, 1-4000 characters; seeds the whole look
         "duration_seconds": 5,             # integer 1-60, default 5; the video has 24 fps x this frames
         "aspect": "16:9",                  # "16:9" | "9:16" | "1:1", default "16:9"
         "resolution": "720p",              # "720p" | "1080p" | "4k" (short side 720/1080/2160), default 720p
         "reference_image_url": null}       # optional: http(s) URL or data:image/<type>;base64,<data>

    ``201`` + ``Location`` and the generation (below, status ``queued``) when a task was created.
    Same ``Idempotency-Key`` and same body again: ``200`` and the same generation, nothing new is rendered.
    Same key with a different body: ``409`` ``idempotency_conflict``.
    ``400`` ``invalid_request`` for a malformed body, ``unknown_model`` for another model,
    ``invalid_reference_image`` when the image URL cannot be fetched (fetched once, at submit, through the
    SSRF guard of ``core.guarded_fetch``, with a size cap of ``INFRAI_REFERENCE_IMAGE_MAX_BYTES`` and a
    timeout) or is not an image; ``413`` for a body over the cap.

Read a generation
    ``GET /v1/generations/{id}`` → ``200``::

        {"id": "gen_…", "object": "generation", "model": "local-preview",
         "status": "queued" | "running" | "succeeded" | "failed" | "cancelled",
         "progress": 0-100, "prompt": …, "duration_seconds": …, "aspect": …, "resolution": …,
         "has_reference_image": false, "attempts": renders started (2 after a restart mid-render),
         "created_at": …, "started_at": … | null, "finished_at": … | null,
         "output": {"video_url": <absolute URL>, "thumbnail_url": <absolute URL>} | null,
         "error": {"code": …, "message": …} | null}

    ``output`` is set only when ``succeeded``; ``error`` only when ``failed`` (codes ``render_failed``,
    ``render_crashed``). Output URLs are built from the request's own base URL and do not expire.

Cancel
    ``POST /v1/generations/{id}/cancel`` → ``200`` and the generation, whose ``status`` says what the cancel
    found, decided atomically against the render finishing:

    - ``cancelled``: it had not finished, and is stopped (a render in progress stops at its next frame; no
      output is kept), now or by an earlier cancel;
    - ``succeeded`` / ``failed``: it had already finished when the cancel arrived and is left exactly as it
      was (a succeeded generation keeps its output).

Media
    ``GET /v1/generations/{id}/video.mp4`` (``video/mp4``, H.264, fast-start) and ``/thumbnail.jpg``
    (``image/jpeg``, the first frame, at most 640 px): byte ranges supported (``206``); ``404``
    ``output_not_ready`` until the generation has succeeded.

Stats (for tests)
    ``GET /v1/stats`` → ``{"submissions": requests that created a task, "tasks": tasks stored,
    "by_idempotency_key": {key: tasks created with it}, "replays": idempotent replays answered,
    "replays_by_idempotency_key": {key: replays}, "by_status": {status: tasks},
    "renders": {"started", "succeeded", "failed", "stopped", "active"}}``. Task counts are durable;
    ``renders`` counts this process's render attempts (``stopped``: renders that saw a stop request).

Errors
    Every error is ``{"error": {"code": "<snake_case>", "message": "<text>"}}`` with the HTTP status above
    (``404`` ``not_found`` for an unknown id or path, ``500`` ``internal_error`` for a bug).

Health
    ``GET /healthz`` → ``200 {"status": "ok"}`` once the server accepts requests.

Behaviour
    Tasks are rendered FIFO by a pool of ``INFRAI_LOCAL_VENDOR_WORKERS`` processes (default 1); a task takes
    at least ``INFRAI_LOCAL_VENDOR_MIN_SECONDS``. Tasks, keys and outputs live under
    ``INFRAI_DATA_DIR/localvendor/``; after a restart, finished tasks are still served and unfinished ones
    are rendered again from the start (rendering is deterministic, so the result is the same).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.guarded_fetch import FetchLimits
from core.settings import Settings, get_settings
from core.url_safety import UrlPolicy
from localvendor.api_errors import EXCEPTION_HANDLERS, ApiError, idempotency_key, read_json
from localvendor.reference_images import ReferenceImageError, load_reference_image
from localvendor.render_queue import RenderQueue
from localvendor.task_store import IdempotencyConflict, TaskRecord, TaskStatus, TaskStore, utc_now
from localvendor.wire import MODELS, Generation, GenerationRequest


class LocalVendorService:
    """The server's long-lived parts, built once in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        root = settings.data_dir / "localvendor"
        self.settings = settings
        self.store = TaskStore(root / "tasks.db")
        self.queue = RenderQueue(
            self.store, root / "tasks", settings.local_vendor_workers, settings.local_vendor_min_seconds
        )
        self.url_policy = UrlPolicy.from_settings(settings)
        self.image_limits = FetchLimits(
            max_bytes=settings.reference_image_max_bytes,
            timeout_seconds=settings.reference_image_fetch_timeout_seconds,
        )
        # A base64 data URI is 4/3 the size of the image, plus room for the rest of the JSON.
        self.max_body_bytes = settings.reference_image_max_bytes * 4 // 3 + 64 * 1024

    def view(self, record: TaskRecord, request: Request) -> dict[str, Any]:
        if record.status is TaskStatus.SUCCEEDED:
            progress = 100
        elif record.status is TaskStatus.QUEUED:
            progress = 0
        else:
            progress = min(self.queue.files(record.id).read_progress(), 99)
        return Generation.of(record, progress, str(request.base_url)).model_dump(mode="json")

    def record_or_404(self, task_id: str) -> TaskRecord:
        record = self.store.get(task_id)
        if record is None:
            raise ApiError(404, "not_found", f"no generation {task_id!r}")
        return record


def _service(request: Request) -> LocalVendorService:
    service: LocalVendorService = request.app.state.service
    return service


async def create_generation(request: Request) -> Response:
    service = _service(request)
    body = GenerationRequest.model_validate(await read_json(request, service.max_body_bytes))
    if body.model not in MODELS:
        raise ApiError(400, "unknown_model", f"unknown model {body.model!r}; this vendor has {list(MODELS)}")
    key = idempotency_key(request)
    fingerprint = body.fingerprint()
    if key is not None and (existing := service.store.find_by_key(key, fingerprint)) is not None:
        return JSONResponse(service.view(existing, request), status_code=200)
    image = None
    if body.reference_image_url is not None:
        try:
            image = await load_reference_image(
                body.reference_image_url, service.url_policy, service.image_limits
            )
        except ReferenceImageError as exc:
            raise ApiError(400, "invalid_reference_image", str(exc)) from exc
    record = TaskRecord(
        id=f"gen_{secrets.token_hex(12)}",
        model=body.model,
        prompt=body.prompt,
        duration_seconds=body.duration_seconds,
        aspect=body.aspect,
        resolution=body.resolution,
        has_reference_image=image is not None,
        idempotency_key=key,
        fingerprint=fingerprint,
        created_at=utc_now(),
    )
    files = service.queue.files(record.id)
    files.create()
    if image is not None:
        await asyncio.to_thread(files.write_reference_image, image)
    try:
        stored, created = service.store.create(record)
    except IdempotencyConflict:
        files.remove()
        raise
    if not created:  # a concurrent request with the same key won the race while we fetched the image
        files.remove()
        return JSONResponse(service.view(stored, request), status_code=200)
    service.queue.enqueue(record.id)
    return JSONResponse(
        service.view(stored, request), status_code=201, headers={"Location": f"/v1/generations/{record.id}"}
    )


async def get_generation(request: Request) -> Response:
    service = _service(request)
    return JSONResponse(service.view(service.record_or_404(request.path_params["task_id"]), request))


async def cancel_generation(request: Request) -> Response:
    service = _service(request)
    task_id = request.path_params["task_id"]
    service.record_or_404(task_id)
    if service.store.finish(task_id, TaskStatus.CANCELLED):
        service.queue.stop(task_id)
    return JSONResponse(service.view(service.record_or_404(task_id), request))


async def get_video(request: Request) -> Response:
    return _media(request, "video")


async def get_thumbnail(request: Request) -> Response:
    return _media(request, "thumbnail")


def _media(request: Request, kind: str) -> Response:
    service = _service(request)
    record = service.record_or_404(request.path_params["task_id"])
    if record.status is not TaskStatus.SUCCEEDED:
        raise ApiError(404, "output_not_ready", f"generation {record.id} is {record.status}, not succeeded")
    files = service.queue.files(record.id)
    path, media_type = (files.video, "video/mp4") if kind == "video" else (files.thumbnail, "image/jpeg")
    return FileResponse(path, media_type=media_type)


async def get_stats(request: Request) -> Response:
    service = _service(request)
    created_by_key, replays_by_key = service.store.keyed_counts()
    tasks = service.store.count()
    return JSONResponse(
        {
            "submissions": tasks,  # tasks are only ever created by a submission
            "tasks": tasks,
            "by_idempotency_key": created_by_key,
            "replays": service.store.replay_count(),
            "replays_by_idempotency_key": replays_by_key,
            "by_status": service.store.counts_by_status(),
            "renders": service.queue.counters.model_dump(),
        }
    )


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = LocalVendorService(resolved)
        await service.queue.start()
        app.state.service = service
        try:
            yield
        finally:
            await service.queue.aclose()
            service.store.close()

    task = "/v1/generations/{task_id:str}"
    return Starlette(
        routes=[
            Route("/v1/generations", create_generation, methods=["POST"]),
            Route(task, get_generation, methods=["GET"]),
            Route(f"{task}/cancel", cancel_generation, methods=["POST"]),
            Route(f"{task}/video.mp4", get_video, methods=["GET", "HEAD"]),
            Route(f"{task}/thumbnail.jpg", get_thumbnail, methods=["GET", "HEAD"]),
            Route("/v1/stats", get_stats, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        exception_handlers={
            **EXCEPTION_HANDLERS,
        },
        lifespan=lifespan,
    )
