"""Google Veo through the Gemini API (generativelanguage): ``predictLongRunning`` plus operation polling.

Wire format from googleapis/python-genai (models.py ``_GenerateVideos*_to_mldev``, operations.py): the body
is ``{"instances": [{prompt, image}], "parameters": {...}}``, the answer a long-running operation whose
``name`` we poll until ``done``. Images must be inline base64 on this API (no URLs), so the adapter fetches
the reference image itself. A moderation block is an operation that is done with no samples and a
``raiMediaFilteredCount``; Google's own message says such attempts are not charged.

Cancel: ``unsupported``. python-genai has no video cancel; the generic long-running-operation ``:cancel`` is
unconfirmed for Veo, so we do not call it: the operation runs to its end and the charge follows its outcome.

No TaskFinder: ``predictLongRunning`` takes no idempotency key or request id, and operations can only be read
by the name Google returns (no list filtered by anything of ours), so an ambiguous submit is not retried; the
activity ends the job unbilled and records a possible orphan.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorCode
from core.models import ErrorInfo, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.http_vendor import HttpVendor

# google.rpc.Code values an operation's ``error`` can carry, read as our taxonomy.
_RPC_CODES: dict[int, tuple[ErrorCode, bool]] = {
    3: (ErrorCode.INVALID_INPUT, False),  # INVALID_ARGUMENT
    4: (ErrorCode.TIMEOUT, True),  # DEADLINE_EXCEEDED
    8: (ErrorCode.RATE_LIMITED, True),  # RESOURCE_EXHAUSTED
    9: (ErrorCode.INVALID_INPUT, False),  # FAILED_PRECONDITION
    13: (ErrorCode.VENDOR_ERROR, True),  # INTERNAL
    14: (ErrorCode.VENDOR_UNAVAILABLE, True),  # UNAVAILABLE
}


class GoogleVeoVendor(HttpVendor):
    name = "google"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta/"
    auth_header = "x-goog-api-key"
    auth_scheme = ""

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # predictLongRunning takes no idempotency key (see the module docstring: no TaskFinder either).
        instance: dict[str, Any] = {"prompt": spec.prompt}
        image = await self.reference_image_bytes(spec)
        if image is not None:
            instance["image"] = {"bytesBase64Encoded": image.base64(), "mimeType": image.mime_type}
        body = {
            "instances": [instance],
            "parameters": {
                "aspectRatio": spec.aspect.value,
                "resolution": spec.resolution.value,
                "durationSeconds": spec.duration_seconds,
                "sampleCount": 1,
            },
        }
        wire = self.wire_model(model, with_image=image is not None)
        operation = await self.send_json(
            "POST", self.url(f"models/{wire}:predictLongRunning"), phase="submit", json_body=body
        )
        name = operation.get("name")
        if not isinstance(name, str) or not name:
            raise self.missing_field("operation name")
        return self.new_task(model, name)

    async def poll(self, task: VendorTask) -> VendorStatus:
        operation = await self.send_json("GET", self.url(task.task_id), phase="poll")
        if not operation.get("done"):
            return VendorStatus(state="running")  # Veo reports no progress, only done or not
        if isinstance(operation.get("error"), dict):
            return _failed_operation(operation["error"])
        response = operation.get("response")
        video_response = response.get("generateVideoResponse", {}) if isinstance(response, dict) else {}
        samples = video_response.get("generatedSamples") or []
        uri = samples[0].get("video", {}).get("uri") if samples and isinstance(samples[0], dict) else None
        if isinstance(uri, str) and uri:
            return VendorStatus(state="succeeded", progress=100, output_url=uri)
        if video_response.get("raiMediaFilteredCount"):
            reasons = video_response.get("raiMediaFilteredReasons") or ["blocked by Veo's safety filters"]
            return VendorStatus(
                state="failed",
                error=ErrorInfo(
                    code=ErrorCode.CONTENT_POLICY,
                    message="google: " + " ".join(str(reason) for reason in reasons),
                    billed=False,  # "You have not been charged for this attempt" (Veo RAI message)
                ),
            )
        return VendorStatus(
            state="failed",
            error=ErrorInfo(
                code=ErrorCode.VENDOR_ERROR,
                message="google: operation finished without a video",
                retryable=True,
            ),
        )

    def download_headers(self, task: VendorTask, url: str) -> dict[str, str]:
        # The file URI is served by the same API and wants the same key; never send it to another host.
        return self._headers() if self.same_origin(url) else {}


def _failed_operation(error: dict[str, Any]) -> VendorStatus:
    code, retryable = _RPC_CODES.get(int(error.get("code", 0) or 0), (ErrorCode.VENDOR_ERROR, False))
    return VendorStatus(
        state="failed",
        error=ErrorInfo(
            code=code, message=f"google: {error.get('message', 'operation failed')}", retryable=retryable
        ),
    )
