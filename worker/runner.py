"""Build the worker's long-lived clients once, register workflow + activities, run until signalled.

One process can serve every task queue (the embedded default) or only some roles (``INFRAI_WORKER_ROLES``):
``workflows`` (the job and webhook-delivery workflows plus submit, vendor-cancel, settle and webhook
delivery), ``poll`` (the long heartbeating vendor polls, thousands per process) and ``rehost``
(bandwidth-heavy copies into storage, a few per process).

Observability: every activity goes through ``ActivityObserver`` (metrics, job id and vendor on log lines);
``INFRAI_WORKER_METRICS_PORT`` serves those metrics and ``INFRAI_TEMPORAL_METRICS_PORT`` the SDK's own
(task latencies, slots, pollers) from the SDK runtime; ``OTEL_TRACES_EXPORTER`` turns tracing on.

A ``workflows`` worker also runs ``Housekeeping`` and creates (or updates) its schedule at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    Interceptor,
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    Worker,
    WorkerDeploymentConfig,
)

from accounts.store import AccountStore
from activities.housekeeping import HousekeepingActivities
from activities.ledger import LedgerActivities
from activities.reference_images import ReferenceImages
from activities.rehost import RehostActivities
from activities.vendor_submit import VendorSubmitActivities
from activities.vendor_tasks import VendorTaskActivities
from activities.webhooks import WebhookActivities
from core.settings import Settings
from observability.activity_metrics import ActivityObserver, WorkerMetrics
from observability.tracing import configure_tracing
from storage import build_storage
from vendors.registry import build_vendors
from workflows.connection import connect
from workflows.housekeeping import HousekeepingWorkflow, ensure_housekeeping_schedule
from workflows.video_job import POLL_QUEUE_SUFFIX, REHOST_QUEUE_SUFFIX, VideoJobWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

logger = logging.getLogger(__name__)

ROLES = ("workflows", "poll", "rehost")
# What the "workflows" role runs; the rolling-upgrade tests start a worker with a next release's variant.
JOB_WORKFLOWS: tuple[type, ...] = (VideoJobWorkflow, WebhookDeliveryWorkflow)


def worker_roles(settings: Settings) -> list[str]:
    wanted = [role.strip() for role in settings.worker_roles.split(",") if role.strip()]
    if wanted == ["all"]:
        return list(ROLES)
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown or not wanted:
        raise SystemExit(f"INFRAI_WORKER_ROLES: unknown role(s) {unknown}; use 'all' or some of {ROLES}")
    return wanted


def vendor_http_client() -> httpx.AsyncClient:
    """The HTTP client of vendor calls and of rehost downloads (one per worker process)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
    )


def _webhook_client() -> httpx.AsyncClient:
    # Redirects are not followed (a redirect could lead anywhere the SSRF guard never saw) and proxies
    # from the environment are not used (the POST must go to the address the guard vetted).
    return httpx.AsyncClient(
        follow_redirects=False, trust_env=False, limits=httpx.Limits(max_connections=200)
    )


def _pollers(settings: Settings, maximum: int) -> PollerBehavior:
    if settings.worker_poller_autoscaling:
        return PollerBehaviorAutoscaling(minimum=1, maximum=maximum, initial=min(5, maximum))
    return PollerBehaviorSimpleMaximum(maximum=maximum)


def _common(settings: Settings, interceptors: Sequence[Interceptor]) -> dict[str, object]:
    throttle = timedelta(seconds=settings.worker_max_heartbeat_throttle_seconds)
    return {
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        "max_heartbeat_throttle_interval": throttle,
        "default_heartbeat_throttle_interval": throttle,
        "interceptors": interceptors,
        "workflow_task_poller_behavior": _pollers(settings, settings.worker_workflow_task_pollers),
        "activity_task_poller_behavior": _pollers(settings, settings.worker_activity_task_pollers),
        "deployment_config": deployment_config(settings),
    }


def deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    """This build's version, always reported; with versioning on, running jobs follow the current version
    (auto-upgrade), so a workflow change still needs ``workflow.patched`` (docs/operations/deploys.md)."""
    version = WorkerDeploymentVersion(settings.deployment_name, settings.build_id)
    if not settings.worker_versioning:
        return WorkerDeploymentConfig(version=version, use_worker_versioning=False)
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


