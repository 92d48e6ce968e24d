"""Emulator of Veo on the Gemini API: ``predictLongRunning``, operation GET, key-protected file download."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, injected_fault, install_control, serve_mp4

API_KEY = "test-gemini-key"
RAI_REASON = (
    "Your current safety settings for person generation prevented this video from being generated. "
    "You have not been charged for this attempt. Support codes: 42237218"
)
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(state: EmulatorState | None = None, api_key: str = API_KEY) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        if request.headers.get("x-goog-api-key") == api_key:
            return True
        state.count("unauthorized")
        return False

    @app.post("/v1beta/models/{model_action}")
    async def predict_long_running(model_action: str, request: Request) -> Response:
        model, _, action = model_action.partition(":")
        if action != "predictLongRunning":
            return _error(404, f"unknown method {action}", None)
        if not authorized(request):
            return _error(401, "API key not valid. Please pass a valid API key.", None)
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = body
        fault = await injected_fault(state, state.scenario.submit, _error)
        if fault is not None:
            return fault
        problem = _invalid_request(body)
        if problem:
            return _error(400, problem, None)
        task = state.new_task(model, body)
        if state.scenario.submit == "refuse":
            task.outcome = "moderation"  # Veo refuses inside the operation (RAI filter), not at create
        await state.after_create()
        return JSONResponse({"name": f"models/{model}/operations/{task.id}"})

    @app.get("/v1beta/models/{model}/operations/{operation_id}")
    async def get_operation(model: str, operation_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "API key not valid.", None)
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(operation_id)
        if task is None:
            return _error(404, "operation not found", None)
        name = f"models/{model}/operations/{operation_id}"
        where = state.advance(task)
        if where in ("queued", "running"):
            return JSONResponse({"name": name} if where == "queued" else {"name": name, "done": False})
        if task.outcome == "moderation":
            video_response: dict[str, Any] = {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [RAI_REASON],
            }
            return JSONResponse(
                {"name": name, "done": True, "response": {"generateVideoResponse": video_response}}
            )
        if task.outcome == "fail":
            return JSONResponse(
                {"name": name, "done": True, "error": {"code": 13, "message": "Internal error."}}
            )
        uri = str(request.base_url) + f"v1beta/files/{task.id}:download?alt=media"
        response = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
        }
        return JSONResponse({"name": name, "done": True, "response": response})

    @app.get("/v1beta/files/{file_action}")
    async def download(file_action: str, request: Request) -> Response:
        file_id, _, action = file_action.partition(":")
        if action != "download" or file_id not in state.tasks:
            return _error(404, "file not found", None)
        if not authorized(request):
            return _error(401, "API key not valid.", None)
        return serve_mp4(state)

    return app


def _invalid_request(body: dict[str, Any]) -> str:
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not instances[0].get("prompt"):
        return "instances[0].prompt is required"
    image = instances[0].get("image")
    if image is not None and (not image.get("bytesBase64Encoded") or not image.get("mimeType")):
        return "image must carry bytesBase64Encoded and mimeType (gcsUri is only supported in Vertex AI)"
    parameters = body.get("parameters", {})
    if parameters.get("aspectRatio") not in ("16:9", "9:16"):
        return "aspectRatio must be 16:9 or 9:16"
    if parameters.get("resolution") not in ("720p", "1080p", "4k"):
        return "resolution must be 720p, 1080p or 4k"
    if parameters.get("durationSeconds") not in (4, 6, 8):
        return "durationSeconds must be 4, 6 or 8"
    return ""
