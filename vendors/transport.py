"""HTTP calls to a vendor, and the one translation of transport failures and HTTP statuses to ``VendorError``.

What the httpx exceptions mean for us (the part of httpx's tree that matters here):

    TimeoutException
      ConnectTimeout, PoolTimeout   the request never left: nothing can exist at the vendor
      ReadTimeout, WriteTimeout     the request may have arrived: at submit the outcome is ambiguous
    NetworkError
      ConnectError                  connection refused: the request never left
      ReadError, WriteError, ...    the connection broke mid-exchange: at submit the outcome is ambiguous
    ProtocolError
      LocalProtocolError            we could not even form the request: it never left
      RemoteProtocolError           the server hung up without an answer: at submit the outcome is ambiguous
    ProxyError, UnsupportedProtocol the request never reached the vendor

``accepted`` on the resulting ``VendorError`` says whether the vendor had already accepted the task: always
False at submit (a submit that failed is not a task we know of), always True at poll and cancel (the task
exists; it must be polled to its end, never resubmitted elsewhere). ``ambiguous`` marks the submit failures
where the vendor may have created the task although we never learned its id (the read/write timeouts and
broken connections above, HTTP 504, a 2xx we could not read): those must not fail over to another vendor.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypedDict, Unpack

import httpx

from core.errors import ErrorCode, VendorError

Phase = Literal["submit", "poll", "cancel", "download"]

_MESSAGE_LIMIT = 300

# Transport failures that happen before any byte of the request reached the vendor.
_NEVER_SENT = (
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ConnectError,
    httpx.LocalProtocolError,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


class BodyParts(TypedDict, total=False):
    """What a vendor call may carry besides method and URL: a JSON body and query parameters."""

    json_body: Any
    params: dict[str, str] | None


class RequestParts(BodyParts, total=False):
    headers: dict[str, str] | None


class VendorHttp:
    """One vendor's HTTP access: a (possibly shared) httpx client, per-call timeouts and a concurrency cap.

    Auth headers are passed per call rather than set on the client, because one client is shared by every
    adapter of a worker and each vendor has its own credentials.
    """

    def __init__(
        self,
        vendor: str,
        *,
        client: httpx.AsyncClient | None,
        timeout: httpx.Timeout,
        max_concurrency: int,
    ) -> None:
        self.vendor = vendor
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None
        # Caps in-flight calls from this process so a burst of jobs cannot stampede one vendor.
        self._in_flight = asyncio.Semaphore(max_concurrency)

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    async def send(
        self, method: str, url: str, *, phase: Phase, **request: Unpack[RequestParts]
    ) -> httpx.Response:
        """Send one request. Raises ``VendorError`` for transport failures; HTTP statuses are the caller's."""
        try:
            async with self._in_flight:
                return await self._client.request(
                    method,
                    url,
                    headers=request.get("headers"),
                    json=request.get("json_body"),
                    params=request.get("params"),
                    timeout=self.timeout,
                )
        except _NEVER_SENT as exc:
            message = f"{self.vendor}: could not reach the vendor for {phase} ({type(exc).__name__})"
            raise phase_error(ErrorCode.VENDOR_UNAVAILABLE, message, phase, retryable=True) from exc
        except httpx.TimeoutException as exc:
            message = f"{self.vendor}: no answer to {phase} within the timeout ({type(exc).__name__})"
            raise phase_error(ErrorCode.TIMEOUT, message, phase, retryable=True, ambiguous=True) from exc
        except httpx.TransportError as exc:
            message = f"{self.vendor}: the connection broke during {phase} ({type(exc).__name__})"
            raise phase_error(
                ErrorCode.VENDOR_UNAVAILABLE, message, phase, retryable=True, ambiguous=True
            ) from exc

    async def send_json(
        self, method: str, url: str, *, phase: Phase, **request: Unpack[RequestParts]
    ) -> dict[str, Any]:
        """Send one request and return its JSON object; any HTTP error becomes the generic ``VendorError``."""
        response = await self.send(method, url, phase=phase, **request)
        if response.status_code >= 400:
            raise error_for_status(self.vendor, response, phase)
        return read_json_object(self.vendor, response, phase)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def read_json_object(vendor: str, response: httpx.Response, phase: Phase) -> dict[str, Any]:
    """The response's JSON object, or ``VENDOR_ERROR`` (retryable: a garbled answer is usually transient).

    A garbled 2xx to a submit is ambiguous: the vendor said yes, we just cannot read the task id.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"{vendor}: {phase} answered HTTP {response.status_code} with malformed JSON"
        raise phase_error(
            ErrorCode.VENDOR_ERROR, message, phase, retryable=True, ambiguous=response.is_success
        ) from exc
    if not isinstance(body, dict):
        message = f"{vendor}: {phase} answered with JSON that is not an object"
        raise phase_error(
            ErrorCode.VENDOR_ERROR, message, phase, retryable=True, ambiguous=response.is_success
        )
    return body


def phase_error(
    code: ErrorCode,
    message: str,
    phase: Phase,
    *,
    retryable: bool = False,
    ambiguous: bool = False,
    retry_after: float | None = None,
) -> VendorError:
    """A ``VendorError`` met in ``phase``: accepted after submit (the task exists), never at submit.

    ``ambiguous``: the vendor may have created a task whose id we never learned. It only means something at
    submit (later the task is known), so elsewhere it is dropped.
    """
    submit = phase == "submit"
    return VendorError(
        code,
        message,
        retryable=retryable,
        accepted=not submit,
        ambiguous=ambiguous and submit,
        retry_after=retry_after,
    )


def error_for_status(vendor: str, response: httpx.Response, phase: Phase) -> VendorError:
    """The taxonomy's reading of an HTTP error status (adapters check vendor-specific bodies first)."""
    status = response.status_code
    message = f"{vendor}: {phase} got HTTP {status}: {vendor_message(response)}"
    retry_after = retry_after_seconds(response)
    if status == 429:
        return phase_error(ErrorCode.RATE_LIMITED, message, phase, retryable=True, retry_after=retry_after)
    if status == 408:  # the server gave up waiting for our request: nothing was created
        return phase_error(ErrorCode.TIMEOUT, message, phase, retryable=True)
    if status == 504:  # a gateway gave up waiting for the vendor, which may still have created the task
        return phase_error(ErrorCode.TIMEOUT, message, phase, retryable=True, ambiguous=True)
    if status >= 500:
        return phase_error(
            ErrorCode.VENDOR_UNAVAILABLE, message, phase, retryable=True, retry_after=retry_after
        )
    if status in (401, 403):
        return phase_error(ErrorCode.VENDOR_ERROR, f"{message} (check the API key)", phase)
    if status == 402:
        return phase_error(ErrorCode.VENDOR_ERROR, f"{message} (vendor account out of credit)", phase)
    if status == 404 and phase != "submit":
        return phase_error(ErrorCode.VENDOR_ERROR, f"{message} (task not found)", phase)
    return phase_error(ErrorCode.INVALID_INPUT, message, phase)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def vendor_message(response: httpx.Response) -> str:
    """The human-readable part of a vendor's error body, whatever envelope the vendor uses."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _clip(response.text) or response.reason_phrase
    return _clip(message_from_body(body)) or response.reason_phrase


def message_from_body(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list) and body:
        return message_from_body(body[0])
    if not isinstance(body, dict):
        return ""
    for key in ("error", "detail", "message", "msg", "failure", "title"):
        if body.get(key):
            found = message_from_body(body[key])
            if found:
                return found
    base = body.get("base_resp")
    if isinstance(base, dict):
        return str(base.get("status_msg", ""))
    return ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
