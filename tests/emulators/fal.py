"""Emulator of fal's queue API: submit to an app path; status, result and cancel under ``{owner}/{app}``.

The result answer carries ``x-fal-billable-units`` (what fal billed, in the model's unit: seconds for video).
Cancel answers like fal's queue docs: ``OK`` for a queued request (taken off the queue),
``CANCELLATION_REQUESTED`` (202) for a running one, ``ALREADY_COMPLETED`` (400) for a finished one (left
as it was, result still readable) and ``NOT_FOUND`` (404) for an unknown id.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.emulators.scenario import EmulatorState, EmulatorTask, file_url, injected_fault, install_control

FAL_KEY = "fal-test-id:fal-test-secret"
CONTENT_POLICY_DETAIL = [
    {
        "loc": ["body", "prompt"],
        "msg": "The content could not be processed because it was flagged by a content checker.",
        "type": "content_policy_violation",
        "url": "https://docs.fal.ai/errors#content_policy_violation",
    }
]


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _refusal() -> Response:
    return JSONResponse(
        {"detail": CONTENT_POLICY_DETAIL}, status_code=422, headers={"X-Fal-Retryable": "false"}
    )


def create_app(state: EmulatorState | None = None, fal_key: str = FAL_KEY) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI()
    install_control(app, state)

    def authorized(request: Request) -> bool:
        if request.headers.get("authorization") == f"Key {fal_key}":
            return True
        state.count("unauthorized")
        return False

    @app.get("/{owner}/{app_name}/requests/{request_id}/status")
    async def status(owner: str, app_name: str, request_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid key")
        state.count("polls")
        fault = await injected_fault(state, state.scenario.poll, _error)
        if fault is not None:
            return fault
        task = state.tasks.get(request_id)
        if task is None or task.extra["owner_app"] != f"{owner}/{app_name}":
            return _error(404, "Request not found")
        urls = _urls(request, task)
        waiting = state.scenario.queue_position
        if waiting is not None and not task.cancelled:  # still behind others in fal's queue
            return JSONResponse({"status": "IN_QUEUE", "queue_position": waiting, **urls})
        where = state.advance(task)
        if where == "queued":
            return JSONResponse({"status": "IN_QUEUE", "queue_position": 0, **urls})
        if where == "running":
            logs = [{"timestamp": "2026-11-26T12:00:00Z", "level": "INFO", "message": "generating"}]
            return JSONResponse({"status": "IN_PROGRESS", "logs": logs, **urls})
        if where == "cancelled":
            return JSONResponse({"status": "CANCELED", **urls})  # unconfirmed value, per a 3rd-party schema
        done: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": None,
            "metrics": {"inference_time": 12.5},
            **urls,
        }
        if task.outcome == "fail":  # what fal_client parses for a failed run: COMPLETED plus error fields
            done.update(error="Internal error while running the model", error_type="runner_error")
        return JSONResponse(done)

    @app.get("/{owner}/{app_name}/requests/{request_id}")
    async def result(owner: str, app_name: str, request_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid key")
        task = state.tasks.get(request_id)
        if task is None or task.extra["owner_app"] != f"{owner}/{app_name}":
            return _error(404, "Request not found")
        where = task.state()
        if where in ("queued", "running"):
            return _error(400, "Request is still in progress")
        if task.outcome == "moderation":
            return _refusal()
        if task.outcome == "fail":
            return _error(500, "Internal error while running the model")
        video = {"url": file_url(request, task.id), "content_type": "video/mp4", "file_name": "output.mp4"}
        units = state.scenario.billable_units
        if units is None:
            units = float(re.sub(r"[^0-9.]", "", str(task.body.get("duration", ""))) or 0)
        return JSONResponse({"video": video, "seed": 42}, headers={"x-fal-billable-units": f"{units:g}"})

    @app.put("/{owner}/{app_name}/requests/{request_id}/cancel")
    async def cancel(owner: str, app_name: str, request_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid key")
        state.count("cancels")
        task = state.tasks.get(request_id)
        if task is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if task.state() in ("succeeded", "failed"):
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        queued = task.state() == "queued"
        task.cancelled = True
        if queued:  # taken off the queue before a runner picked it up
            return JSONResponse({"status": "OK"}, status_code=200)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    @app.post("/{app_path:path}")
    async def submit(app_path: str, request: Request) -> Response:
        if app_path.startswith("_") or app_path.count("/") < 1:
            return _error(404, "Application not found")
        if not authorized(request):
            return _error(401, "Invalid key")
        state.count("submissions")
        body: dict[str, Any] = await request.json()
        state.last_submit = {"app": app_path, "input": body}
        fault = await injected_fault(state, state.scenario.submit, _error)
        if fault is not None:
            return fault
        if state.scenario.submit == "refuse":
            return _refusal()  # fal's checker can refuse the input before anything runs
        if not body.get("prompt"):
            return JSONResponse(
                {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}, status_code=422
            )
        task = state.new_task(app_path, body)
        task.extra["owner_app"] = "/".join(app_path.split("/")[:2])
        await state.after_create()
        return JSONResponse({"request_id": task.id, "queue_position": 0, **_urls(request, task)})

    return app


def _urls(request: Request, task: EmulatorTask) -> dict[str, str]:
    # Like fal: status/result/cancel live under {owner}/{app} without the endpoint sub-path.
    base = str(request.base_url) + f"{task.extra['owner_app']}/requests/{task.id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}
