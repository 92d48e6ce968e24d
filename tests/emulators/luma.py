"""Emulator of Luma's two APIs: Dream Machine (Ray 2, with DELETE) and the Agents API (Ray 3.2).

Dream Machine's DELETE removes a generation in any state (later reads 404, a finished one's video is gone);
the Agents API has no delete or cancel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, EmulatorTask, file_url, injected_fault, install_control

API_KEY = "luma-test-key"
BASE_PATH = "/dream-machine/v1"
AGENTS_PATH = "/agents/v1"
MODELS = {"ray-2", "ray-flash-2", "ray-1-6"}
MODERATION_REASON = "400: prompt not allowed because advanced moderation failed"


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def create_app(state: EmulatorState | None = None, api_key: str = API_KEY) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        if request.headers.get("authorization") == f"Bearer {api_key}":
            return True
        state.count("unauthorized")
        return False

    @app.post(BASE_PATH + "/generations/video", status_code=201)
    async def create_generation(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API key")
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = body
        fault = await injected_fault(state, state.scenario.submit, _error, default_status=201)
        if fault is not None:
            return fault
        problem = _invalid_request(body)
        if problem:
            return _error(400, problem)
        task = state.new_task(body["model"], body)
        if state.scenario.submit == "refuse":
            task.outcome = "moderation"
        await state.after_create()
        return JSONResponse(_generation(task, "queued", request), status_code=201)

    @app.get(BASE_PATH + "/generations/{generation_id}")
    async def get_generation(generation_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API key")
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(generation_id)
        if task is None or task.deleted:
            return _error(404, "Generation not found")
        return JSONResponse(_generation(task, state.advance(task), request))

    @app.delete(BASE_PATH + "/generations/{generation_id}")
    async def delete_generation(generation_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API key")
        state.count("cancels")
        task = state.tasks.get(generation_id)
        if task is None or task.deleted:
            return _error(404, "Generation not found")
        # Luma has no cancelled state: DELETE removes the generation, and with it a finished one's video.
        task.deleted = True
        if task.state() in ("queued", "running"):
            task.cancelled = True  # nothing more is rendered
        return Response(status_code=204)

    @app.post(AGENTS_PATH + "/generations", status_code=201)
    async def create_agents_generation(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API key")
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = {"api": "agents", **body}
        fault = await injected_fault(state, state.scenario.submit, _error, default_status=201)
        if fault is not None:
            return fault
        problem = _invalid_agents_request(body)
        if problem:
            return _error(400, problem)
        task = state.new_task(body["model"], body)
        if state.scenario.submit == "refuse":
            task.outcome = "moderation"
        await state.after_create()
        return JSONResponse(_agents_generation(task, "queued", request), status_code=201)

    @app.get(AGENTS_PATH + "/generations/{generation_id}")
    async def get_agents_generation(generation_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API key")
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(generation_id)
        if task is None:
            return _error(404, "Generation not found")
        return JSONResponse(_agents_generation(task, state.advance(task), request))

    return app


def _agents_generation(task: EmulatorTask, where: str, request: Request) -> dict[str, Any]:
    state = {"queued": "queued", "running": "processing", "succeeded": "completed"}.get(where, "failed")
    failure_code = None
    if state == "failed":
        failure_code = "content_moderated" if task.outcome == "moderation" else "generation_failed"
    return {
        "id": task.id,
        "created_at": datetime.now(UTC).isoformat(),
        "model": task.model,
        "type": "video",
        "state": state,
        "output": [{"type": "video", "url": file_url(request, task.id)}] if state == "completed" else None,
        "failure_code": failure_code,
        "failure_reason": "The request was moderated" if failure_code == "content_moderated" else None,
    }


def _invalid_agents_request(body: dict[str, Any]) -> str:
    if body.get("model") != "ray-3.2" or body.get("type") != "video" or not body.get("prompt"):
        return "model ray-3.2, type video and a prompt are required"
    video = body.get("video") or {}
    if video.get("resolution") not in ("540p", "720p", "1080p") or video.get("duration") not in ("5s", "10s"):
        return "video.resolution or video.duration is invalid"
    frame = video.get("start_frame")
    if frame is not None and (
        ("url" in frame) == ("data" in frame) or ("data" in frame and "media_type" not in frame)
    ):
        return "start_frame needs exactly one of url or data (+ media_type)"
    return ""


def _generation(task: EmulatorTask, where: str, request: Request) -> dict[str, Any]:
    state = {"queued": "queued", "running": "dreaming", "succeeded": "completed"}.get(where, "failed")
    assets: dict[str, Any] | None = None
    failure = None
    if state == "completed":
        assets = {"video": file_url(request, task.id), "image": None, "progress_video": None}
    elif state == "failed":
        failure = MODERATION_REASON if task.outcome == "moderation" else "Job failed"
    return {
        "id": task.id,
        "generation_type": "video",
        "state": state,
        "failure_reason": failure,
        "created_at": datetime.now(UTC).isoformat(),
        "model": task.model,
        "assets": assets,
        "request": task.body,
    }


def _invalid_request(body: dict[str, Any]) -> str:
    if body.get("model") not in MODELS:
        return "model: invalid"
    if not body.get("prompt"):
        return "prompt: required"
    if body.get("duration") not in ("5s", "9s"):
        return "duration: must be 5s or 9s"
    if body.get("resolution") not in ("540p", "720p", "1080p", "4k"):
        return "resolution: invalid"
    if body.get("aspect_ratio") not in ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"):
        return "aspect_ratio: invalid"
    frame0 = (body.get("keyframes") or {}).get("frame0")
    if frame0 is not None and (
        frame0.get("type") != "image" or not str(frame0.get("url", "")).startswith("http")
    ):
        return "keyframes.frame0: must be an image with an http(s) url"
    return ""
