"""MiniMax Hailuo video generation (v1): create a task, poll it, resolve its ``file_id`` to a download URL.

Wire format from MiniMax's OpenAPI document and MiniMax-AI/MiniMax-MCP ``client.py``: Bearer key; errors come
as HTTP 200 with ``base_resp.status_code`` ≠ 0 (1002 rate limited, 1026 input sensitive, 1027 output
sensitive, 2013 invalid parameters, ...). Task status: Preparing/Queueing/Processing → Success (``file_id``)
| Fail. The video URL is not in the task: ``GET /v1/files/retrieve?file_id=`` gives ``file.download_url``.
There is no cancel endpoint on v1: cancel is ``unsupported``, the task runs to its end.

No TaskFinder: v1 takes no idempotency key and its query reads one task by MiniMax's ``task_id`` only. (The
newer v2 API has a paged task list, but it is not filterable by anything of ours and v2 is not what we call.)
An ambiguous submit is therefore not retried; the activity ends the job unbilled and records a possible
orphan.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorCode
from core.models import ErrorInfo, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.http_vendor import HttpVendor
from vendors.transport import Phase, phase_error

_STATES = {"Preparing": "pending", "Queueing": "pending", "Processing": "running"}
_REFUSALS = {1026, 1027}  # prompt/input sensitive, generated video sensitive
# base_resp codes that are worth retrying (MiniMax-MCP client + Baidu Qianfan's MiniMax error table).
_TRANSIENT = {1000, 1001, 1013, 1024, 1033}
_INVALID = {1042, 2013}


class MiniMaxVendor(HttpVendor):
    name = "minimax"
    default_base_url = "https://api.minimax.io"

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # v1 takes no idempotency key (see the module docstring: no TaskFinder either).
        entry = self.model_entry(model)
        body: dict[str, Any] = {
            "model": self.wire_model(model, with_image=spec.reference_image_url is not None),
            "prompt": spec.prompt,
            "duration": spec.duration_seconds,
            "resolution": entry.wire_resolution(spec.resolution) if entry else spec.resolution.value.upper(),
        }
        if spec.reference_image_url:
            body["first_frame_image"] = spec.reference_image_url  # URL or data URI
        created = await self.send_json(
            "POST", self.url("/v1/video_generation"), phase="submit", json_body=body
        )
        _raise_for_base_resp(created, "submit")
        task_id = created.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise self.missing_field("task_id")
        return self.new_task(model, str(task_id))

    async def poll(self, task: VendorTask) -> VendorStatus:
        query = await self.send_json(
            "GET", self.url("/v1/query/video_generation"), phase="poll", params={"task_id": task.task_id}
        )
        status = str(query.get("status", ""))
        if status == "Fail":
            return VendorStatus(state="failed", error=_task_failure(query))
        _raise_for_base_resp(query, "poll")
        if status == "Success":
            file_id = query.get("file_id")
            if not file_id:
                raise self.missing_field("file_id", "poll")
            return VendorStatus(
                state="succeeded", progress=100, output_url=await self._download_url(str(file_id))
            )
        return VendorStatus(state=self.known_state(_STATES, status, "poll"))

    async def _download_url(self, file_id: str) -> str:
        retrieved = await self.send_json(
            "GET", self.url("/v1/files/retrieve"), phase="poll", params={"file_id": file_id}
        )
        _raise_for_base_resp(retrieved, "poll")
        file = retrieved.get("file")
        url = file.get("download_url") if isinstance(file, dict) else None
        if not isinstance(url, str) or not url:
            raise self.missing_field("file.download_url", "poll")
        return url


def _base_code(body: dict[str, Any]) -> tuple[int, str]:
    base = body.get("base_resp")
    if not isinstance(base, dict):
        return 0, ""
    return int(base.get("status_code", 0) or 0), str(base.get("status_msg", ""))


def _raise_for_base_resp(body: dict[str, Any], phase: Phase) -> None:
    code, text = _base_code(body)
    if code == 0:
        return
    message = f"minimax: {text or 'error'} (base_resp {code})"
    if code == 1002:
        raise phase_error(ErrorCode.RATE_LIMITED, message, phase, retryable=True)
    if code in _REFUSALS:
        raise phase_error(ErrorCode.CONTENT_POLICY, message, phase)
    if code in _TRANSIENT:
        raise phase_error(ErrorCode.VENDOR_UNAVAILABLE, message, phase, retryable=True)
    if code in _INVALID:
        raise phase_error(ErrorCode.INVALID_INPUT, message, phase)
    raise phase_error(ErrorCode.VENDOR_ERROR, message, phase)


def _task_failure(query: dict[str, Any]) -> ErrorInfo:
    code, text = _base_code(query)
    message = f"minimax: {text or 'generation failed'}" + (f" (base_resp {code})" if code else "")
    if code in _REFUSALS:
        # MiniMax does not document whether refused generations are charged (unconfirmed): reported unbilled.
        return ErrorInfo(code=ErrorCode.CONTENT_POLICY, message=message, billed=False)
    return ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=message)
