"""Replicate predictions for official models: ``POST /v1/models/{owner}/{name}/predictions``.

Wire format from replicate/replicate-python (``client.py``, ``prediction.py``): Bearer token, body
``{"input": {...}}`` whose keys are the model's own (the catalog says how each model names its image input and
formats ``duration``). Status: starting → processing → succeeded (``output``: a URL or a list of URLs) |
failed (``error``: free text) | canceled. Progress only exists as tqdm-style lines in ``logs``, which the
SDK parses the same way. Outputs of API predictions are deleted after an hour, so rehost promptly.

Cancel: ``POST /v1/predictions/{id}/cancel`` answers the prediction. One that had already succeeded or failed
is left as it was (``finished``); otherwise it is ``canceled`` or on its way there (``stopped``).

No TaskFinder: predictions take no idempotency key and cannot be looked up by anything of ours (only by
Replicate's id), so an ambiguous submit is not retried; the activity ends the job unbilled and records a
possible orphan.
"""

from __future__ import annotations

import re
from typing import Any

from core.models import VendorCancel, VendorTask, VideoSpec
from vendors.base import VendorStatus
from vendors.catalog import ModelEntry
from vendors.http_vendor import HttpVendor

_STATES = {"starting": "pending", "processing": "running", "canceled": "cancelled"}
_PROGRESS = re.compile(r"(\d{1,3})%\|")


class ReplicateVendor(HttpVendor):
    name = "replicate"
    default_base_url = "https://api.replicate.com"

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        # Replicate takes no idempotency key on predictions (see the module docstring: no TaskFinder either).
        entry = self.model_entry(model)
        wire = self.wire_model(model, with_image=spec.reference_image_url is not None)
        prediction = await self.send_json(
            "POST",
            self.url(f"/v1/models/{wire}/predictions"),
            phase="submit",
            json_body={"input": _model_input(spec, entry)},
        )
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise self.missing_field("prediction id")
        urls = prediction.get("urls")
        links: dict[str, str] = {}
        if isinstance(urls, dict):  # keep Replicate's own get/cancel URLs, if they are on our host
            wanted = {key: urls.get(key) for key in ("get", "cancel")}
            links = {k: v for k, v in wanted.items() if isinstance(v, str) and self.same_origin(v)}
        return self.new_task(model, prediction_id, links)

    async def poll(self, task: VendorTask) -> VendorStatus:
        url = task.links.get("get") or self.url(f"/v1/predictions/{task.task_id}")
        prediction = await self.send_json("GET", url, phase="poll")
        status = str(prediction.get("status", ""))
        if status == "succeeded":
            output = prediction.get("output")
            video = output[0] if isinstance(output, list) and output else output
            if not isinstance(video, str) or not video:
                raise self.missing_field("output URL", "poll")
            return VendorStatus(state="succeeded", progress=100, output_url=video)
        if status == "failed":
            return self.failed_with_reason(str(prediction.get("error") or "prediction failed"))
        return VendorStatus(
            state=self.known_state(_STATES, status, "poll"),
            progress=_progress_from_logs(prediction.get("logs")),
        )

    async def cancel(self, task: VendorTask) -> VendorCancel:
        url = task.links.get("cancel") or self.url(f"/v1/predictions/{task.task_id}/cancel")
        body = await self.send_json("POST", url, phase="cancel")
        # The answer is the prediction: one that had already succeeded or failed was not stopped.
        status = str(body.get("status", ""))
        if status in ("succeeded", "failed"):
            return VendorCancel.FINISHED
        self.known_state(_STATES, status, "cancel")  # an undocumented status fails the cancel
        # "canceled" at once, or still "starting"/"processing" while the cancel goes through: watch it.
        return VendorCancel.STOPPED if status == "canceled" else VendorCancel.REQUESTED


def _model_input(spec: VideoSpec, entry: ModelEntry | None) -> dict[str, Any]:
    model_input: dict[str, Any] = {
        "prompt": spec.prompt,
        "duration": entry.wire_duration(spec.duration_seconds) if entry else spec.duration_seconds,
        "resolution": entry.wire_resolution(spec.resolution) if entry else spec.resolution.value,
        "aspect_ratio": spec.aspect.value,
    }
    if spec.reference_image_url:
        model_input[entry.image_field if entry else "image"] = spec.reference_image_url
    return model_input


def _progress_from_logs(logs: Any) -> int | None:
    if not isinstance(logs, str):
        return None
    found = _PROGRESS.findall(logs)
    return min(100, int(found[-1])) if found else None
