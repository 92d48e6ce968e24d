"""Emulator of Replicate's predictions API for official models: create, get (progress in logs), cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, EmulatorTask, file_url, injected_fault, install_control

API_TOKEN = "r8_test_token"
MODERATION_ERROR = (
    "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
)


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if status == 429:
        message = f"Request was throttled. Your rate limit resets in ~{retry_after}s."
    body = {"title": "Error", "detail": message, "status": status}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def create_app(state: EmulatorState | None = None, api_token: str = API_TOKEN) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        if request.headers.get("authorization") == f"Bearer {api_token}":
            return True
        state.count("unauthorized")
        return False

    @app.post("/v1/models/{owner}/{name}/predictions", status_code=201)
    async def create_prediction(owner: str, name: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "You did not pass a valid authentication token")
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = body
        fault = await injected_fault(state, state.scenario.submit, _error, default_status=201)
        if fault is not None:
            return fault
        model_input = body.get("input")
        if not isinstance(model_input, dict) or not model_input.get("prompt"):
            return _error(422, "input.prompt is required")
        task = state.new_task(f"{owner}/{name}", body)
        if state.scenario.submit == "refuse":
            task.outcome = "moderation"
        await state.after_create()
        return JSONResponse(_prediction(task, "queued", request), status_code=201)

    @app.get("/v1/predictions/{prediction_id}")
    async def get_prediction(prediction_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "You did not pass a valid authentication token")
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(prediction_id)
        if task is None:
            return _error(404, "Not found")
        return JSONResponse(_prediction(task, state.advance(task), request))

    @app.post("/v1/predictions/{prediction_id}/cancel")
    async def cancel_prediction(prediction_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "You did not pass a valid authentication token")
        state.count("cancels")
        task = state.tasks.get(prediction_id)
        if task is None:
            return _error(404, "Not found")
        if task.state() in ("queued", "running"):
            task.cancelled = True
        return JSONResponse(_prediction(task, task.state(), request))

    return app


def _prediction(task: EmulatorTask, where: str, request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    status = {"queued": "starting", "running": "processing", "cancelled": "canceled"}.get(where, where)
    percent = round(task.progress * 100)
    return {
        "id": task.id,
        "model": task.model,
        "version": "official",
        "status": status,
        "input": task.body.get("input", {}),
        "output": file_url(request, task.id) if status == "succeeded" else None,
        "error": (MODERATION_ERROR if task.outcome == "moderation" else "CUDA out of memory")
        if status == "failed"
        else None,
        "logs": f"Generating video\n {percent}%|#####     | {task.polls}/{task.polls_to_finish + 1}\n"
        if status == "processing"
        else "",
        "metrics": {},
        "created_at": datetime.now(UTC).isoformat(),
        "urls": {
            "get": f"{base}/v1/predictions/{task.id}",
            "cancel": f"{base}/v1/predictions/{task.id}/cancel",
        },
    }
