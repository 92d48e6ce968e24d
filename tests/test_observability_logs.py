"""Log lines: one JSON object per line in production, readable text in the embedded stack, the job's id
and vendor on every line about it, and secrets masked whatever a message quotes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from accounts.keys import new_api_key
from observability.logs import ContextFields, job_context, make_formatter, redact, request_context

Capture = tuple[logging.Logger, io.StringIO, logging.Handler]


@pytest.fixture
def capture() -> Iterator[Capture]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(ContextFields())
    logger = logging.getLogger(f"test.observability.{id(buffer)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, buffer, handler
    logger.removeHandler(handler)


def _json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_the_bound_job_vendor_and_request(capture: Capture) -> None:
    logger, buffer, handler = capture
    handler.setFormatter(make_formatter("json", "worker"))
    with request_context("req_1"), job_context("vid_abc", "fal"):
        logger.info("polled %s", "task-1")
    logger.info("outside any job")
    inside, outside = _json_lines(buffer)
    assert inside["msg"] == "polled task-1"
    assert (inside["job_id"], inside["vendor"], inside["request_id"]) == ("vid_abc", "fal", "req_1")
    assert inside["process"] == "worker" and inside["level"] == "info"
    assert "job_id" not in outside and "vendor" not in outside


def test_an_exception_stays_on_its_one_line(capture: Capture) -> None:
    logger, buffer, handler = capture
    handler.setFormatter(make_formatter("json", "api"))
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logger.exception("failed")
    (line,) = buffer.getvalue().splitlines()
    record = json.loads(line)
    assert "RuntimeError: boom" in str(record["exc"]) and "Traceback" in str(record["exc"])


def test_workflow_logger_records_name_their_job(capture: Capture) -> None:
    logger, buffer, handler = capture
    handler.setFormatter(make_formatter("json", "worker"))
    logger.info("vendor cancel failed", extra={"temporal_workflow": {"workflow_id": "vid_wf"}})
    assert _json_lines(buffer)[0]["job_id"] == "vid_wf"


def test_text_lines_are_readable_and_tagged(capture: Capture) -> None:
    logger, buffer, handler = capture
    handler.setFormatter(make_formatter("text", "worker"))
    with job_context("vid_abc", "runway"):
        logger.info("accepted")
    line = buffer.getvalue().strip()
    assert " worker INFO " in line and line.endswith("accepted [job=vid_abc vendor=runway]")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_keys_and_signatures_are_masked_in_every_format(capture: Capture, log_format: str) -> None:
    logger, buffer, handler = capture
    handler.setFormatter(make_formatter(log_format, "api"))
    key = new_api_key()
    url = "https://s3/x?X-Amz-Signature=abc&a=1"
    logger.info("key %s header Authorization: Bearer sk-vendor-123 url %s", key, url)
    text = buffer.getvalue()
    assert key not in text and "sk-vendor-123" not in text and "X-Amz-Signature=abc" not in text
    assert "a=1" in text and "Bearer [redacted]" in text


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("job vid_123 accepted by local as gen_9 (keyframes=3)") == (
        "job vid_123 accepted by local as gen_9 (keyframes=3)"
    )
