"""Account routes: anonymous activation, the account view, and key rotation.

- ``POST /v1/accounts/activate`` needs no credentials: it creates a project with trial credits and
  returns its API key, the only time the key is ever shown. Rate-limited per client address
  (``INFRAI_ACTIVATE_RATE_LIMIT_PER_HOUR``; an IPv6 caller counts by its /64, an IPv4 caller by its
  address) and for all callers together (``INFRAI_ACTIVATE_GLOBAL_LIMIT_PER_HOUR``), both ``429`` +
  ``Retry-After``; behind a proxy run uvicorn with ``--forwarded-allow-ips`` so the address is the
  caller's, not the proxy's.
- ``GET /v1/account``: balance, held and available credits, usage totals, the project's keys.
- ``POST /v1/account/keys`` mints another key; ``DELETE /v1/account/keys/{key_id}`` revokes one. Revoking
  the key making the request is allowed (rotation from the old key). Revoking the project's last active
  key is refused with ``409 last_active_key``: anonymous projects have no other way back in, so doing it
  would strand their credits; create the new key first.

Money is a JSON string with 2-6 decimals (``"5.00"``). A DB outage anywhere (auth included) is ``503`` +
``Retry-After`` and ``InsufficientCredits`` is ``402 insufficient_credits``: ``api.domain_problems``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from accounts.errors import (
    ActivationRateLimited,
    LastActiveKey,
    ProjectNotFound,
)
from api.account_schemas import UsdAmount
from api.deps import AccountsDep, CurrentProject
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode

LAST_ACTIVE_KEY = "last_active_key"
_NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a key must not sit in any cache


_AUTH_PROBLEMS = problem_responses(
    401, 503, described={503: "The accounts database is unavailable; retry after Retry-After seconds."}
)


router = APIRouter(tags=["accounts"])


class ActivationResponse(BaseModel):
    project_id: str
    key_id: str
    api_key: str
    balance_usd: UsdAmount
    trial_credits_usd: UsdAmount


class UsageResponse(BaseModel):
    jobs_charged: int
    charged_usd: UsdAmount


class KeyResponse(BaseModel):
    key_id: str
    created_at: datetime
    revoked_at: datetime | None


class AccountResponse(BaseModel):
    project_id: str
    balance_usd: UsdAmount
    held_usd: UsdAmount
    available_usd: UsdAmount
    usage: UsageResponse
    keys: list[KeyResponse]


class NewKeyResponse(BaseModel):
    key_id: str
    api_key: str


@router.post(
    "/v1/accounts/activate",
    status_code=201,
    responses=problem_responses(
        429,
        503,
        described={
            429: "Too many activations from this address (IPv6: its /64), or from everyone this hour; "
            "retry after Retry-After."
        },
    ),
)
async def activate_account(request: Request, response: Response, accounts: AccountsDep) -> ActivationResponse:
    """Create a project with trial credits. The returned ``api_key`` is shown this once only."""
    client_address = request.client.host if request.client else "unknown"
    try:
        activation = await accounts.activate_anonymous(client_address)
    except ActivationRateLimited as error:
        detail = (
            "Too many accounts activated from this address; try again later."
            if error.scope == "address"
            else "Trial activations are paused for everyone this hour; try again later."
        )
        raise ProblemError(
            429,
            ErrorCode.RATE_LIMIT_EXCEEDED,
            detail,
            headers={"Retry-After": str(error.retry_after_seconds)},
            extra={"limit_scope": error.scope},
        ) from error
    response.headers.update(_NO_STORE)
    return ActivationResponse(
        project_id=activation.project_id,
        key_id=activation.key_id,
        api_key=activation.api_key.get_secret_value(),
        balance_usd=activation.balance_usd,
        trial_credits_usd=activation.trial_credits_usd,
    )


@router.get("/v1/account", responses=_AUTH_PROBLEMS)
async def read_account(project: CurrentProject, accounts: AccountsDep) -> AccountResponse:
    try:
        view = await accounts.account(project.project_id)
    except ProjectNotFound as error:
        raise ProblemError(404, ErrorCode.NOT_FOUND, "The project no longer exists.") from error
    return AccountResponse(
        project_id=view.project_id,
        balance_usd=view.balance_usd,
        held_usd=view.held_usd,
        available_usd=view.available_usd,
        usage=UsageResponse(jobs_charged=view.usage.jobs_charged, charged_usd=view.usage.charged_usd),
        keys=[KeyResponse.model_validate(key.model_dump()) for key in view.keys],
    )


@router.post("/v1/account/keys", status_code=201, responses=_AUTH_PROBLEMS)
async def create_key(project: CurrentProject, response: Response, accounts: AccountsDep) -> NewKeyResponse:
    """Mint another key for the project (for rotation). Shown this once only."""
    try:
        new_key = await accounts.create_key(project.project_id)
    except ProjectNotFound as error:
        raise ProblemError(404, ErrorCode.NOT_FOUND, "The project no longer exists.") from error
    response.headers.update(_NO_STORE)
    return NewKeyResponse(key_id=new_key.key_id, api_key=new_key.api_key.get_secret_value())


@router.delete(
    "/v1/account/keys/{key_id}",
    status_code=204,
    responses=problem_responses(
        401,
        404,
        409,
        422,
        503,
        described={
            404: "The project has no key with this id.",
            409: "The key is the project's last active key.",
        },
    ),
)
async def revoke_key(key_id: str, project: CurrentProject, accounts: AccountsDep) -> Response:
    """Revoke one of the project's keys; revoking an already revoked key is a no-op."""
    try:
        found = await accounts.revoke_key(project.project_id, key_id)
    except LastActiveKey as error:
        raise ProblemError(
            409,
            LAST_ACTIVE_KEY,
            "This is the project's last active key; create a new key before revoking it.",
        ) from error
    if not found:
        raise ProblemError(404, ErrorCode.NOT_FOUND, f"No key {key_id!r} in this project.")
    return Response(status_code=204)
