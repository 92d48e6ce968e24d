"""OpenTelemetry: with ``OTEL_TRACES_EXPORTER=otlp`` one trace follows a job from the API request through
the workflow to each activity, exported over OTLP/HTTP by both processes; without it nothing is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.otlp import ReceivedSpan
from tests.fixtures.otlp import OtlpReceiver
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer

JOB_SPANS = {
    ("infrai-api", "POST /v1/video/generate"),
    ("infrai-api", "StartWorkflow:VideoJob"),
    ("infrai-worker", "RunWorkflow:VideoJob"),
    ("infrai-worker", "StartActivity:submit_to_vendor"),
    ("infrai-worker", "RunActivity:submit_to_vendor"),
    ("infrai-worker", "RunActivity:poll_vendor"),
    ("infrai-worker", "RunActivity:rehost_video"),
    ("infrai-worker", "RunActivity:settle_job"),
}


@pytest.fixture
def traced_stack(
    temporal_server: TemporalServer, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",  # export within a fifth of a second instead of five
    ) as stack:
        yield stack


def _start_trace(spans: list[ReceivedSpan], job_id: str) -> list[ReceivedSpan]:
    """Every span of the trace in which the API started the job's workflow (status calls that query the
    workflow later are traces of their own)."""
    traces = {
        s.trace_id
        for s in spans
        if s.name == "StartWorkflow:VideoJob" and s.attributes.get("temporalWorkflowID") == job_id
    }
    return [s for s in spans if s.trace_id in traces]


def test_one_trace_follows_a_job_from_the_api_through_every_activity(
    traced_stack: Stack, otlp_receiver: OtlpReceiver
) -> None:
    started = traced_stack.generate()
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    assert traced_stack.wait_final(job_id)["state"] == "succeeded"

    deadline = time.monotonic() + 60
    seen: set[tuple[str, str]] = set()
    while not seen >= JOB_SPANS and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = {(span.service, span.name) for span in _start_trace(otlp_receiver.store.spans(), job_id)}
    assert seen >= JOB_SPANS, sorted(JOB_SPANS - seen)


def test_the_api_continues_a_callers_trace(traced_stack: Stack, otlp_receiver: OtlpReceiver) -> None:
    caller_trace, caller_span = "12" * 16, "34" * 8
    with traced_stack.client() as client:
        response = client.get(
            "/v1/video/models", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"}
        )
    assert response.status_code == 200
    deadline = time.monotonic() + 30
    mine: list[ReceivedSpan] = []
    servers: list[ReceivedSpan] = []
    # Until the server span is in: it ends after its children, so an export can carry them without it.
    while not (servers and len(mine) >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
        mine = [s for s in otlp_receiver.store.spans() if s.trace_id == caller_trace]
        servers = [s for s in mine if s.name == "GET /v1/video/models"]
    assert [s.parent_span_id for s in servers] == [caller_span]  # one server span, the caller's child
    assert {s.parent_span_id for s in mine if s not in servers} == {servers[0].span_id}


def test_nothing_is_exported_unless_asked(
    temporal_server: TemporalServer, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    # The exporter's endpoint is set but OTEL_TRACES_EXPORTER is not: tracing stays off.
    # Leaving the block stops the stack cleanly, which flushes any spans a provider would have batched.
    endpoint = otlp_receiver.endpoint
    with started_stack(temporal_server, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint) as stack:
        started = stack.generate()
        assert stack.wait_final(started.json()["job_id"])["state"] == "succeeded"
    assert otlp_receiver.store.spans() == []
