"""Build the worker's long-lived clients once, register workflow + activities, run until signalled.

One process can serve every task queue (the embedded default) or only some roles (``INFRAI_WORKER_ROLES``,
see ``worker/roles.py``: ``workflows``, ``poll``, ``rehost``).

Observability: every activity goes through ``ActivityObserver`` (metrics, job id and vendor on log lines);
``INFRAI_WORKER_METRICS_PORT`` serves those metrics and ``INFRAI_TEMPORAL_METRICS_PORT`` the SDK's own
(task latencies, slots, pollers) from the SDK runtime; ``OTEL_TRACES_EXPORTER`` turns tracing on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

from prometheus_client import start_http_server
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings
from observability.activity_metrics import ActivityObserver, WorkerMetrics
from observability.tracing import configure_tracing
from worker.roles import JOB_WORKFLOWS, build_workers
from workflows.connection import connect

logger = logging.getLogger(__name__)


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
