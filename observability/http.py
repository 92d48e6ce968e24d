"""The API's metrics (served at ``/metrics``) and its per-request observability middleware.

Requests are labelled by route *template* (``/v1/video/jobs/{job_id}``), never by raw path, so the
number of series stays bounded whatever clients send; unmatched paths share one label.

Server spans are FastAPI's own: it opens one per request (continuing a caller's ``traceparent``) as soon
as a tracer provider is installed (``observability.tracing``), so this middleware does not open another.
"""

from __future__ import annotations

import time
from decimal import Decimal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import request_context

UNMATCHED_ROUTE = "unmatched"
# Most calls answer in milliseconds; generate (routing + a Temporal start) and status queries take longer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """One registry per application (not the process-global one), so each app built in a process counts
    only its own requests."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "infrai_http_requests", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "infrai_http_request_duration_seconds", "HTTP request latency by method and route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge("infrai_http_requests_in_flight", "HTTP requests being served",
                               registry=self.registry)  # fmt: skip
        self.jobs_started = Counter(
            "infrai_jobs_started", "Jobs started, by the first vendor and model of their route",
            ["vendor", "model"], registry=self.registry,
        )  # fmt: skip
        self.credits_held = Counter(
            "infrai_credits_held_usd", "Credits held for started jobs (their estimates), in USD",
            ["vendor"], registry=self.registry,
        )  # fmt: skip

        self.possible_orphans = Gauge(
            "infrai_possible_orphan_vendor_tasks",
            "Vendor submits whose outcome stayed unknown: a task may run at the vendor that no job polls "
            "(list them at GET /ops/possible-orphans)",
            registry=self.registry,
        )
        self.stuck_jobs = Gauge(
            "infrai_stuck_jobs", "Running jobs whose workflow task keeps failing (observability.stuck_jobs)",
            registry=self.registry,
        )  # fmt: skip
        self.stuck_job_longest = Gauge(
            "infrai_stuck_job_longest_failing_seconds", "How long the longest-stuck job has been failing",
            registry=self.registry,
        )  # fmt: skip
        self.stuck_jobs_checked = Gauge(
            "infrai_stuck_jobs_checked_timestamp_seconds",
            "When the stuck-job figures were last read from Temporal (stale: Temporal unreachable)",
            registry=self.registry,
        )

    def stuck_jobs_seen(self, count: int, longest_seconds: float, checked_at: float) -> None:
        self.stuck_jobs.set(count)
        self.stuck_job_longest.set(longest_seconds)
        self.stuck_jobs_checked.set(checked_at)

    def job_started(self, vendor: str, model: str, estimated_usd: Decimal) -> None:
        self.jobs_started.labels(vendor, model).inc()
        self.credits_held.labels(vendor).inc(float(estimated_usd))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests only (``handle``); lifespan and websocket scopes
    pass straight through to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class HttpObservability(HttpMiddleware):
    """Per request: count and time it by route template and status, and bind the request id to the log
    lines written while it is served."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        status = 500  # what the client sees if the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        request_id = scope.get("state", {}).get("request_id")
        with request_context(request_id):
            try:
                await self.app(scope, receive, record_status)
            finally:
                route = _route_template(scope)
                self.metrics.in_flight.dec()
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
