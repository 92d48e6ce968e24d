"""Logs, metrics, traces and health probes of the API and worker processes.

A package of its own (not ``core/``) because it is process wiring that needs the Temporal SDK,
prometheus-client and OpenTelemetry, which ``core/`` must not import; and not inside ``api/`` or
``worker/`` because both processes (and the local vendor) log, measure and trace the same way.

- ``logs``: one JSON object per line in production, readable text in the embedded stack; job id and
  vendor on every line about a job; secrets masked.
- ``http``: the API's request metrics and server spans (one ASGI middleware) and its job counters.
- ``activity_metrics``: the worker's activity metrics and log context (one Temporal interceptor).
- ``tracing``: OpenTelemetry from the standard ``OTEL_*`` variables, off by default.
- ``probe``: ``python -m observability.probe api|worker``, the containers' healthcheck.
"""
