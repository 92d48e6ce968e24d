"""Webhook routes: the project's signing secret, the delivery attempts, and redelivery.

``GET /v1/account/webhook-secret`` returns the Standard Webhooks secret (``whsec_...``) every webhook of
the project is signed with; it is made on first use and stays the same, so it can be read again.
``GET /v1/video/jobs/{id}/webhook-deliveries`` lists each attempt (status code, outcome, error), oldest first.
``GET /v1/account/webhook-deliveries`` lists the project's messages across jobs, newest first, a page at a
time (e.g. ``?outcome=failed``: what a receiver that was down missed), and
``POST /v1/video/jobs/{id}/webhook-deliveries/{message_id}/redeliver`` sends one again
(``jobs.webhook_redelivery``). A batch's ``batch.completed`` is listed with the batch id as its ``job_id``,
and both job routes take that id as it is listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from accounts.errors import ProjectNotFound
from accounts.webhook_log import MessageOutcome, WebhookMessageSummary
from api.cursors import CursorCodec, InvalidCursor
from api.deps import AccountsDep, BatchesDep, CurrentProject, CursorsDep, JobsDep, RedeliveriesDep
from api.problems import ProblemError, problem_responses
from api.schemas import IDEMPOTENCY_KEY_PATTERN
from core.errors import ErrorCode
from core.ids import is_batch_id
from jobs.webhook_redelivery import PENDING

router = APIRouter(tags=["webhooks"])

MAX_PAGE = 100
INVALID_CURSOR = "invalid_cursor"


class WebhookSecret(BaseModel):
    secret: str
    scheme: str = "standard-webhooks-v1"


class WebhookDelivery(BaseModel):
    message_id: str
    event: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime | None


class WebhookDeliveries(BaseModel):
    job_id: str
    data: list[WebhookDelivery]


@router.get(
    "/v1/account/webhook-secret",
    responses=problem_responses(
        described={401: "Missing or invalid API key", 503: "Accounts unavailable; retry"}
    ),
)
async def read_webhook_secret(
    project: CurrentProject, accounts: AccountsDep, response: Response
) -> WebhookSecret:
    """The secret that signs this project's webhooks (verify with any Standard Webhooks library)."""
    try:
        secret = await accounts.webhook_secret(project.project_id)
    except ProjectNotFound as error:
        raise ProblemError(404, ErrorCode.NOT_FOUND, "The project no longer exists.") from error
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecret(secret=secret.get_secret_value())


@router.get(
    "/v1/video/jobs/{job_id}/webhook-deliveries",
    responses=problem_responses(
        described={
            401: "Missing or invalid API key",
            404: "No such job (or batch) in this project",
            503: "Temporarily unavailable",
        }
    ),
)
async def list_webhook_deliveries(
    job_id: str, project: CurrentProject, accounts: AccountsDep, jobs: JobsDep, batches: BatchesDep
) -> WebhookDeliveries:
    """Every delivery attempt of the job's webhooks, oldest first (empty without a webhook). A batch id
    (`bat_...`, as the listing across jobs gives it) lists its `batch.completed` attempts."""
    if is_batch_id(job_id):
        await batches.ensure_owned(job_id, project.project_id)
    else:
        await jobs.ensure_owned(job_id, project.project_id)
    attempts = await accounts.webhook_attempts(project.project_id, job_id)
    return WebhookDeliveries(
        job_id=job_id, data=[WebhookDelivery.model_validate(a.model_dump()) for a in attempts]
    )


class WebhookMessageStatus(BaseModel):
    """One webhook message (one ``webhook-id``) of a job, or of a batch, and how its delivery stands."""

    job_id: str = Field(description="The job's id, or the batch's (`bat_...`) for its `batch.completed`.")
    message_id: str = Field(description="The Standard Webhooks `webhook-id` of every attempt.")
    event: str = Field(
        description="The job state change: `running`, `succeeded`, `failed` or `cancelled`; "
        "`batch.completed` for a batch's."
    )
    outcome: MessageOutcome = Field(
        description="`delivered` once any attempt was; `failed` while none was (still retrying, or given up)."
    )
    attempts: int
    last_outcome: str = Field(description="The last attempt's: `delivered`, `failed`, `gone` or `refused`.")
    last_status_code: int | None
    last_error: str | None
    first_attempt_at: datetime
    last_attempt_at: datetime


