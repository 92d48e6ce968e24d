"""How the local vendor's HTTP API reads a request's guarded parts and answers every error.

Every error leaves as ``{"error": {"code": "<snake_case>", "message": "<text>"}}`` (``wire.error_body``)
with the status documented in ``localvendor.server``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from localvendor.task_store import IdempotencyConflict
from localvendor.wire import error_body

MAX_IDEMPOTENCY_KEY_CHARS = 255


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "payload_too_large", f"request body is larger than {limit} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"request body is not JSON: {exc}") from exc


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ApiError(400, "invalid_request", f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} chars")
    return key


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )
    return JSONResponse(error_body("invalid_request", problems), status_code=400)


async def _conflict(request: Request, exc: Exception) -> Response:
    message = "this Idempotency-Key was already used with a different request body"
    return JSONResponse(error_body("idempotency_conflict", message), status_code=409)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body("internal_error", f"unexpected error: {exc!r}"), status_code=500)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    ApiError: _api_error,
    ValidationError: _validation_error,
    IdempotencyConflict: _conflict,
    HTTPException: _http_error,
    Exception: _internal_error,
}
