"""Webhook routes: the project's signing secret, and the delivery attempts of a job's webhooks.

``GET /v1/account/webhook-secret`` returns the Standard Webhooks secret (``whsec_...``) every webhook of
the project is signed with; it is made on first use and stays the same, so it can be read again.
``GET /v1/video/jobs/{id}/webhook-deliveries`` lists each attempt (status code, outcome, error), oldest first.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from accounts.errors import ProjectNotFound
from api.deps import AccountsDep, CurrentProject, JobsDep
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode

router = APIRouter(tags=["webhooks"])


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
            404: "No such job in this project",
            503: "Temporarily unavailable",
        }
    ),
)
async def list_webhook_deliveries(
    job_id: str, project: CurrentProject, accounts: AccountsDep, jobs: JobsDep
) -> WebhookDeliveries:
    """Every delivery attempt of the job's webhooks, oldest first (empty without a webhook)."""
    await jobs.ensure_owned(job_id, project.project_id)
    attempts = await accounts.webhook_attempts(project.project_id, job_id)
    return WebhookDeliveries(
        job_id=job_id, data=[WebhookDelivery.model_validate(a.model_dump()) for a in attempts]
    )
