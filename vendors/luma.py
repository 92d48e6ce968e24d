"""Luma: Ray 2 on the Dream Machine API, Ray 3.x on the newer Agents API. The catalog's ``api_surface``
(``"agents"``) says which serves a model; the task remembers it in ``links["surface"]``.

Dream Machine (lumalabs/lumaai-python ``generation_create_params``, ``generation``): Bearer key, no version
header; ``POST /generations/video``; ``duration`` is a string with unit ("5s"); a first frame goes in
``keyframes.frame0`` as an image URL (no inline bytes). States: queued → dreaming → completed
(``assets.video``) | failed (``failure_reason``, free text: refusals are recognised by wording). ``DELETE
/generations/{id}`` removes a generation; it is the only stop Luma offers there.

Agents API (lumalabs/luma-agents-python): ``POST /generations`` with ``type: "video"`` and a ``video`` object
(resolution, duration, ``start_frame`` as a URL or raw base64 + ``media_type``); states queued → processing
→ completed (``output[].url``, presigned for 1 h) | failed with a ``failure_code`` (``content_moderated``
is a refusal). The SDK has no cancel or delete for generations.

Cancel (Dream Machine): ``DELETE /generations/{id}`` removes the generation whatever its state (there is no
cancelled state), so on a completed one it would throw away the video. ``cancel`` reads the generation first:
completed or failed → ``finished``, left whole; queued or dreaming → DELETE → ``stopped``. A generation that
is already gone (404 on the read or the DELETE) is answered ``stopped``: we never delete a finished one, so
the usual way one disappears mid-flight is our own DELETE whose answer was lost and whose cancel is being
retried. Two windows remain that Luma's API cannot close: a generation that completes between our read and
our DELETE is deleted although we answer ``stopped``, and whether Luma bills a generation deleted mid-way
is not documented. On the Agents API there is nothing to call: ``unsupported``.

No TaskFinder: neither API takes an idempotency key, and the create bodies carry no field of ours that a
lookup could match (``GET /generations`` lists generations, but not by anything we choose; Agents' opaque
``user_id`` names an end user, not a request, and has no documented lookup). An ambiguous submit is therefore
not retried; the activity ends such a job unbilled and records a possible orphan.
"""

from __future__ import annotations

from typing import Any, Unpack

from core.errors import ErrorCode, VendorError
from core.models import ErrorInfo, ReferenceImageForm, VendorCancel, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.http_vendor import HttpVendor, VendorArgs
from vendors.transport import error_for_status, read_json_object

AGENTS = "agents"

_DREAM_STATES = {"queued": "pending", "dreaming": "running"}
_AGENT_STATES = {"queued": "pending", "processing": "running"}
# Agents API failure codes (luma-agents-python ``generation_failure_code``) read as our taxonomy.
_AGENT_FAILURES: dict[str, tuple[ErrorCode, bool]] = {
    "content_moderated": (ErrorCode.CONTENT_POLICY, False),
    "rate_limited": (ErrorCode.RATE_LIMITED, True),
    "generation_failed": (ErrorCode.VENDOR_ERROR, True),
    "output_not_found": (ErrorCode.VENDOR_ERROR, True),
    "budget_exhausted": (ErrorCode.VENDOR_ERROR, False),
    "image_too_large": (ErrorCode.INVALID_INPUT, False),
    "unsupported_format": (ErrorCode.INVALID_INPUT, False),
    "corrupt_input": (ErrorCode.INVALID_INPUT, False),
    "invalid_request": (ErrorCode.INVALID_INPUT, False),
}


