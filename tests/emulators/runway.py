"""Emulator of the Runway API: text/image to video tasks, task status with progress, DELETE to cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, EmulatorTask, file_url, injected_fault, install_control

API_KEY = "key_" + "0" * 128
API_VERSION = "2024-11-06"
MODELS = {"gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast", "veo3"}
RATIOS = {"1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672", "1920:1080", "1080:1920"}


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(state: EmulatorState | None = None, api_key: str = API_KEY) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def check_headers(request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            state.count("unauthorized")
            return _error(401, "Invalid API key")
        if request.headers.get("x-runway-version") != API_VERSION:
            return _error(400, f"X-Runway-Version header must be set to a valid API version ({API_VERSION})")
        return None

    async def create(request: Request, needs_image: bool) -> Response:
        refused = check_headers(request)
        if refused:
            return refused
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = body
        fault = await injected_fault(state, state.scenario.submit, _error)
        if fault is not None:
            return fault
        problem = _invalid_request(body, needs_image)
        if problem:
            return _error(400, problem)
        task = state.new_task(body["model"], body)
        if state.scenario.submit == "refuse":
            task.outcome = "moderation"  # Runway moderates inside the task: SAFETY.INPUT.* failures
        await state.after_create()
        return JSONResponse({"id": task.id})

    @app.post("/v1/text_to_video")
    async def text_to_video(request: Request) -> Response:
        return await create(request, needs_image=False)

    @app.post("/v1/image_to_video")
    async def image_to_video(request: Request) -> Response:
        return await create(request, needs_image=True)

    @app.get("/v1/tasks/{task_id}")
    async def get_task(task_id: str, request: Request) -> Response:
        refused = check_headers(request)
        if refused:
            return refused
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(task_id)
        if task is None or task.deleted:
            return _error(404, "Task not found")
        return JSONResponse(_task_body(task, state.advance(task), request))

    @app.delete("/v1/tasks/{task_id}")
    async def delete_task(task_id: str, request: Request) -> Response:
        refused = check_headers(request)
        if refused:
            return refused
        state.count("cancels")
        task = state.tasks.get(task_id)
        if task is None or task.deleted:
            return _error(404, "Task not found")
        if task.state() in ("succeeded", "failed"):
            task.deleted = True
        else:
            task.cancelled = True
        return Response(status_code=204)

    return app


def _task_body(task: EmulatorTask, where: str, request: Request) -> dict[str, Any]:
    body: dict[str, Any] = {"id": task.id, "createdAt": datetime.now(UTC).isoformat()}
    if where == "queued":
        return {**body, "status": "PENDING"}
    if where == "running":
        return {**body, "status": "RUNNING", "progress": round(task.progress, 2)}
    if where == "cancelled":
        return {**body, "status": "CANCELLED"}
    if where == "succeeded":
        return {**body, "status": "SUCCEEDED", "output": [file_url(request, task.id) + "?_jwt=emulated"]}
    if task.outcome == "moderation":
        return {
            **body,
            "status": "FAILED",
            "failure": "Prompt was rejected",
            "failureCode": "SAFETY.INPUT.TEXT",
        }
    return {**body, "status": "FAILED", "failure": "An unexpected error occurred", "failureCode": "INTERNAL"}


def _invalid_request(body: dict[str, Any], needs_image: bool) -> str:
    if body.get("model") not in MODELS:
        return f"model: must be one of {sorted(MODELS)}"
    if body.get("ratio") not in RATIOS:
        return "ratio: invalid"
    if not isinstance(body.get("duration"), int) or not 2 <= body["duration"] <= 10:
        return "duration: must be an integer from 2 to 10"
    if needs_image and not body.get("promptImage"):
        return "promptImage: required"
    if not needs_image and not body.get("promptText"):
        return "promptText: required"
    return ""
