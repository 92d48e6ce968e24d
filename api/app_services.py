"""The long-lived clients and services of one API process, built once in the lifespan (``open_services``)
and handed to routes through ``api.deps``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client

from accounts.rate_limits import DEFAULT_POLICY, JOBS_POLICY, MemoryCounter, RateLimiter, RatePolicy
from accounts.store import AccountStore
from api.cursors import CursorCodec
from api.media_links import MediaLinks
from core.settings import Settings
from jobs.etas import EtaBoard
from jobs.listing import JobLister
from jobs.service import JobService
from jobs.watching import JobWatchHub
from jobs.webhook_redelivery import WebhookRedeliveries
from observability.http import ApiMetrics
from observability.stuck_jobs import StuckJobWatch
from storage import MediaStorage, build_storage
from storage.build import installation_secret
from vendors.catalog import Catalog, load_catalog
from vendors.registry import configured_vendors
from workflows.connection import connect


@dataclass(frozen=True)
class Services:
    settings: Settings
    temporal: Client
    storage: MediaStorage
    links: MediaLinks  # the signed URLs presented jobs carry, minted by ``storage``
    accounts: AccountStore
    catalog: Catalog
    configured: set[str]  # vendor ids with their keys set (routable)
    jobs: JobService
    etas: EtaBoard
    watches: JobWatchHub
    lister: JobLister
    cursors: CursorCodec
    redeliveries: WebhookRedeliveries
    stuck_jobs: StuckJobWatch
    metrics: ApiMetrics
    limiter: RateLimiter


def _rate_limiter(settings: Settings, accounts: AccountStore) -> RateLimiter:
    window = settings.rate_limit_window_seconds
    policies = [
        RatePolicy(DEFAULT_POLICY, settings.rate_limit_requests, window),
        RatePolicy(JOBS_POLICY, settings.rate_limit_job_creations, window),
    ]
    counter = accounts.request_counter() if settings.rate_limit_store == "database" else MemoryCounter()
    return RateLimiter(policies, counter)


async def open_services(settings: Settings, metrics: ApiMetrics) -> Services:
    client = await connect(settings, lazy=True)
    storage = build_storage(settings)
    accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
    if settings.dev_api_key is not None:
        await accounts.ensure_dev_project(settings.dev_api_key.get_secret_value(), settings.dev_credits_usd)
    jobs = JobService(
        client,
        settings.temporal_task_queue,
        query_timeout=timedelta(seconds=settings.status_query_timeout_seconds),
        metrics=metrics,
        tombstones=accounts,
        rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds),
        cancel_wait=timedelta(seconds=settings.cancel_wait_seconds),
    )
    catalog = load_catalog()
    return Services(
        settings=settings,
        temporal=client,
        storage=storage,
        links=MediaLinks(storage, settings.media_url_ttl_seconds),
        accounts=accounts,
        catalog=catalog,
        configured=configured_vendors(settings),
        jobs=jobs,
        etas=EtaBoard(accounts.vendor_timings(), catalog, settings),
        watches=JobWatchHub(jobs, settings.job_watch_interval_seconds),
        lister=JobLister(client, jobs),
        cursors=CursorCodec(installation_secret(settings)),
        redeliveries=WebhookRedeliveries(
            client,
            jobs,
            accounts,
            settings.temporal_task_queue,
            rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds),
        ),
        # Stranded holds are released by the Housekeeping schedule (workflows/housekeeping.py), not here.
        stuck_jobs=StuckJobWatch(client, settings.temporal_task_queue),
        metrics=metrics,
        limiter=_rate_limiter(settings, accounts),
    )


async def close_services(services: Services) -> None:
    await services.watches.aclose()
    await services.accounts.aclose()
    await services.storage.aclose()
