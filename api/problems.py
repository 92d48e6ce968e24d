"""RFC 9457 problem details: the one shape every error of the API takes.

Routes raise ``ProblemError``; the handlers installed by ``install_problem_handlers`` render it, and also
turn FastAPI's validation errors, unknown routes and any unexpected exception into problem JSON with a
stable ``code``, so a client never sees a bare 500 page or an HTML error.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict, Unpack

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.errors import ErrorCode

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://infrai.dev/problems/"

logger = logging.getLogger(__name__)

_TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

_CODES_BY_STATUS: dict[int, str] = {
    400: ErrorCode.MALFORMED_JSON,  # FastAPI's only 400: a body it could not parse
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    405: "method_not_allowed",
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: "unsupported_media_type",
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


# What each status means on any route; a route may say more with ``problem_responses(..., 404="...")``.
_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON body",
    401: "Missing, malformed, unknown or revoked API key",
    402: "Insufficient credits",
    403: "Forbidden",
    404: "Not found (or not in this project)",
    409: "Conflict",
    410: "Gone (e.g. a retired model)",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "A field is invalid",
    429: "Too many requests; retry after Retry-After seconds",
    503: "Temporarily unavailable; retry after Retry-After seconds",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the offending field, or `body`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. Members beyond the standard five depend on ``code`` (e.g. ``reason`` for
    ``unsafe_url``, ``alternatives`` for ``no_route``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_input`, `unsafe_url`.")
    errors: list[FieldProblem] | None = Field(None, description="Each invalid field (validation errors).")
    reason: str | None = Field(None, description="Why a URL was refused (`unsafe_url`).")


def problem_responses(
    *statuses: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem JSON answers, e.g. ``problem_responses(401, 404)``;
    ``described`` says more than the generic text for some statuses (and adds those statuses)."""
    schema = {"$ref": "#/components/schemas/Problem"}
    described = described or {}
    statuses = tuple(dict.fromkeys([*statuses, *described]))
    return {
        status: {
            "description": described.get(status, _DESCRIPTIONS.get(status, "Error")),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


def idempotent_create(
    model: type[BaseModel], noun: str, errors: dict[int | str, dict[str, Any]]
) -> dict[str, Any]:
    """The route options of a create endpoint: ``202`` with ``model`` when it creates, and ``200`` when a
    retry with the same ``Idempotency-Key`` and body answers with what the first request created
    (``answer_created`` sets which), besides ``errors``."""
    retry = {"description": f"An idempotent retry: the existing {noun}", "model": model}
    return {"status_code": 202, "response_model": model, "responses": {200: retry, **errors}}


def answer_created(response: Response, location: str, *, created: bool) -> None:
    """What ``idempotent_create`` documents: ``202`` + ``Location`` for what this request created, ``200``
    (with its ``Location`` too) for what an earlier request with the same key created."""
    response.headers["Location"] = location
    if not created:
        response.status_code = 200


def install_problem_schema(app: FastAPI) -> None:
    """Put ``Problem`` into the OpenAPI components that ``problem_responses`` refers to."""
    build = app.openapi  # FastAPI's own: builds the document once and keeps it in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class ProblemOptions(TypedDict, total=False):
    """What a problem may add to status, code and detail: ``extra`` adds members (e.g. ``alternatives``)."""

    title: str | None
    headers: dict[str, str] | None
    extra: dict[str, Any] | None


class ProblemError(Exception):
    """An error the API answers with problem JSON (see ``ProblemOptions`` for what it may add)."""

    def __init__(self, status: int, code: str, detail: str, **options: Unpack[ProblemOptions]) -> None:
        super().__init__(detail)
        self.status = status
        self.code = str(code)
        self.detail = detail
        self.title = options.get("title") or _TITLES.get(status, "Error")
        self.headers = options.get("headers") or {}
        self.extra = options.get("extra") or {}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return JSONResponse(
            body, status_code=self.status, headers=self.headers, media_type=PROBLEM_MEDIA_TYPE
        )


def problem_response(status: int, code: str, detail: str, **options: Unpack[ProblemOptions]) -> JSONResponse:
    return ProblemError(status, code, detail, **options).response()


def _validation_detail(exc: RequestValidationError) -> tuple[str, str, list[dict[str, Any]]]:
    errors = []
    code: str = ErrorCode.INVALID_INPUT
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        errors.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", ""))})
        if err.get("type") == "json_invalid":
            code = ErrorCode.MALFORMED_JSON
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid request"
    return code, summary, errors


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return exc.response()


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, detail, errors = _validation_detail(exc)
    status = 400 if code == ErrorCode.MALFORMED_JSON else 422
    return problem_response(status, code, detail, extra={"errors": errors})


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path takes. Starlette answers 405 with the methods of the first
    route that matched the path only, but FastAPI makes one route per method (GET and DELETE of
    ``/v1/videos/{id}`` are two), so ``Allow`` must gather them all."""
    methods: set[str] = set()
    probe = {**request.scope, "method": "GET"}
    pending: list[Any] = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        nested = getattr(route, "original_router", None)  # FastAPI's included routers
        if nested is not None:
            pending += nested.routes
            continue
        match, _ = route.matches(probe)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(exc.status_code, code, detail, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, ErrorCode.INTERNAL, "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
