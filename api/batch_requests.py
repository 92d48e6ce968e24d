"""A batch request as the jobs layer takes it (``jobs.batches.BatchRequest``): its items parsed as generate
requests are, its one idempotency key read from the body or the ``Idempotency-Key`` header."""

from __future__ import annotations

from starlette.datastructures import Headers

from api.batch_schemas import BatchCreateRequest
from api.job_requests import idempotency_key, job_request
from api.problems import ProblemError
from core.errors import ErrorCode
from jobs.batches import BatchRequest

_NO_HEADERS = Headers()


def batch_request(body: BatchCreateRequest, headers: Headers) -> BatchRequest:
    """What ``body`` asks for; a 422 problem for a bad key, or items that carry keys of their own."""
    keyed = [index for index, item in enumerate(body.items) if item.idempotency_key is not None]
    if keyed:
        raise ProblemError(
            422,
            ErrorCode.INVALID_INPUT,
            f"Items carry no idempotency_key (the batch's key covers them all): items {keyed}.",
            extra={"items": [{"index": index, "code": ErrorCode.INVALID_INPUT} for index in keyed]},
        )
    return BatchRequest(
        items=[job_request(item, _NO_HEADERS) for item in body.items],
        fingerprint=body.fingerprint(),
        idempotency_key=idempotency_key(body, headers),
        webhook_url=body.webhook_url,
    )
