"""Emulator of MiniMax's v1 video API: create, query (status only), files/retrieve for the download URL."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, file_url, injected_fault, install_control

API_KEY = "minimax-test-key"
MODELS = {"MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3", "T2V-01", "I2V-01"}


def _base(code: int, message: str) -> dict[str, Any]:
    return {"base_resp": {"status_code": code, "status_msg": message}}


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    # MiniMax reports most errors as HTTP 200 with a base_resp code; a rate limit is code 1002.
    if status == 429:
        return JSONResponse(_base(1002, "rate limit exceeded(RPM)"))
    return JSONResponse(_base(1000, message), status_code=status)


def create_app(state: EmulatorState | None = None, api_key: str = API_KEY) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        if request.headers.get("authorization") == f"Bearer {api_key}":
            return True
        state.count("unauthorized")
        return False

    @app.post("/v1/video_generation")
    async def create(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse(
                _base(1004, "login fail: Please carry the API secret key in the 'Authorization' field")
            )
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = body
        fault = await injected_fault(state, state.scenario.submit, _error)
        if fault is not None:
            return fault
        if state.scenario.submit == "refuse":
            return JSONResponse(_base(1026, "input new_sensitive"))
        problem = _invalid_request(body)
        if problem:
            return JSONResponse(_base(2013, f"invalid params, {problem}"))
        task = state.new_task(body["model"], body, task_id=str(106916112212032 + len(state.tasks)))
        task.extra["file_id"] = str(205258526306433 + len(state.tasks))
        await state.after_create()
        return JSONResponse({"task_id": task.id, **_base(0, "success")})

    @app.get("/v1/query/video_generation")
    async def query(task_id: str, request: Request) -> Response:
        if not authorized(request):
            return JSONResponse(_base(1004, "login fail"))
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(task_id)
        if task is None:
            return JSONResponse(_base(2013, "invalid params, task not found"))
        where = state.advance(task)
        if where == "queued":
            return JSONResponse({"task_id": task.id, "status": "Queueing", **_base(0, "success")})
        if where == "running":
            return JSONResponse({"task_id": task.id, "status": "Processing", **_base(0, "success")})
        if where == "succeeded":
            done = {"task_id": task.id, "status": "Success", "file_id": task.extra["file_id"]}
            return JSONResponse({**done, "video_width": 1366, "video_height": 768, **_base(0, "success")})
        if task.outcome == "moderation":
            return JSONResponse(
                {"task_id": task.id, "status": "Fail", **_base(1027, "output video sensitive")}
            )
        return JSONResponse({"task_id": task.id, "status": "Fail", **_base(1000, "unknown error")})

    @app.get("/v1/files/retrieve")
    async def retrieve(file_id: str, request: Request) -> Response:
        if not authorized(request):
            return JSONResponse(_base(1004, "login fail"))
        task = next((t for t in state.tasks.values() if t.extra.get("file_id") == file_id), None)
        if task is None:
            return JSONResponse(_base(2013, "invalid params, file not found"))
        file = {
            "file_id": int(file_id),
            "bytes": 0,
            "created_at": 1700469398,
            "filename": "output_aigc.mp4",
            "purpose": "video_generation",
            "download_url": file_url(request, task.id),
        }
        return JSONResponse({"file": file, **_base(0, "success")})

    return app


def _invalid_request(body: dict[str, Any]) -> str:
    if body.get("model") not in MODELS:
        return "model"
    if not body.get("prompt"):
        return "prompt"
    if body.get("duration") not in (6, 10):
        return "duration"
    if body.get("resolution") not in ("512P", "768P", "1080P"):
        return "resolution"
    if body.get("resolution") == "1080P" and body.get("duration") != 6:
        return "1080P supports 6 s only"
    if "aspect_ratio" in body:
        return "aspect_ratio is not a v1 parameter"
    return ""