class WebhookMessageList(BaseModel):
    data: list[WebhookMessageStatus]
    has_more: bool
    next: str | None = Field(None, description="Pass as `after` for the next page; null on the last one.")


class WebhookRedelivery(BaseModel):
    job_id: str
    message_id: str
    event: str
    outcome: str = Field(
        description="The attempt's: `delivered`, `failed`, `gone`, `refused`; `pending` (202) while it runs."
    )
    attempt: int | None = Field(description="Its number among the message's attempts.")
    status_code: int | None
    error: str | None
    requested_at: datetime
    replayed: bool = Field(
        description="True: an earlier redelivery with this Idempotency-Key, not a new one."
    )


def _invalid_cursor() -> ProblemError:
    return ProblemError(
        422, INVALID_CURSOR, "The cursor is not valid for this listing; start again without `after`."
    )


def _cursor(codec: CursorCodec, project_id: str, outcome: MessageOutcome | None, position: int) -> str:
    return codec.encode({"p": project_id, "o": outcome.value if outcome else None, "m": str(position)})


def _position(codec: CursorCodec, project_id: str, outcome: MessageOutcome | None, cursor: str) -> int:
    """The position a cursor names, if it was made for this very listing (same project and outcome)."""
    try:
        fields = codec.decode(cursor)
    except InvalidCursor:
        raise _invalid_cursor() from None
    if (fields.get("p"), fields.get("o")) != (project_id, outcome.value if outcome else None):
        raise _invalid_cursor()
    position = fields.get("m") or ""
    if not position.isdigit():
        raise _invalid_cursor()
    return int(position)


def _status(summary: WebhookMessageSummary) -> WebhookMessageStatus:
    return WebhookMessageStatus.model_validate(summary, from_attributes=True)


@router.get(
    "/v1/account/webhook-deliveries",
    responses=problem_responses(
        described={
            401: "Missing or invalid API key",
            422: "Invalid filter, or a cursor this listing did not issue (`invalid_cursor`)",
            503: "Accounts unavailable; retry",
        }
    ),
)
async def list_project_webhook_messages(
    project: CurrentProject,
    accounts: AccountsDep,
    codec: CursorsDep,
    outcome: Annotated[
        MessageOutcome | None, Query(description="`failed`: not delivered (yet); `delivered`.")
    ] = None,
    after: Annotated[str | None, Query(description="The `next` cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> WebhookMessageList:
    """The project's webhook messages across jobs, newest first (by first attempt), a page at a time."""
    before = _position(codec, project.project_id, outcome, after) if after else None
    page = await accounts.webhook_log().messages(
        project.project_id, outcome=outcome, before=before, limit=limit
    )
    last = page.messages[-1].position if page.messages else None
    return WebhookMessageList(
        data=[_status(message) for message in page.messages],
        has_more=page.has_more,
        next=_cursor(codec, project.project_id, outcome, last)
        if page.has_more and last is not None
        else None,
    )


@router.post(
    "/v1/video/jobs/{job_id}/webhook-deliveries/{message_id}/redeliver",
    responses={
        202: {
            "model": WebhookRedelivery,
            "description": "Sent; the receiver had not answered within the wait (`outcome: pending`)",
        },
        **problem_responses(
            described={
                401: "Missing or invalid API key",
                404: "No such job, batch or message in this project",
                409: "A redelivery of this message is in progress (`redelivery_in_progress`)",
                422: "Invalid Idempotency-Key",
                503: "Temporarily unavailable",
            }
        ),
    },
)
async def redeliver_webhook(
    job_id: str,
    message_id: str,
    project: CurrentProject,
    redeliveries: RedeliveriesDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)
    ] = None,
) -> WebhookRedelivery:
    """Send the message again, once, to the job's webhook URL: the same `webhook-id` and body, signed now.
    A batch's `batch.completed` is sent again by its batch id (`bat_...`, the listing's `job_id` for it).

    Answers with the attempt's outcome (200), or 202 `pending` when the receiver is slow. A second request
    while one runs is `409 redelivery_in_progress`, unless it repeats that one's `Idempotency-Key`: then it
    is answered with that redelivery (`replayed: true`), as is a repeat after it ended.
    """
    done = await redeliveries.redeliver(job_id, message_id, project.project_id, idempotency_key)
    if done.outcome == PENDING:
        response.status_code = 202
    return WebhookRedelivery.model_validate(done, from_attributes=True)
