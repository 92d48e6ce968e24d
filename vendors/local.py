"""Adapter for the local vendor: the embedded renderer behind a vendor-style HTTP API.

Its wire format is documented in ``localvendor/server.py``. It is free (cost 0) and goes through exactly the
same submit → poll → rehost path as a paid vendor. Error translation, once, here:

- submit: connection failure or 5xx → ``VENDOR_UNAVAILABLE`` (retryable, not accepted); 400/413 →
  ``INVALID_INPUT``; 409 → ``IDEMPOTENCY_CONFLICT``; 429 → ``RATE_LIMITED`` (retryable).
- poll / cancel: connection failure or 5xx → ``VENDOR_UNAVAILABLE`` (retryable, accepted); 404 →
  ``VENDOR_ERROR`` (the vendor lost the task).
- any answer that is not the documented JSON → ``VENDOR_ERROR`` (retryable: it may be a proxy hiccup).

Cancel answers the generation: ``cancelled`` → ``stopped``; ``succeeded``/``failed`` → ``finished`` (it had
ended before the cancel arrived and keeps its output).

Not a ``TaskFinder``, and it needs none: every submit carries our key as ``Idempotency-Key``, and the server
answers a repeated key with the task it already created, so a retried submit (after any failure, ambiguous
or not) cannot create a second task. A lookup would add nothing but a way for an unreachable server to turn
a plain "unavailable" (which fails over) into an "ambiguous" submit (which does not).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from core.errors import ErrorCode, VendorError
from core.models import ErrorInfo, ReferenceImageForm, VendorCancel, VendorTask, VideoSpec
from core.settings import Settings
from vendors.base import VendorStatus

LOCAL_MODEL = "local-preview"
_STATES = {
    "queued": "pending",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}


class _Output(BaseModel):
    video_url: str
    thumbnail_url: str


class _Error(BaseModel):
    code: str
    message: str


class _Generation(BaseModel):
    """The part of the vendor's generation object this adapter relies on."""

    id: str
    status: str
    progress: int | None = None
    created_at: datetime | None = None
    output: _Output | None = None
    error: _Error | None = None


