"""FastAPI dependencies: settings, long-lived clients from the lifespan, and the calling project."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from core.errors import ErrorCode
from core.models import ProjectIdentity
from core.settings import Settings

if TYPE_CHECKING:
    from accounts.store import AccountStore

_bearer = HTTPBearer(auto_error=False, description="A project API key: `Bearer ifr_pk_proj_...`")

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="infrai"'}


async def get_settings(request: Request) -> Settings:  # async: FastAPI runs plain functions in a thread
    settings: Settings = request.app.state.settings
    return settings


def get_accounts(request: Request) -> AccountStore:
    accounts: AccountStore = request.app.state.accounts
    return accounts


async def current_project(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ProjectIdentity:
    """The project of the presented key. Unknown, malformed and revoked keys get the same 401."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ProblemError(
            401,
            ErrorCode.UNAUTHORIZED,
            "Send a project API key as 'Authorization: Bearer ifr_pk_proj_...'.",
            headers=_UNAUTHORIZED_HEADERS,
        )
    identity = await get_accounts(request).authenticate(credentials.credentials)
    if identity is None:
        raise ProblemError(
            401, ErrorCode.UNAUTHORIZED, "The API key is not valid.", headers=_UNAUTHORIZED_HEADERS
        )
    return identity


CurrentProject = Annotated[ProjectIdentity, Depends(current_project)]
AppSettings = Annotated[Settings, Depends(get_settings)]
