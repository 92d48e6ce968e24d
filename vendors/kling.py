"""Kling AI video API: ``POST /v1/videos/{text2video,image2video}`` → ``GET`` the same family ``/{task_id}``.

No official SDK or page was readable from here; this follows the format consistently described by
third-party integrations (tryAGI KlingAI docs, Baidu Qianfan's Kling error table, Comfy's Kling nodes):
a short-lived HS256 JWT signed with the secret key (``iss`` = access key); an envelope
``{"code": 0, "message", "request_id", "data": {...}}``; ``mode`` picks the size (std = 720p, pro = 1080p);
``duration`` is a string; task status submitted → processing → succeed | failed (``task_status_msg``).
Error codes: 1301 content safety, 1302/1303 rate or concurrency limits, 1000-1004 auth, 1102 balance,
1200-1203 parameters, 5000-5002 server. No cancel endpoint is documented.

Finding a task again: we send our per-attempt key as ``external_task_id`` (unique per account), and the
single-task query ``GET /v1/videos/{family}/{id}`` accepts either Kling's ``task_id`` or that
``external_task_id`` (a copy of Kling's own API reference; a third-party probe of the real API saw an
unknown id answered HTTP 400 with code 1201 "Task not found"). That makes Kling the one paid vendor here
whose ambiguous submits can be retried safely: the retry looks the task up before creating another.
"""

from __future__ import annotations

import time
from typing import Any, Unpack

import httpx
import jwt

from core.errors import ErrorCode, VendorError
from core.models import Resolution, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.http_vendor import HttpVendor, VendorArgs
from vendors.transport import Phase, error_for_status, phase_error, read_json_object, retry_after_seconds

_TOKEN_LIFETIME_SECONDS = 1800
_TOKEN_RENEW_MARGIN_SECONDS = 300
_MODES = {Resolution.P720: "std", Resolution.P1080: "pro"}
_STATES = {"submitted": "pending", "processing": "running"}
# Envelope codes of a single-task query for an id Kling does not know: 1201 (seen from the real API by a
# third party) and 1203 "resource not found" (the documented code table).
_TASK_NOT_FOUND = {1201, 1203}
_SERVER_TIMEOUT = 5002  # "5000-5002 server / maintenance / timeout" (third-party code tables, unconfirmed)


