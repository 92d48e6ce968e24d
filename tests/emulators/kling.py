"""Emulator of the Kling API: JWT auth, text2video / image2video task families, task status by Kling's
task_id or the caller's external_task_id."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, EmulatorTask, file_url, injected_fault, install_control

ACCESS_KEY = "kling-test-access"
SECRET_KEY = "kling-test-secret-0123456789abcdef0123"
MODELS = {"kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo"}
RISK_MESSAGE = "Failure to pass the risk control system"
_ERROR_CODES = {429: 1302, 500: 5000, 504: 5002, 401: 1004, 400: 1201, 404: 1203}


def _envelope(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data}


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(
        _envelope(_ERROR_CODES.get(status, 5000), message), status_code=status, headers=headers
    )


def create_app(
    state: EmulatorState | None = None, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(
                token, secret_key, algorithms=["HS256"], options={"require": ["iss", "exp", "nbf"]}
            )
        except jwt.PyJWTError:
            claims = {}
        if scheme == "Bearer" and claims.get("iss") == access_key:
            return True
        state.count("unauthorized")
        return False

    async def create(request: Request, family: str) -> Response:
        if not authorized(request):
            return _error(401, "Auth failed: token is invalid")
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = {"family": family, **body}
        fault = await injected_fault(state, state.scenario.submit, _error)
        if fault is not None:
            return fault
        if state.scenario.submit == "refuse":
            return JSONResponse(_envelope(1301, "Content security policy triggered: prompt"), status_code=400)
        problem = _invalid_request(body, family)
        if problem:
            return _error(400, problem)
        task = state.new_task(body["model_name"], body, task_id=str(8661682160022364 + len(state.tasks)))
        task.extra["family"] = family
        await state.after_create()
        return JSONResponse(_envelope(0, "SUCCEED", _task_data(task, "queued", request)))

    @app.post("/v1/videos/text2video")
    async def text2video(request: Request) -> Response:
        return await create(request, "text2video")

    @app.post("/v1/videos/image2video")
    async def image2video(request: Request) -> Response:
        return await create(request, "image2video")

    @app.get("/v1/videos/{family}/{task_id}")
    async def get_task(family: str, task_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Auth failed: token is invalid")
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(task_id) or _by_external_id(state, task_id)
        if task is None or task.extra["family"] != family:  # polls must use the family the task was made in
            # What the real API answered a third-party probe for an unknown id (not the table's 404/1203).
            return _error(400, "Task not found")
        return JSONResponse(_envelope(0, "SUCCEED", _task_data(task, state.advance(task), request)))

    return app


def _by_external_id(state: EmulatorState, external_task_id: str) -> EmulatorTask | None:
    """The single-task query takes Kling's task_id or the caller's external_task_id."""
    found = [t for t in state.tasks.values() if t.body.get("external_task_id") == external_task_id]
    return found[0] if found else None


def _task_data(task: EmulatorTask, where: str, request: Request) -> dict[str, Any]:
    status = {"queued": "submitted", "running": "processing", "succeeded": "succeed"}.get(where, "failed")
    data: dict[str, Any] = {
        "task_id": task.id,
        "task_status": status,
        "task_info": {"external_task_id": task.body.get("external_task_id")},
        "created_at": 1722769557708,
        "updated_at": 1722769557708,
    }
    if status == "succeed":
        videos = [
            {"id": f"v-{task.id}", "url": file_url(request, task.id), "duration": task.body["duration"]}
        ]
        data["task_result"] = {"videos": videos}
    if status == "failed":
        data["task_status_msg"] = RISK_MESSAGE if task.outcome == "moderation" else "Internal error"
    return data


def _invalid_request(body: dict[str, Any], family: str) -> str:
    if body.get("model_name") not in MODELS:
        return "model_name is invalid"
    if body.get("mode") not in ("std", "pro"):
        return "mode must be std or pro"
    if body.get("duration") not in ("5", "10"):
        return "duration must be the string '5' or '10'"
    if body.get("aspect_ratio") not in ("16:9", "9:16", "1:1"):
        return "aspect_ratio is invalid"
    if family == "image2video":
        image = str(body.get("image") or "")
        if not image or image.startswith("data:"):
            return "image must be a URL or raw base64 (no data: prefix)"
    return ""
