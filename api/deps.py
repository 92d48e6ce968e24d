"""FastAPI dependencies: settings, the long-lived services of the lifespan, and the calling project.

Routes take them as ``Annotated`` aliases (``JobsDep``, ``AccountsDep``, ``SettingsDep``, ...), never from
``request.app.state``. The app keeps one ``api.app_services.Services`` at ``app.state.services``; an app that
mounts a router alone (its tests) may put just the parts it needs on ``app.state`` under the same names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accounts.errors import AccountsUnavailable
from accounts.rate_limits import DEFAULT_POLICY, JOBS_POLICY, RateLimiter
from accounts.store import AccountStore
from api.app_services import Services
from api.cursors import CursorCodec
from api.media_links import MediaLinks
from api.problems import ProblemError
from api.rate_limits import note_usage, rate_limit_problem
from core.errors import ErrorCode
from core.models import ProjectIdentity
from core.settings import Settings
from jobs.batches import BatchService
from jobs.creation import JobCreator
from jobs.etas import EtaBoard
from jobs.listing import JobLister
from jobs.service import JobService
from jobs.watching import JobWatchHub
from jobs.webhook_redelivery import WebhookRedeliveries
from observability.http import ApiMetrics
from observability.stuck_jobs import StuckJobWatch
from storage import MediaStorage
from vendors.catalog import Catalog, load_catalog

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A project API key: `Bearer ifr_pk_proj_...`")

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="infrai"'}


def _part(request: Request, name: str) -> Any:
    services = getattr(request.app.state, "services", None)
    return getattr(services if services is not None else request.app.state, name)


# async throughout: FastAPI runs plain functions in a thread.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_settings(request: Request) -> Settings:
    settings: Settings = _part(request, "settings")
    return settings


def get_accounts(request: Request) -> AccountStore:  # plain: also called directly, as in current_project
    accounts: AccountStore = _part(request, "accounts")
    return accounts


async def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = _part(request, "storage")
    return storage


async def get_links(request: Request) -> MediaLinks:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is not None:
        return services.links
    return MediaLinks(await get_storage(request), (await get_settings(request)).media_url_ttl_seconds)


async def get_etas(request: Request) -> EtaBoard:
    etas: EtaBoard = _part(request, "etas")
    return etas


async def get_catalog(request: Request) -> Catalog:
    services: Services | None = getattr(request.app.state, "services", None)
    return services.catalog if services is not None else load_catalog()


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AccountsDep = Annotated[AccountStore, Depends(get_accounts)]
StorageDep = Annotated[MediaStorage, Depends(get_storage)]
MediaLinksDep = Annotated[MediaLinks, Depends(get_links)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
EtasDep = Annotated[EtaBoard, Depends(get_etas)]


_T = TypeVar("_T")


def _from_services(read: Callable[[Services], _T]) -> Callable[[Services], Awaitable[_T]]:
    """A dependency answering one part of the app's ``Services``."""

    async def dependency(services: ServicesDep) -> _T:
        return read(services)

    return dependency


def job_creator(services: Services) -> JobCreator:
    """Made per request (it only holds references), so it always uses the services as they are now."""
    return JobCreator(
        services.jobs,
        services.accounts,
        services.storage,
        services.catalog,
        services.configured,
        services.settings,
    )


async def get_creator(services: ServicesDep) -> JobCreator:
    return job_creator(services)


async def get_batches(
    services: ServicesDep, creator: Annotated[JobCreator, Depends(get_creator)]
) -> BatchService:
    return BatchService(
        creator,
        services.temporal,
        services.settings.temporal_task_queue,
        timedelta(seconds=services.settings.temporal_rpc_timeout_seconds),
    )


JobsDep = Annotated[JobService, Depends(_from_services(lambda services: services.jobs))]
WatchesDep = Annotated[JobWatchHub, Depends(_from_services(lambda services: services.watches))]
ListerDep = Annotated[JobLister, Depends(_from_services(lambda services: services.lister))]
CursorsDep = Annotated[CursorCodec, Depends(_from_services(lambda services: services.cursors))]
RedeliveriesDep = Annotated[
    WebhookRedeliveries, Depends(_from_services(lambda services: services.redeliveries))
]
StuckJobsDep = Annotated[StuckJobWatch, Depends(_from_services(lambda services: services.stuck_jobs))]
MetricsDep = Annotated[ApiMetrics, Depends(_from_services(lambda services: services.metrics))]
CreatorDep = Annotated[JobCreator, Depends(get_creator)]
BatchesDep = Annotated[BatchService, Depends(get_batches)]


async def authenticated_project(
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


async def _charge(request: Request, project: ProjectIdentity, *policies: str) -> None:
    # The limiter read here rather than as a dependency of its own: every authorised call pays for each.
    limiter: RateLimiter = _part(request, "limiter")
    try:
        usages = await limiter.charge(project.key_id, *policies)  # none when the limits are off
    except AccountsUnavailable:
        # Fail open: a key verified from the cache may still read its jobs while the accounts DB is away
        # (a generate meets the DB again at its credit hold); this answer just carries no limit fields.
        logger.warning("rate-limit count skipped: the accounts database is unavailable")
        return
    for usage in usages:
        note_usage(request, limiter.policies, usage)
    exceeded = [usage for usage in usages if usage.exceeded]
    if exceeded:
        raise rate_limit_problem(exceeded)


AuthenticatedProject = Annotated[ProjectIdentity, Depends(authenticated_project)]


async def current_project(request: Request, project: AuthenticatedProject) -> ProjectIdentity:
    """The calling project, once its key's request counted against the ``default`` limit (429 past it)."""
    await _charge(request, project, DEFAULT_POLICY)
    return project


CurrentProject = Annotated[ProjectIdentity, Depends(current_project)]


@dataclass
class CountedRead:
    """The calling project of a read, its request still being counted against the ``default`` limit.

    A read changes nothing, so it need not wait for the count: ``read`` runs it meanwhile and hands back its
    result once the count has let the request through. Past the limit the answer is the 429, whatever the
    read found, and a read still going (a ``Prefer: wait``) is stopped there and then."""

    project: ProjectIdentity
    _count: asyncio.Task[None]

    async def read(self, reading: Coroutine[Any, Any, _T]) -> _T:
        answer = asyncio.ensure_future(reading)
        try:
            await self._count
        except BaseException:
            answer.cancel()
            await asyncio.wait([answer])
            if not answer.cancelled():
                answer.exception()  # retrieved: the 429 (or the outage) is the answer, not this
            raise
        return await answer


async def counted_read(request: Request, project: AuthenticatedProject) -> CountedRead:
    """``current_project`` for a read that may run while its request is counted (``CountedRead``)."""
    return CountedRead(project, asyncio.create_task(_charge(request, project, DEFAULT_POLICY)))


ReadingProject = Annotated[CountedRead, Depends(counted_read)]


async def job_creating_project(request: Request, project: AuthenticatedProject) -> ProjectIdentity:
    """``current_project`` for calls that create jobs: they count against the ``jobs`` limit too, both
    counts in one statement (routes taking this must not also take ``CurrentProject``)."""
    await _charge(request, project, DEFAULT_POLICY, JOBS_POLICY)
    return project


JobCreatingProject = Annotated[ProjectIdentity, Depends(job_creating_project)]