class LocalVendor:
    name = "local"
    idempotent_submit = True  # the server answers a repeated Idempotency-Key with the task it created
    reference_image_form: ReferenceImageForm = "data_uri"  # so the local vendor never fetches a URL

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))

    @classmethod
    def from_settings(cls, settings: Settings, client: httpx.AsyncClient | None = None) -> LocalVendor:
        return cls(settings.local_base_url, client)

    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask:
        body: dict[str, Any] = {
            "model": model,
            "prompt": spec.prompt,
            "duration_seconds": spec.duration_seconds,
            "aspect": spec.aspect.value,
            "resolution": spec.resolution.value,
        }
        if spec.reference_image_url is not None:
            body["reference_image_url"] = spec.reference_image_url
        url = f"{self._base_url}/v1/generations"
        try:
            response = await self._client.post(url, json=body, headers={"Idempotency-Key": idempotency_key})
        except httpx.TransportError as exc:
            # With the idempotency key, retrying even an ambiguous failure cannot create a second task.
            raise VendorError(
                ErrorCode.VENDOR_UNAVAILABLE, f"local vendor unreachable: {exc!r}", retryable=True
            ) from exc
        if response.status_code not in (200, 201):
            raise _submit_error(response)
        generation = _parse(response)
        return VendorTask(
            vendor=self.name,
            model=model,
            task_id=generation.id,
            submitted_at=generation.created_at or datetime.now(UTC),
            links={"self": self._task_url(generation.id)},
        )

    async def poll(self, task: VendorTask) -> VendorStatus:
        response = await self._request("GET", self._task_url(task.task_id))
        generation = _parse(response)
        state = _STATES.get(generation.status)
        if state is None:
            raise VendorError(
                ErrorCode.VENDOR_ERROR, f"unknown status {generation.status!r}", retryable=True, accepted=True
            )
        status = VendorStatus(state=state, progress=generation.progress)
        if state == "succeeded":
            if generation.output is None:
                raise VendorError(
                    ErrorCode.VENDOR_ERROR, "succeeded without output", retryable=True, accepted=True
                )
            status.output_url = generation.output.video_url
            status.thumbnail_url = generation.output.thumbnail_url
            status.cost_usd = Decimal("0")
        elif state == "failed":
            detail = generation.error or _Error(code="unknown", message="the render failed")
            status.error = ErrorInfo(
                code=ErrorCode.VENDOR_ERROR, message=f"local vendor: {detail.code}: {detail.message}"
            )
        return status

    async def cancel(self, task: VendorTask) -> VendorCancel:
        generation = _parse(await self._request("POST", f"{self._task_url(task.task_id)}/cancel"))
        if generation.status == "cancelled":
            return VendorCancel.STOPPED
        if generation.status in ("succeeded", "failed"):
            return VendorCancel.FINISHED
        raise VendorError(
            ErrorCode.VENDOR_ERROR,
            f"cancel answered an unfinished status {generation.status!r}",
            retryable=True,
            accepted=True,
        )

    def download_headers(self, task: VendorTask, url: str) -> dict[str, str]:
        return {}  # outputs are public on the local vendor

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _task_url(self, task_id: str) -> str:
        return f"{self._base_url}/v1/generations/{task_id}"

    async def _request(self, method: str, url: str) -> httpx.Response:
        """A call on an accepted task: every failure says ``accepted=True`` (never fail over)."""
        try:
            response = await self._client.request(method, url)
        except httpx.TransportError as exc:
            raise VendorError(
                ErrorCode.VENDOR_UNAVAILABLE,
                f"local vendor unreachable: {exc!r}",
                retryable=True,
                accepted=True,
            ) from exc
        if response.status_code == 200:
            return response
        message = f"local vendor answered {response.status_code}: {_error_text(response)}"
        if response.status_code == 404:
            raise VendorError(ErrorCode.VENDOR_ERROR, message, accepted=True)
        if response.status_code == 429:
            raise VendorError(
                ErrorCode.RATE_LIMITED,
                message,
                retryable=True,
                accepted=True,
                retry_after=_retry_after(response),
            )
        retryable = response.status_code >= 500
        code = ErrorCode.VENDOR_UNAVAILABLE if retryable else ErrorCode.VENDOR_ERROR
        raise VendorError(code, message, retryable=retryable, accepted=True)


def _submit_error(response: httpx.Response) -> VendorError:
    status = response.status_code
    message = f"local vendor answered {status}: {_error_text(response)}"
    if status in (400, 413, 422):
        return VendorError(ErrorCode.INVALID_INPUT, message)
    if status == 409:
        return VendorError(ErrorCode.IDEMPOTENCY_CONFLICT, message)
    if status == 429:
        return VendorError(
            ErrorCode.RATE_LIMITED, message, retryable=True, retry_after=_retry_after(response)
        )
    if status >= 500:
        return VendorError(ErrorCode.VENDOR_UNAVAILABLE, message, retryable=True)
    return VendorError(ErrorCode.VENDOR_ERROR, message)


def _parse(response: httpx.Response) -> _Generation:
    try:
        return _Generation.model_validate_json(response.content)
    except ValidationError as exc:
        raise VendorError(
            ErrorCode.VENDOR_ERROR,
            f"local vendor sent an unreadable answer ({response.status_code}): {response.text[:200]!r}",
            retryable=True,
            # It answered 2xx, so the task most likely exists; a retry (same idempotency key) finds it.
            accepted=True,
        ) from exc


def _error_text(response: httpx.Response) -> str:
    try:
        error = _Error.model_validate(response.json()["error"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return response.text[:200] or response.reason_phrase
    return f"{error.code}: {error.message}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None
