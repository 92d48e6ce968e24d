"""The worker's own metrics and log context, from one Temporal activity interceptor.

Every activity is timed and counted by type, vendor and outcome: the poll activity's duration is the
vendor's generation latency, submit's is its acceptance latency, and failures by error code are the
vendor error rates. Results say more: a poll's outcome is a vendor task's final state, and a settle is
a job's final state and the credits it moved. These are counted per completed activity, so an activity
Temporal retries after it had already succeeded (its completion lost) is counted again: a rare
overcount, never an undercount.

The Temporal SDK's own metrics (task latencies, slots, polls) are served separately by its runtime.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.models import (
    CancelVendorRequest,
    PollRequest,
    RehostRequest,
    SettleRequest,
    SettleResult,
    SubmitRequest,
    VendorOutcome,
)
from observability.logs import job_context

# Submits answer in seconds; polls last as long as a vendor renders (minutes, sometimes an hour or more).
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram(
            "infrai_activity_duration_seconds", "Activity attempts by type, vendor and outcome (ok, error, "
            "cancelled); poll_vendor is the vendor's generation time",
            ["activity", "vendor", "outcome"], buckets=DURATION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "infrai_activity_errors", "Failed activity attempts by type, vendor and error code",
            ["activity", "vendor", "code"], registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge("infrai_activities_in_flight", "Activities running in this worker",
                               ["activity"], registry=self.registry)  # fmt: skip
        self.vendor_tasks = Counter(
            "infrai_vendor_tasks_finished", "Vendor tasks that reached a final state, by vendor and state",
            ["vendor", "state"], registry=self.registry,
        )  # fmt: skip
        self.jobs_finished = Counter("infrai_jobs_finished", "Jobs settled, by final state",
                                     ["state"], registry=self.registry)  # fmt: skip
        self.credits_charged = Counter("infrai_credits_charged_usd", "Credits charged at settlement, in USD",
                                       registry=self.registry)  # fmt: skip
        self.credits_released = Counter(
            "infrai_credits_released_usd",
            "Held credits returned at settlement, in USD",
            registry=self.registry,
        )

    def record_result(self, arg: object, result: object) -> None:
        if isinstance(result, VendorOutcome) and isinstance(arg, PollRequest):
            self.vendor_tasks.labels(arg.task.vendor, result.state.value).inc()
        if isinstance(arg, SettleRequest) and isinstance(result, SettleResult):
            self.jobs_finished.labels(arg.outcome.value).inc()
            self.credits_charged.inc(float(result.charged_usd))
            self.credits_released.inc(float(result.released_usd))


def vendor_of(arg: object) -> str | None:
    if isinstance(arg, SubmitRequest):
        return arg.vendor
    if isinstance(arg, PollRequest | CancelVendorRequest | RehostRequest):
        return arg.task.vendor
    return None


def _error_code(err: BaseException) -> str:
    if isinstance(err, ApplicationError) and err.type:
        return err.type
    return type(err).__name__


class ActivityObserver(Interceptor):
    """Worker interceptor: metrics for every activity, and its job id and vendor on every log line."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ObservedActivity(next, self.metrics)


class _ObservedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: WorkerMetrics) -> None:
        super().__init__(next)
        self.metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        name = info.activity_type
        arg = input.args[0] if input.args else None
        vendor = vendor_of(arg)
        outcome = "error"
        started = time.perf_counter()
        in_flight = self.metrics.in_flight.labels(name)
        in_flight.inc()
        with job_context(info.workflow_id, vendor):
            try:
                result = await super().execute_activity(input)
                outcome = "ok"
                self.metrics.record_result(arg, result)
                return result
            except (asyncio.CancelledError, TemporalCancelledError):
                outcome = "cancelled"
                raise
            except BaseException as err:
                self.metrics.errors.labels(name, vendor or "", _error_code(err)).inc()
                raise
            finally:
                in_flight.dec()
                self.metrics.duration.labels(name, vendor or "", outcome).observe(
                    time.perf_counter() - started
                )
