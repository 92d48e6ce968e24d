"""``/v1/video/batches``: many generate requests at once, held whole or not at all; status and cancel.

Each item is an ordinary job (``/v1/video/jobs/{job_id}`` shows and cancels it too); the batch adds one
idempotency key, one credit check, per-state counts, one cancel and one ``batch.completed`` webhook.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.batch_requests import batch_request
from api.batch_schemas import BatchCreateRequest, VideoBatch, present_batch
from api.deps import BatchesDep, CurrentProject, JobCreatingProject, MediaLinksDep
from api.domain_problems import REFUSED_HOLDS, refused_hold_problem
from api.job_requests import IdempotencyKeyHeader
from api.problems import answer_created, idempotent_create, problem_responses

router = APIRouter(prefix="/v1/video/batches", tags=["batches"])

_ERRORS = problem_responses(401, 404, 422, 503)
_CREATE_ERRORS = problem_responses(
    400, 401, 402, 404, 409, 413, 422, 429, 503,
    described={
        402: "The balance (`insufficient_credits`) or a spend cap of the project or key (`budget_exceeded`) "
        "does not cover every item: nothing was held or started",
        409: "Idempotency key reused with a different batch",
        422: "Invalid body, more than 100 items, or items refused (`items` names each index)",
        429: "Over this key's rate limit (`rate_limit_exceeded`; a batch counts as one request against the "
        "`jobs` policy), or the items would take the project or key past its concurrency cap "
        "(`concurrency_limit_exceeded`): nothing was held or started",
    },
)  # fmt: skip


@router.post("", **idempotent_create(VideoBatch, "batch", _CREATE_ERRORS))
async def create_batch(
    body: BatchCreateRequest,
    request: Request,
    response: Response,
    project: JobCreatingProject,
    batches: BatchesDep,
    links: MediaLinksDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> VideoBatch:
    """Start up to 100 jobs as one batch (202 + Location): every item is checked, then every item's
    credits are held at once (all or none: 402), then each starts as an ordinary job. The same key and
    body return the existing batch (200); a retry after a failure finishes starting it."""
    del idempotency_key  # declared for the OpenAPI document; read below with every copy it was sent in
    try:
        batch = await batches.create(batch_request(body, request.headers), project.project_id, project.key_id)
    except REFUSED_HOLDS as exc:
        raise refused_hold_problem(exc, what="batch") from None
    answer_created(response, f"/v1/video/batches/{batch.batch_id}", created=batch.created)
    return present_batch(batch, links)


@router.get("/{batch_id}", response_model=VideoBatch, responses=_ERRORS)
async def get_batch(
    batch_id: str, project: CurrentProject, batches: BatchesDep, links: MediaLinksDep
) -> VideoBatch:
    """Every item with its job's state, and how many items are in each state."""
    batch = await batches.status(batch_id, project.project_id)
    return present_batch(batch, links)


@router.post("/{batch_id}/cancel", response_model=VideoBatch, responses=_ERRORS)
async def cancel_batch(
    batch_id: str, project: CurrentProject, batches: BatchesDep, links: MediaLinksDep
) -> VideoBatch:
    """Cancel every unfinished item (each through the normal job cancel); the batch as it is then."""
    batch = await batches.cancel(batch_id, project.project_id)
    return present_batch(batch, links)
