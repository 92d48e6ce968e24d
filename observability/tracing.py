"""OpenTelemetry traces across API → workflow → activities, chosen by the standard ``OTEL_*`` variables.

Off unless ``OTEL_TRACES_EXPORTER`` says ``otlp`` (OTLP over HTTP; the exporter itself reads
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._HEADERS`` and friends) or ``console``. When on, each process
installs one tracer provider at start; FastAPI then opens a server span per request by itself
(continuing a caller's ``traceparent``), and Temporal's ``TracingInterceptor`` on every client carries
the context into the workflow and its activities through Temporal headers, so one trace covers a job
end to end.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.settings import Settings

EXPORTERS = ("otlp", "console")


def tracing_enabled(settings: Settings) -> bool:
    return settings.otel_traces_exporter.strip().lower() not in ("", "none")


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    raise SystemExit(f"OTEL_TRACES_EXPORTER={name!r} is not supported: use one of {EXPORTERS} or none")


def configure_tracing(settings: Settings, default_service_name: str) -> TracerProvider | None:
    """Install the global tracer provider for this process; None (and nothing installed) when off.
    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` win over the default service name."""
    if not tracing_enabled(settings):
        return None
    exporter = _exporter(settings.otel_traces_exporter.strip().lower())
    attributes = {} if settings.otel_service_name else {SERVICE_NAME: default_service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def temporal_interceptors(settings: Settings) -> list[Interceptor]:
    """What a Temporal client needs to trace: workers built on the client inherit it."""
    return [TracingInterceptor()] if tracing_enabled(settings) else []
