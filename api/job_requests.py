"""A generate request as the jobs layer takes it (``jobs.creation.JobRequest``), with its one idempotency
key read from the body or the ``Idempotency-Key`` header, and its one deadline from the body or the
``Cancel-After`` header (shared by every API dialect that makes jobs)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol

from fastapi import Header
from starlette.datastructures import Headers

from api.deadlines import CANCEL_AFTER, CANCEL_AFTER_DESCRIPTION, requested_deadline
from api.problems import ProblemError
from api.schemas import DEFAULT_DURATION_SECONDS, IDEMPOTENCY_KEY_PATTERN, GenerateRequest
from core.errors import ErrorCode
from core.models import VideoSpec
from jobs.creation import JobRequest

# A route's ``Idempotency-Key`` parameter, declared for the OpenAPI document: ``idempotency_key`` reads
# every copy that was sent.
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


def _optional_header(name: str, description: str | None = None) -> dict[str, Any]:
    """An optional string header as FastAPI documents a ``str | None`` ``Header`` parameter."""
    schema: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    if description is None:
        return {"name": name, "in": "header", "required": False, "schema": {**schema, "title": name}}
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {**schema, "description": description, "title": name},
        "description": description,
    }


# ``Idempotency-Key`` and ``Cancel-After`` as ``openapi_extra`` of a route that makes jobs: the same document
# as the two ``Header`` parameters, without FastAPI extracting and validating on every call two values
# that ``job_request`` reads (every copy sent) anyway.
JOB_HEADERS_OPENAPI: dict[str, Any] = {
    "parameters": [
        _optional_header("Idempotency-Key"),
        _optional_header(CANCEL_AFTER, CANCEL_AFTER_DESCRIPTION),
    ]
}


class _Keyed(Protocol):
    @property
    def idempotency_key(self) -> str | None: ...


def idempotency_key(body: _Keyed, headers: Headers) -> str | None:
    sent = headers.getlist("idempotency-key")
    if len(sent) > 1:
        # Proxies disagree on which of several copies counts; one of them could start a second job.
        raise ProblemError(422, ErrorCode.INVALID_INPUT, "Send one Idempotency-Key header, not several.")
    header = sent[0] if sent else None
    if header is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, header):
        raise ProblemError(
            422, ErrorCode.INVALID_INPUT, "Idempotency-Key must be 1-255 chars of [A-Za-z0-9._:-]."
        )
    if header and body.idempotency_key and header != body.idempotency_key:
        raise ProblemError(
            422, ErrorCode.INVALID_INPUT, "The Idempotency-Key header and the idempotency_key field differ."
        )
    return body.idempotency_key or header


def job_request(body: GenerateRequest, headers: Headers) -> JobRequest:
    """What ``body`` (and the request's headers) ask the jobs layer for; a 422 problem for a bad key."""
    key = idempotency_key(body, headers)
    deadline = requested_deadline(body.deadline_seconds, headers)
    # The deadline is part of what the key names, however it was sent (field or Cancel-After header).
    fingerprint = body.model_copy(update={"deadline_seconds": deadline}).fingerprint()
    spec = VideoSpec(
        prompt=body.prompt,
        reference_image_url=body.reference_image_url,
        duration_seconds=body.duration_seconds or DEFAULT_DURATION_SECONDS,
        aspect=body.aspect,
        resolution=body.resolution,
    )
    return JobRequest(
        spec=spec,
        fingerprint=fingerprint,
        prefer=body.prefer,
        vendor=body.vendor,
        model=body.model,
        idempotency_key=key,
        webhook_url=body.webhook_url,
        webhook_events=tuple(body.webhook_events) if body.webhook_events is not None else None,
        deadline_seconds=deadline,
    )