class KlingVendor(HttpVendor):
    name = "kling"
    default_base_url = "https://api-singapore.klingai.com"

    def __init__(self, access_key: str, secret_key: str, **args: Unpack[VendorArgs]) -> None:
        super().__init__(access_key, **args)  # the access key is the token's issuer (``iss``), not a header
        self._secret_key = secret_key
        self._token = ""
        self._token_expires = 0.0

    def _headers(self) -> dict[str, str]:
        now = time.time()
        if now > self._token_expires - _TOKEN_RENEW_MARGIN_SECONDS:
            claims = {"iss": self.api_key, "exp": int(now) + _TOKEN_LIFETIME_SECONDS, "nbf": int(now) - 5}
            self._token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
            self._token_expires = now + _TOKEN_LIFETIME_SECONDS
        return {"Authorization": f"Bearer {self._token}"}

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        mode = _MODES.get(spec.resolution)
        if mode is None:
            raise VendorError(ErrorCode.INVALID_INPUT, f"kling: no mode renders {spec.resolution.value}")
        family = _family(spec)
        body: dict[str, Any] = {
            "model_name": self.wire_model(model, with_image=spec.reference_image_url is not None),
            "prompt": spec.prompt,
            "mode": mode,
            "aspect_ratio": spec.aspect.value,
            "duration": str(spec.duration_seconds),
            # Kling's own per-account task label: ``find_task`` finds the task again by it after an
            # ambiguous submit. Whether Kling refuses a duplicate label is unconfirmed.
            "external_task_id": idempotency_key,
        }
        if spec.reference_image_url:
            body["image"] = _kling_image(spec.reference_image_url)
        data = await self._call("POST", f"/v1/videos/{family}", "submit", body)
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise self.missing_field("data.task_id")
        return self.new_task(model, str(task_id), {"family": family})

    async def find_task(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask | None:
        """The task an earlier submit created under ``idempotency_key`` (our ``external_task_id``), if any."""
        family = _family(spec)
        response = await self.send("GET", self.url(f"/v1/videos/{family}/{idempotency_key}"), phase="poll")
        if response.status_code in (400, 404):
            envelope = read_json_object(self.name, response, "poll")
            if int(envelope.get("code", 0) or 0) in _TASK_NOT_FOUND:
                return None
        data = self._data(response, "poll")
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise self.missing_field("data.task_id", "poll")
        return self.new_task(model, str(task_id), {"family": family})

    async def poll(self, task: VendorTask) -> VendorStatus:
        family = task.links.get("family", "text2video")
        data = await self._call("GET", f"/v1/videos/{family}/{task.task_id}", "poll")
        status = str(data.get("task_status", ""))
        if status == "succeed":
            result = data.get("task_result")
            videos = result.get("videos") if isinstance(result, dict) else None
            url = (
                videos[0].get("url")
                if isinstance(videos, list) and videos and isinstance(videos[0], dict)
                else None
            )
            if not isinstance(url, str) or not url:
                raise self.missing_field("task_result.videos[0].url", "poll")
            return VendorStatus(state="succeeded", progress=100, output_url=url)
        if status == "failed":
            return self.failed_with_reason(str(data.get("task_status_msg") or "task failed"))
        return VendorStatus(state=self.known_state(_STATES, status, "poll", field="task_status"))

    async def _call(self, method: str, path: str, phase: Phase, body: Any = None) -> dict[str, Any]:
        response = await self.send(method, self.url(path), phase=phase, json_body=body)
        return self._data(response, phase)

    def _data(self, response: httpx.Response, phase: Phase) -> dict[str, Any]:
        """The envelope's ``data`` object, or the envelope's error in our taxonomy."""
        try:
            envelope = read_json_object(self.name, response, phase)
        except VendorError:
            if response.status_code >= 400:
                raise error_for_status(self.name, response, phase) from None
            raise
        code = int(envelope.get("code", 0) or 0)
        if code != 0:
            raise _envelope_error(code, str(envelope.get("message", "")), response, phase)
        if response.status_code >= 400:
            raise error_for_status(self.name, response, phase)
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise self.missing_field("data", phase)
        return data


def _family(spec: VideoSpec) -> str:
    return "image2video" if spec.reference_image_url else "text2video"


def _kling_image(reference: str) -> str:
    # Kling takes an image URL or raw base64 without the ``data:`` prefix (third-party docs).
    if reference.startswith("data:"):
        return reference.partition(",")[2]
    return reference


def _envelope_error(code: int, text: str, response: httpx.Response, phase: Phase) -> VendorError:
    message = f"kling: {text or 'error'} (code {code})"
    if code == 1301:
        return phase_error(ErrorCode.CONTENT_POLICY, message, phase)
    if code in (1302, 1303):
        retry_after = retry_after_seconds(response)
        return phase_error(ErrorCode.RATE_LIMITED, message, phase, retryable=True, retry_after=retry_after)
    if response.status_code == 504 or code == _SERVER_TIMEOUT:
        # A server-side timeout: the task may exist even though the answer did not come back.
        return phase_error(ErrorCode.TIMEOUT, message, phase, retryable=True, ambiguous=True)
    if 5000 <= code < 6000:
        return phase_error(ErrorCode.VENDOR_UNAVAILABLE, message, phase, retryable=True)
    if 1200 <= code < 1300:
        return phase_error(ErrorCode.INVALID_INPUT, message, phase)
    return phase_error(ErrorCode.VENDOR_ERROR, message, phase)
