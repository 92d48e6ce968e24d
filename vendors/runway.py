"""Runway API tasks: ``POST /v1/{text,image}_to_video`` → ``GET /v1/tasks/{id}`` → ``DELETE`` to cancel.

Wire format from runwayml/sdk-python (``_client.py``, ``types/*_create_params.py``,
``task_retrieve_response``): Bearer key plus the required ``X-Runway-Version`` header, camelCase bodies,
ratios as pixel sizes. Tasks go PENDING/THROTTLED → RUNNING (``progress`` 0-1) → SUCCEEDED (``output`` URLs,
valid 24-48 h) | FAILED (``failureCode``, e.g. ``SAFETY.INPUT.TEXT``) | CANCELLED.

Cancel: ``DELETE /v1/tasks/{id}`` cancels a pending/throttled/running task (it then reads CANCELLED) but
*deletes* a finished one (it then reads 404, its output gone). So ``cancel`` reads the task first and only
deletes one that has not finished; a finished task is left whole and answered ``finished``, for the workflow
to deliver or refund. A 404 is answered ``finished`` too: we never delete an unfinished task (a cancelled one
stays readable as CANCELLED), so a task that is gone had finished and was deleted (by someone else, or by
Runway's retention). One window remains that the API cannot close: a task that finishes between our read
and our DELETE is deleted although we answer ``stopped``.

No TaskFinder: Runway's create endpoints take no idempotency key and the API has no way to list or look up
tasks by anything of ours (only ``GET /v1/tasks/{id}`` by Runway's own id), so an ambiguous submit cannot be
retried safely; the activity ends such a job unbilled and records a possible orphan.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorCode, VendorError
from core.models import Aspect, ErrorInfo, Resolution, VendorCancel, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.http_vendor import HttpVendor
from vendors.transport import error_for_status, read_json_object

API_VERSION = "2024-11-06"

# Runway's ``ratio`` is the output size. Square is 960:960 on the Gen-4 family (there is no 720:720).
_RATIOS: dict[tuple[Resolution, Aspect], str] = {
    (Resolution.P720, Aspect.LANDSCAPE): "1280:720",
    (Resolution.P720, Aspect.PORTRAIT): "720:1280",
    (Resolution.P720, Aspect.SQUARE): "960:960",
    (Resolution.P1080, Aspect.LANDSCAPE): "1920:1080",
    (Resolution.P1080, Aspect.PORTRAIT): "1080:1920",
}

_STATES = {"PENDING": "pending", "THROTTLED": "pending", "RUNNING": "running", "CANCELLED": "cancelled"}


class RunwayVendor(HttpVendor):
    name = "runway"
    default_base_url = "https://api.dev.runwayml.com"

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "X-Runway-Version": API_VERSION}

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # Runway's task endpoints take no idempotency key (see the module docstring: no TaskFinder either).
        ratio = _RATIOS.get((spec.resolution, spec.aspect))
        if ratio is None:
            raise _unsupported(f"{spec.resolution.value} {spec.aspect.value}")
        body: dict[str, Any] = {
            "model": self.wire_model(model, with_image=spec.reference_image_url is not None),
            "promptText": spec.prompt,
            "ratio": ratio,
            "duration": spec.duration_seconds,
        }
        path = "/v1/text_to_video"
        if spec.reference_image_url:
            # HTTPS URLs and data URIs (≤5 MB) are both accepted as promptImage.
            body["promptImage"] = spec.reference_image_url
            path = "/v1/image_to_video"
        created = await self.send_json("POST", self.url(path), phase="submit", json_body=body)
        task_id = created.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise self.missing_field("task id")
        return self.new_task(model, task_id)

    async def poll(self, task: VendorTask) -> VendorStatus:
        body = await self.send_json("GET", self.url(f"/v1/tasks/{task.task_id}"), phase="poll")
        status = str(body.get("status", ""))
        if status == "SUCCEEDED":
            output = body.get("output") or []
            if not output or not isinstance(output[0], str):
                raise self.missing_field("output URL", "poll")
            return VendorStatus(state="succeeded", progress=100, output_url=output[0])
        if status == "FAILED":
            return VendorStatus(state="failed", error=_failure(body))
        progress = body.get("progress")
        percent = round(float(progress) * 100) if isinstance(progress, int | float) else None
        return VendorStatus(state=self.known_state(_STATES, status, "poll"), progress=percent)

    async def cancel(self, task: VendorTask) -> VendorCancel:
        # Read first: DELETE on a finished task would delete it and its output (see the module docstring).
        url = self.url(f"/v1/tasks/{task.task_id}")
        response = await self.send("GET", url, phase="cancel")
        if response.status_code == 404:
            return VendorCancel.FINISHED  # gone: it had finished and was deleted
        if response.status_code >= 400:
            raise error_for_status(self.name, response, "cancel")
        status = str(read_json_object(self.name, response, "cancel").get("status", ""))
        if status in ("SUCCEEDED", "FAILED"):
            return VendorCancel.FINISHED
        if status == "CANCELLED":
            return VendorCancel.STOPPED  # already stopped, e.g. by an earlier attempt of this cancel
        self.known_state(_STATES, status, "cancel")  # an undocumented status fails the cancel
        response = await self.http.send(
            "DELETE", url, phase="cancel", headers={**self._headers(), "Accept": "*/*"}
        )
        if response.status_code < 300:
            return VendorCancel.STOPPED
        if response.status_code == 404:
            return VendorCancel.FINISHED  # finished and deleted by someone else since our read
        raise error_for_status(self.name, response, "cancel")


def _failure(body: dict[str, Any]) -> ErrorInfo:
    code = str(body.get("failureCode") or "")
    message = f"runway: {body.get('failure') or 'task failed'}" + (f" ({code})" if code else "")
    if code.startswith("SAFETY."):
        # Runway does not say whether moderated tasks are charged (unconfirmed); we report not billed.
        return ErrorInfo(code=ErrorCode.CONTENT_POLICY, message=message, billed=False)
    if code.startswith("INTERNAL.BAD_OUTPUT"):
        return ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=message, retryable=True)
    if code.startswith(("ASSET.", "INPUT_PREPROCESSING.")):
        return ErrorInfo(code=ErrorCode.INVALID_INPUT, message=message)
    return ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=message)


def _unsupported(what: str) -> VendorError:
    return VendorError(ErrorCode.INVALID_INPUT, f"runway: no output size for {what}")
