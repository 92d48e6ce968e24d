"""Per-key rate limits at the HTTP boundary: the ``429`` problem, the ``RateLimit-Policy`` and ``RateLimit``
header fields, and both in the OpenAPI document.

The fields follow draft-ietf-httpapi-ratelimit-headers-11 (sections 3 and 4): each is a Structured Fields
List of Items named by a quoted policy name, ``RateLimit-Policy: "default";q=3000;w=60, "jobs";q=600;w=60``
(quota per window, the same on every response) and ``RateLimit: "default";r=2999;t=42`` (what is left and
the seconds until the window ends, for the policies this request counted against).

The dependencies in ``api.deps`` count each authenticated request and keep the outcome on the request
(``note_usage``); ``RateLimitHeaders``, a pure ASGI middleware, writes the fields on whatever response
the request gets: the route's, an error handler's, or the 429 itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from accounts.rate_limits import PolicyUsage, RatePolicy
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode
from observability.http import HttpMiddleware

DRAFT = "draft-ietf-httpapi-ratelimit-headers-11"
_STATE_KEY = "rate_limit"


@dataclass
class RateLimitNote:
    """What the response tells about the limits: every policy, and this request's usage of some."""

    policies: Sequence[RatePolicy]
    usages: list[PolicyUsage] = field(default_factory=list)


def policy_field(policies: Sequence[RatePolicy]) -> str:
    return ", ".join(f'"{policy.name}";q={policy.quota};w={policy.window_seconds}' for policy in policies)


def limit_field(usages: Sequence[PolicyUsage]) -> str:
    return ", ".join(f'"{usage.policy.name}";r={usage.remaining};t={usage.reset_seconds}' for usage in usages)


def note_usage(request: Request, policies: Sequence[RatePolicy], usage: PolicyUsage) -> None:
    note = request.scope.setdefault("state", {}).setdefault(_STATE_KEY, RateLimitNote(policies))
    note.usages.append(usage)


def rate_limit_problem(exceeded: Sequence[PolicyUsage]) -> ProblemError:
    """The 429 for the policies this request went over (``violated-policies``, as the draft's section
    5.1 names that member); ``Retry-After`` is when the last of them has a new window."""
    first = exceeded[0].policy
    what = "calls" if first.name == "default" else "calls that create jobs"
    wait = max(usage.reset_seconds for usage in exceeded)
    return ProblemError(
        429,
        ErrorCode.RATE_LIMIT_EXCEEDED,
        f"This API key made more than {first.quota} {what} in {first.window_seconds} s; "
        f"retry after {wait} s.",
        headers={"Retry-After": str(wait)},
        extra={
            "violated-policies": [usage.policy.name for usage in exceeded],
            "limit": first.quota,
            "window_seconds": first.window_seconds,
        },
    )


class RateLimitHeaders(HttpMiddleware):
    """Add ``RateLimit-Policy`` and ``RateLimit`` to the response of every request that was counted."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_fields(message: Message) -> None:
            note = scope.get("state", {}).get(_STATE_KEY)
            if message["type"] == "http.response.start" and isinstance(note, RateLimitNote) and note.usages:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"ratelimit-policy", policy_field(note.policies).encode()),
                    (b"ratelimit", limit_field(note.usages).encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_fields)


_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": f'The per-key quota policies ({DRAFT}, section 3): `"default";q=3000;w=60, '
        '"jobs";q=600;w=60` (requests per window of seconds). On every authenticated response while '
        "a limit is configured.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": f"What is left of each policy this request counted against ({DRAFT}, section 4): "
        '`"default";r=2999;t=42` (requests remaining, seconds until the window ends).',
        "schema": {"type": "string"},
    },
}
_RETRY_AFTER = {
    "description": "Seconds until the window ends (delay-seconds).",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def document_rate_limits(document: dict[str, Any]) -> None:
    """Every operation that takes an API key answers 429 and carries the two fields on its responses."""
    too_many = problem_responses(
        429, described={429: "Over this key's rate limit (`rate_limit_exceeded`); retry after Retry-After."}
    )[429]
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("429", dict(too_many))
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(_HEADERS)
                if status == "429":
                    headers.setdefault("Retry-After", _RETRY_AFTER)


def install_rate_limit_docs(app: FastAPI) -> None:
    """Wrap the app's OpenAPI builder (``install_problem_schema``'s) so the document says the above."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document_rate_limits(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