class LumaVendor(HttpVendor):
    name = "luma"
    default_base_url = "https://api.lumalabs.ai/dream-machine/v1"
    reference_image_form: ReferenceImageForm = "url"  # keyframes take image URLs only

    def __init__(
        self,
        api_key: str,
        *,
        agents_base_url: str = "https://agents.lumalabs.ai/v1",
        agents_api_key: str | None = None,
        **args: Unpack[VendorArgs],
    ) -> None:
        super().__init__(api_key, **args)
        self._agents_base_url = agents_base_url.rstrip("/")
        self._agents_api_key = agents_api_key or api_key

    def _headers(self, surface: str = "") -> dict[str, str]:
        return {"Authorization": f"Bearer {self._agents_api_key if surface == AGENTS else self.api_key}"}

    def _agents_url(self, path: str) -> str:
        return f"{self._agents_base_url}/{path.lstrip('/')}"

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # Neither Luma API takes an idempotency key (see the module docstring: no TaskFinder either).
        entry = self.model_entry(model)
        wire = self.wire_model(model, with_image=spec.reference_image_url is not None)
        if entry is not None and entry.api_surface == AGENTS:
            return await self._submit_agents(spec, model, wire)
        body: dict[str, Any] = {
            "model": wire,
            "prompt": spec.prompt,
            "aspect_ratio": spec.aspect.value,
            "resolution": spec.resolution.value,
            "duration": f"{spec.duration_seconds}s",
        }
        if spec.reference_image_url:
            if not spec.reference_image_url.startswith(("http://", "https://")):
                raise VendorError(ErrorCode.INVALID_INPUT, "luma: the reference image must be an http(s) URL")
            body["keyframes"] = {"frame0": {"type": "image", "url": spec.reference_image_url}}
        generation = await self.send_json(
            "POST", self.url("/generations/video"), phase="submit", json_body=body
        )
        return self.new_task(model, self._generation_id(generation))

    async def _submit_agents(self, spec: VideoSpec, model: str, wire: str) -> VendorTask:
        video: dict[str, Any] = {"resolution": spec.resolution.value, "duration": f"{spec.duration_seconds}s"}
        if spec.reference_image_url:
            video["start_frame"] = _agents_image(spec.reference_image_url)
        body = {
            "model": wire,
            "type": "video",
            "prompt": spec.prompt,
            "aspect_ratio": spec.aspect.value,
            "video": video,
        }
        generation = await self.http.send_json(
            "POST",
            self._agents_url("/generations"),
            phase="submit",
            headers=self._headers(AGENTS),
            json_body=body,
        )
        return self.new_task(model, self._generation_id(generation), {"surface": AGENTS})

    def _generation_id(self, generation: dict[str, Any]) -> str:
        generation_id = generation.get("id")
        if not isinstance(generation_id, str) or not generation_id:
            raise self.missing_field("generation id")
        return generation_id

    async def poll(self, task: VendorTask) -> VendorStatus:
        if task.links.get("surface") == AGENTS:
            return await self._poll_agents(task)
        generation = await self.send_json("GET", self.url(f"/generations/{task.task_id}"), phase="poll")
        state = str(generation.get("state", ""))
        if state == "completed":
            assets = generation.get("assets") or {}
            video = assets.get("video") if isinstance(assets, dict) else None
            if not isinstance(video, str) or not video:
                raise self.missing_field("assets.video", "poll")
            thumbnail = assets.get("image") if isinstance(assets.get("image"), str) else None
            return VendorStatus(state="succeeded", progress=100, output_url=video, thumbnail_url=thumbnail)
        if state == "failed":
            return self.failed_with_reason(str(generation.get("failure_reason") or "generation failed"))
        return VendorStatus(state=self.known_state(_DREAM_STATES, state, "poll", field="state"))

    async def _poll_agents(self, task: VendorTask) -> VendorStatus:
        generation = await self.http.send_json(
            "GET",
            self._agents_url(f"/generations/{task.task_id}"),
            phase="poll",
            headers=self._headers(AGENTS),
        )
        state = str(generation.get("state", ""))
        if state == "completed":
            output = generation.get("output") or []
            videos = [
                o.get("url") for o in output if isinstance(o, dict) and o.get("type", "video") == "video"
            ]
            if not videos or not isinstance(videos[0], str):
                raise self.missing_field("output[].url", "poll")
            return VendorStatus(state="succeeded", progress=100, output_url=videos[0])
        if state == "failed":
            failure = str(generation.get("failure_code") or "")
            code, retryable = _AGENT_FAILURES.get(failure, (ErrorCode.VENDOR_ERROR, False))
            reason = generation.get("failure_reason") or failure or "generation failed"
            message = f"luma: {reason}" + (f" ({failure})" if failure else "")
            # Billing of moderated Agents generations is not documented (unconfirmed): reported unbilled.
            return VendorStatus(
                state="failed", error=ErrorInfo(code=code, message=message, retryable=retryable)
            )
        return VendorStatus(state=self.known_state(_AGENT_STATES, state, "poll", field="state"))

    async def cancel(self, task: VendorTask) -> VendorCancel:
        if task.links.get("surface") == AGENTS:
            return VendorCancel.UNSUPPORTED  # the Agents API has no cancel or delete
        # Read first: DELETE on a completed generation would remove its video (see the module docstring).
        url = self.url(f"/generations/{task.task_id}")
        response = await self.send("GET", url, phase="cancel")
        if response.status_code == 404:
            return VendorCancel.STOPPED  # already removed: an earlier DELETE of ours got through
        if response.status_code >= 400:
            raise error_for_status(self.name, response, "cancel")
        state = str(read_json_object(self.name, response, "cancel").get("state", ""))
        if state in ("completed", "failed"):
            return VendorCancel.FINISHED
        # An undocumented state fails the cancel.
        self.known_state(_DREAM_STATES, state, "cancel", field="state")
        response = await self.send("DELETE", url, phase="cancel")
        if response.status_code < 300 or response.status_code == 404:
            return VendorCancel.STOPPED
        raise error_for_status(self.name, response, "cancel")


def _agents_image(reference: str) -> dict[str, str]:
    # The Agents API takes exactly one of a URL or raw base64 with its media type (not a data URI).
    if reference.startswith("data:"):
        header, _, payload = reference.partition(",")
        return {"data": payload, "media_type": header[5:].removesuffix(";base64")}
    return {"url": reference}