async def build_workers(
    settings: Settings,
    client: Client,
    stack: AsyncExitStack,
    *,
    interceptors: Sequence[Interceptor] = (),
    workflows: Sequence[type] = JOB_WORKFLOWS,
    extra_activities: Sequence[Callable[..., object]] = (),
) -> list[Worker]:
    """The workers of this process's roles, sharing one set of clients (closed by ``stack``)."""
    roles = worker_roles(settings)
    http = vendor_http_client()
    stack.push_async_callback(http.aclose)
    vendors = build_vendors(settings, http)
    queue = settings.temporal_task_queue
    common = _common(settings, interceptors)
    workers: list[Worker] = []
    if "workflows" in roles:
        accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
        stack.push_async_callback(accounts.aclose)
        storage = build_storage(settings)  # submit hands vendors the jobs' stored reference images
        stack.push_async_callback(storage.aclose)
        references = ReferenceImages(storage, settings.media_url_ttl_seconds)
        submits = VendorSubmitActivities(vendors, accounts.submit_journal(), references)
        vendor_tasks = VendorTaskActivities(vendors)
        ledger = LedgerActivities(accounts)
        webhook_http = _webhook_client()
        stack.push_async_callback(webhook_http.aclose)
        webhooks = WebhookActivities(accounts, webhook_http, settings)
        housekeeping = HousekeepingActivities(client, accounts, storage, settings)
        workers.append(
            Worker(
                client,
                task_queue=queue,
                workflows=[*workflows, HousekeepingWorkflow],
                activities=[
                    submits.submit_to_vendor,
                    vendor_tasks.stop_vendor_task,
                    vendor_tasks.cancel_vendor_task,
                    ledger.settle_job,
                    webhooks.deliver_webhook,
                    housekeeping.handle_stuck_jobs,
                    housekeeping.release_stranded_holds,
                    housekeeping.expire_media,
                    *extra_activities,
                ],
                max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
                max_cached_workflows=settings.worker_max_cached_workflows,
                max_concurrent_activities=settings.worker_max_concurrent_job_activities,
                **common,  # type: ignore[arg-type]
            )
        )
        if settings.housekeeping_interval_seconds > 0:  # once per cluster: a Temporal Schedule
            every = timedelta(seconds=settings.housekeeping_interval_seconds)
            await ensure_housekeeping_schedule(client, queue, every)
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
    logger.info(
        "worker roles %s on %s (queue %s, build %s%s)",
        ",".join(roles),
        settings.temporal_address,
        queue,
        settings.build_id,
        f", versioned in deployment {settings.deployment_name}" if settings.worker_versioning else "",
    )
    return workers


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    workflows: Sequence[type] = JOB_WORKFLOWS,
    extra_activities: Sequence[Callable[..., object]] = (),
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); in-flight activities get the graceful timeout."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            loop.add_signal_handler(sig, stop.set)

    async with AsyncExitStack() as stack:
        tracer_provider = configure_tracing(settings, "infrai-worker")
        if tracer_provider is not None:
            stack.callback(tracer_provider.shutdown)  # flushes the spans still batched
        metrics = WorkerMetrics()
        serve_metrics(settings, metrics, stack)
        client = await connect(settings, runtime=sdk_runtime(settings))
        workers = await build_workers(
            settings,
            client,
            stack,
            interceptors=[ActivityObserver(metrics)],
            workflows=workflows,
            extra_activities=extra_activities,
        )
        for worker in workers:
            await stack.enter_async_context(worker)
        if settings.worker_graceful_shutdown_seconds < settings.submit_timeout_seconds:
            logger.warning(
                "INFRAI_WORKER_GRACEFUL_SHUTDOWN_SECONDS (%s) is shorter than a submit (%s s): a SIGTERM can "
                "cut one off, and its job then fails unbilled rather than risk a second vendor task",
                settings.worker_graceful_shutdown_seconds,
                settings.submit_timeout_seconds,
            )
        await stop.wait()
        grace = settings.worker_graceful_shutdown_seconds
        logger.info("worker stopping: in-flight activities get %ss", grace)
        # All roles at once, so the whole process takes one graceful timeout, not one per role (the exit
        # stack would shut them down one after another).
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        logger.info("worker stopped")


def sdk_runtime(settings: Settings) -> Runtime | None:
    """A runtime whose Prometheus endpoint serves the SDK's metrics; None keeps the default runtime."""
    if not settings.temporal_metrics_port:
        return None
    address = f"{settings.metrics_host}:{settings.temporal_metrics_port}"
    # Seconds and the usual suffixes, like our own metrics, so one dashboard reads both the same way.
    prometheus = PrometheusConfig(
        bind_address=address, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def serve_metrics(settings: Settings, metrics: WorkerMetrics, stack: AsyncExitStack) -> None:
    if not settings.worker_metrics_port:
        return
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.metrics_host, registry=metrics.registry
    )
    stack.callback(thread.join, 5)
    stack.callback(server.shutdown)
    logger.info(
        "activity metrics on http://%s:%s/metrics", settings.metrics_host, settings.worker_metrics_port
    )
