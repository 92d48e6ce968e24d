"""Which workers a process runs (``INFRAI_WORKER_ROLES``), and how each role's worker is built.

``workflows``: the job, webhook-delivery and batch workflows plus submit, vendor-cancel, settle, webhook
delivery and the batch's wait for its items, and ``Housekeeping`` with its schedule; ``poll``: the long
heartbeating vendor polls, thousands per process; ``rehost``: bandwidth-heavy copies into storage, a few per
process. Every role shares the process's clients, built once here and closed by the caller's exit stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta

import httpcore
import httpx
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import (
    Interceptor,
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkerDeploymentConfig,
    WorkflowRunner,
)

from accounts.store import AccountStore
from activities.batches import BatchActivities
from activities.housekeeping import HousekeepingActivities
from activities.ledger import LedgerActivities
from activities.reference_images import ReferenceImages
from activities.rehost import RehostActivities
from activities.vendor_submit import VendorSubmitActivities
from activities.vendor_tasks import VendorTaskActivities
from activities.webhooks import WebhookActivities
from core.settings import Settings
from storage import build_storage
from vendors.base import VideoVendor
from vendors.registry import build_vendors
from workflows.batch_webhook_delivery import BatchWebhookDeliveryWorkflow
from workflows.housekeeping import HousekeepingWorkflow, ensure_housekeeping_schedule
from workflows.video_batch import VideoBatchWorkflow
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


# httpcore reads a response at most 64 KiB at a time, and each read goes through h11 and a few layers of
# async iterators: for a rehost download that was ~2 s of CPU per GB, more than the sha256 and the write
# together (bench/RESULTS.md, P5). Reading up to 1 MiB at once when that much is waiting costs ~0.8 s/GB; a
# small answer (a vendor poll) is read as before.
HTTP_READ_BYTES = 1024 * 1024


def vendor_http_client() -> httpx.AsyncClient:
    """The HTTP client of vendor calls and of rehost downloads (one per worker process)."""
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = HTTP_READ_BYTES  # a class attribute: process-wide
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


def job_workflow_runner() -> WorkflowRunner:
    """How the job's workflows run: without the SDK's sandbox.

    Every workflow this worker runs lives in ``workflows`` and uses ``core``, and both used to be passed
    through the sandbox whole (a fresh copy of them per run cost memory per cached job and CPU per run,
    bench/RESULTS.md P4), so the sandbox no longer restricted any of our code: what it still did was run
    each activation, and each payload's serialisation context, through ``exec`` of a code string under
    its import hooks, ~8-10 ms of the worker's CPU per job in a burst (P8). Determinism is still checked
    where it was: ``tests/test_workflow_replay.py`` replays every recorded history under the SDK's
    default sandbox with nothing of ours passed through, so a clock, random or I/O call in workflow code
    fails CI.
    """
    return UnsandboxedWorkflowRunner()


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
    common = _common(settings, interceptors)
    workers: list[Worker] = []
    accounts = None
    if "workflows" in roles or "poll" in roles:  # the journal, the ledger, measured vendor times
        accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
        stack.push_async_callback(accounts.aclose)
    if "workflows" in roles:
        assert accounts is not None
        workers.append(
            await _job_worker(settings, client, stack, vendors, common, workflows, extra_activities, accounts)
        )
    if "poll" in roles:
        assert accounts is not None
        workers.append(_poll_worker(settings, client, vendors, common, accounts))
    if "rehost" in roles:
        workers.append(_rehost_worker(settings, client, stack, vendors, http, common))
    logger.info(
        "worker roles %s on %s (queue %s, build %s%s)",
        ",".join(roles),
        settings.temporal_address,
        settings.temporal_task_queue,
        settings.build_id,
        f", versioned in deployment {settings.deployment_name}" if settings.worker_versioning else "",
    )
    return workers


async def _job_worker(
    settings: Settings,
    client: Client,
    stack: AsyncExitStack,
    vendors: dict[str, VideoVendor],
    common: dict[str, object],
    workflows: Sequence[type],
    extra_activities: Sequence[Callable[..., object]],
    accounts: AccountStore,
) -> Worker:
    """The ``workflows`` role: the workflows, and the few short activities that run on the job's queue."""
    storage = build_storage(settings)  # submit hands vendors the jobs' stored reference images
    stack.push_async_callback(storage.aclose)
    references = ReferenceImages(storage, settings.media_url_ttl_seconds)
    submits = VendorSubmitActivities(vendors, accounts.submit_journal(), references)
    vendor_tasks = VendorTaskActivities(vendors, accounts.vendor_timings())
    ledger = LedgerActivities(accounts)
    webhook_http = _webhook_client()
    stack.push_async_callback(webhook_http.aclose)
    webhooks = WebhookActivities(accounts, webhook_http, settings)
    housekeeping = HousekeepingActivities(client, accounts, storage, settings)
    batches = BatchActivities(client)
    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[*workflows, HousekeepingWorkflow, VideoBatchWorkflow, BatchWebhookDeliveryWorkflow],
        activities=[
            submits.submit_to_vendor,
            vendor_tasks.stop_vendor_task,
            vendor_tasks.cancel_vendor_task,
            ledger.settle_job,
            webhooks.deliver_webhook,
            webhooks.deliver_batch_webhook,
            batches.await_batch_items,
            housekeeping.handle_stuck_jobs,
            housekeeping.release_stranded_holds,
            housekeeping.expire_media,
            *extra_activities,
        ],
        workflow_runner=job_workflow_runner(),
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_activities=settings.worker_max_concurrent_job_activities,
        **common,  # type: ignore[arg-type]
    )
    if settings.housekeeping_interval_seconds > 0:  # once per cluster: a Temporal Schedule
        every = timedelta(seconds=settings.housekeeping_interval_seconds)
        await ensure_housekeeping_schedule(client, settings.temporal_task_queue, every)
    return worker


def _poll_worker(
    settings: Settings,
    client: Client,
    vendors: dict[str, VideoVendor],
    common: dict[str, object],
    accounts: AccountStore,
) -> Worker:
    """The ``poll`` role: many cheap heartbeating polls, on the job queue's ``-poll`` queue. The accounts
    database takes each finished task's measured vendor time (the ETAs' samples)."""
    polls = VendorTaskActivities(vendors, accounts.vendor_timings())
    return Worker(
        client,
        task_queue=settings.temporal_task_queue + POLL_QUEUE_SUFFIX,
        activities=[polls.poll_vendor],
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        **common,  # type: ignore[arg-type]
    )


def _rehost_worker(
    settings: Settings,
    client: Client,
    stack: AsyncExitStack,
    vendors: dict[str, VideoVendor],
    http: httpx.AsyncClient,
    common: dict[str, object],
) -> Worker:
    """The ``rehost`` role: a few bandwidth-heavy copies into our storage, on the ``-rehost`` queue."""
    storage = build_storage(settings)
    stack.push_async_callback(storage.aclose)
    rehost = RehostActivities(vendors, storage)  # downloads use their own blocking client
    return Worker(
        client,
        task_queue=settings.temporal_task_queue + REHOST_QUEUE_SUFFIX,
        activities=[rehost.rehost_video],
        max_concurrent_activities=settings.worker_max_concurrent_rehosts,
        **common,  # type: ignore[arg-type]
    )
