"""fal.ai queue API: submit to ``queue.fal.run/{app}``, poll the returned ``status_url``, read the result.

Wire format from fal-ai/fal ``fal_client/client.py`` and ``auth.py``: ``Authorization: Key <FAL_KEY>``; the
body is the app's own input. The submit answer carries ``status_url``/``response_url``/``cancel_url``, which
live under ``{owner}/{app}`` without the endpoint sub-path, so we keep the returned URLs in
``VendorTask.links`` rather than rebuild them. Status: IN_QUEUE → IN_PROGRESS → COMPLETED; a failed run is
COMPLETED too and its result GET answers the error. A moderation refusal is HTTP 422 with ``type:
content_policy_violation``; fal's FAQ says a 422 "may still be charged if a runner spent GPU time", so after
acceptance we report it billed.

Cost: the result answer carries ``x-fal-billable-units``, the quantity fal billed in the model's priced unit
(third-party integrations read it the same way; one observed 3.008 units for a 3 s clip with audio, i.e.
the output's real length). Where the catalog says that unit is a second, the task's cost is those units x
the catalog's per-second price (read on fal's own model page); elsewhere the estimate stands.

Cancel: ``PUT {cancel_url}`` answers ``{"status": ...}``: ``OK`` (taken off the queue) is ``stopped``;
``CANCELLATION_REQUESTED`` (the runner was signalled, the app decides) is ``requested``, watched to its
end; ``ALREADY_COMPLETED`` is ``finished``.
``NOT_FOUND`` is ``finished`` too: we only cancel requests fal accepted (we hold the cancel URL it returned),
so one fal no longer knows has left the queue for good; the workflow's follow-up poll reads whatever fal
still says about it, and charges only what that shows was billed.

No TaskFinder: the queue API takes no idempotency key (the ``X-Fal-*`` request headers are timeouts,
priority and runner hints) and has no lookup of requests by anything of ours, only by fal's ``request_id``.
An ambiguous submit is therefore not retried; the activity ends the job unbilled and records a possible
orphan.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from core.errors import ErrorCode, VendorError
from core.models import ErrorInfo, Resolution, VendorCancel, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.catalog import ModelEntry
from vendors.http_vendor import HttpVendor
from vendors.transport import Phase, error_for_status, phase_error, read_json_object, vendor_message

_STATES = {"IN_QUEUE": "pending", "IN_PROGRESS": "running", "CANCELED": "cancelled", "CANCELLED": "cancelled"}
_LINKS = ("status_url", "response_url", "cancel_url")
BILLABLE_UNITS_HEADER = "x-fal-billable-units"


class FalVendor(HttpVendor):
    name = "fal"
    default_base_url = "https://queue.fal.run"
    auth_scheme = "Key"

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # The queue API takes no idempotency key (see the module docstring: no TaskFinder either).
        app = self.wire_model(model, with_image=spec.reference_image_url is not None)
        response = await self.send(
            "POST",
            self.url(app),
            phase="submit",
            json_body=_app_input(spec, self.model_entry(model)),
        )
        if response.status_code >= 400:
            raise _refusal(response, "submit") or error_for_status(self.name, response, "submit")
        queued = read_json_object(self.name, response, "submit")
        request_id = queued.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise self.missing_field("request_id")
        owner_app = "/".join(app.split("/")[:2])
        fallback = self.url(f"{owner_app}/requests/{request_id}")
        links = {
            "status_url": f"{fallback}/status",
            "response_url": fallback,
            "cancel_url": f"{fallback}/cancel",
            "resolution": spec.resolution.value,  # prices the billed units when the result comes back
        }
        for key in _LINKS:  # prefer what fal returned, but only on the host our key is meant for
            value = queued.get(key)
            if isinstance(value, str) and self.same_origin(value):
                links[key] = value
        return self.new_task(model, request_id, links)

    async def poll(self, task: VendorTask) -> VendorStatus:
        status = await self.send_json("GET", task.links["status_url"], phase="poll", params={"logs": "0"})
        state = str(status.get("status", ""))
        if state == "COMPLETED":
            # Failed runs are COMPLETED too; the result call tells a refusal from a crash from a video.
            run_error = status.get("error")
            return await self._result(task, str(run_error) if run_error else None)
        position = status.get("queue_position") if state == "IN_QUEUE" else None
        return VendorStatus(
            state=self.known_state(_STATES, state, "poll"),
            queue_position=position if isinstance(position, int) and position >= 0 else None,
        )

    async def _result(self, task: VendorTask, run_error: str | None) -> VendorStatus:
        response = await self.send("GET", task.links["response_url"], phase="poll")
        if response.status_code == 422:
            refusal = _refusal(response, "poll")
            if refusal is not None:
                # fal: a 422 "may still be charged if a runner spent GPU time" — it ran, so we say billed.
                return VendorStatus(
                    state="failed", error=ErrorInfo(code=refusal.code, message=refusal.message, billed=True)
                )
            message = f"fal: {vendor_message(response)}"
            return VendorStatus(
                state="failed", error=ErrorInfo(code=ErrorCode.INVALID_INPUT, message=message)
            )
        if response.status_code >= 400 and run_error is not None:
            # The run itself failed; fal's FAQ: server errors (5xx) are never charged.
            message = f"fal: {run_error}"
            return VendorStatus(state="failed", error=ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=message))
        if response.status_code >= 400:
            raise error_for_status(self.name, response, "poll")
        result = read_json_object(self.name, response, "poll")
        video = result.get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url:
            raise self.missing_field("video.url", "poll")
        return VendorStatus(
            state="succeeded", progress=100, output_url=url, cost_usd=self._billed_cost(task, response)
        )

    def _billed_cost(self, task: VendorTask, response: httpx.Response) -> Decimal | None:
        entry = self.model_entry(task.model)
        resolution = task.links.get("resolution")
        if entry is None or entry.billable_unit != "second" or resolution not in entry.prices:
            return None
        try:
            units = Decimal(response.headers.get(BILLABLE_UNITS_HEADER, ""))
        except InvalidOperation:
            return None
        if not units.is_finite() or units < 0:
            return None
        return units * entry.price_per_second(Resolution(resolution))

    async def cancel(self, task: VendorTask) -> VendorCancel:
        response = await self.send("PUT", task.links["cancel_url"], phase="cancel")
        # fal's documented answers are the body's ``status``; the HTTP codes beside them are third-party.
        answer = _cancel_answer(response)
        if answer == "OK":  # taken off the queue before a runner picked it up
            return VendorCancel.STOPPED
        if answer == "CANCELLATION_REQUESTED" or (not answer and response.is_success):
            return VendorCancel.REQUESTED  # the runner was signalled; the app decides, and may still bill
        if answer in ("ALREADY_COMPLETED", "NOT_FOUND") or (not answer and response.status_code == 404):
            return VendorCancel.FINISHED
        raise error_for_status(self.name, response, "cancel")


def _cancel_answer(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else ""


def _app_input(spec: VideoSpec, entry: ModelEntry | None) -> dict[str, Any]:
    app_input: dict[str, Any] = {
        "prompt": spec.prompt,
        "duration": entry.wire_duration(spec.duration_seconds) if entry else spec.duration_seconds,
        "aspect_ratio": spec.aspect.value,
    }
    # Apps with a single output size have no resolution input; only send it where there is a choice.
    if entry is None or len(entry.resolutions) > 1:
        app_input["resolution"] = entry.wire_resolution(spec.resolution) if entry else spec.resolution.value
    if spec.reference_image_url:
        app_input[entry.image_field if entry else "image_url"] = spec.reference_image_url
    return app_input


def _refusal(response: httpx.Response, phase: Phase) -> VendorError | None:
    """fal's content-checker refusal: 422 with ``detail[].type == "content_policy_violation"``."""
    if response.status_code != 422:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    items = detail if isinstance(detail, list) else []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "content_policy_violation":
            message = f"fal: {item.get('msg') or 'flagged by a content checker'}"
            return phase_error(ErrorCode.CONTENT_POLICY, message, phase)
    return None
