"""Build the worker's long-lived clients once, register workflow + activities, run until signalled.

One process can serve every task queue (the embedded default) or only some roles (``INFRAI_WORKER_ROLES``):
``workflows`` (the workflow plus submit, vendor-cancel and settle), ``poll`` (the long heartbeating vendor
polls, thousands per process) and ``rehost`` (bandwidth-heavy copies into storage, a few per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from accounts.store import AccountStore
from activities.ledger import LedgerActivities
from activities.rehost import RehostActivities
from activities.vendor_tasks import VendorTaskActivities
from core.settings import Settings
from storage import build_storage
from vendors.registry import build_vendors
from workflows.connection import connect
from workflows.video_job import POLL_QUEUE_SUFFIX, REHOST_QUEUE_SUFFIX, VideoJobWorkflow

logger = logging.getLogger(__name__)

ROLES = ("workflows", "poll", "rehost")


def worker_roles(settings: Settings) -> list[str]:
    wanted = [role.strip() for role in settings.worker_roles.split(",") if role.strip()]
    if wanted == ["all"]:
        return list(ROLES)
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown or not wanted:
        raise SystemExit(f"INFRAI_WORKER_ROLES: unknown role(s) {unknown}; use 'all' or some of {ROLES}")
    return wanted


def _http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
    )


def _common(settings: Settings) -> dict[str, object]:
    throttle = timedelta(seconds=settings.worker_max_heartbeat_throttle_seconds)
    return {
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        "max_heartbeat_throttle_interval": throttle,
        "default_heartbeat_throttle_interval": throttle,
    }


async def build_workers(settings: Settings, client: Client, stack: AsyncExitStack) -> list[Worker]:
    """The workers of this process's roles, sharing one set of clients (closed by ``stack``)."""
    roles = worker_roles(settings)
    http = _http_client()
    stack.push_async_callback(http.aclose)
    vendors = build_vendors(settings, http)
    queue = settings.temporal_task_queue
    common = _common(settings)
    workers: list[Worker] = []
    if "workflows" in roles:
        accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
        stack.push_async_callback(accounts.aclose)
        vendor_tasks = VendorTaskActivities(vendors)
        ledger = LedgerActivities(accounts)
        workers.append(
            Worker(
                client,
                task_queue=queue,
                workflows=[VideoJobWorkflow],
                activities=[
                    vendor_tasks.submit_to_vendor,
                    vendor_tasks.cancel_vendor_task,
                    ledger.settle_job,
                ],
                max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
                max_concurrent_activities=200,
                **common,  # type: ignore[arg-type]
            )
        )
    if "poll" in roles:
        polls = VendorTaskActivities(vendors)
        workers.append(
            Worker(
                client,
                task_queue=queue + POLL_QUEUE_SUFFIX,
                activities=[polls.poll_vendor],
                max_concurrent_activities=settings.worker_max_concurrent_activities,
                **common,  # type: ignore[arg-type]
            )
        )
    if "rehost" in roles:
        storage = build_storage(settings)
        stack.push_async_callback(storage.aclose)
        rehost = RehostActivities(vendors, storage, http)
        workers.append(
            Worker(
                client,
                task_queue=queue + REHOST_QUEUE_SUFFIX,
                activities=[rehost.rehost_video],
                max_concurrent_activities=settings.worker_max_concurrent_rehosts,
                **common,  # type: ignore[arg-type]
            )
        )
    logger.info("worker roles %s on %s (queue %s)", ",".join(roles), settings.temporal_address, queue)
    return workers


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); in-flight activities get the graceful timeout."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            loop.add_signal_handler(sig, stop.set)

    async with AsyncExitStack() as stack:
        client = await connect(settings)
        workers = await build_workers(settings, client, stack)
        for worker in workers:
            await stack.enter_async_context(worker)
        await stop.wait()
        grace = settings.worker_graceful_shutdown_seconds
        logger.info("worker stopping: in-flight activities get %ss", grace)
        # All roles at once, so the whole process takes one graceful timeout, not one per role (the exit
        # stack would shut them down one after another).
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        logger.info("worker stopped")
