"""The shared HTTP error translation: statuses, Retry-After forms, vendor error envelopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from core.errors import ErrorCode
from vendors.transport import error_for_status, retry_after_seconds, vendor_message


def response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json=body, headers=headers, request=httpx.Request("GET", "https://v.example/x")
    )


@pytest.mark.parametrize(
    ("status", "phase", "code", "retryable", "accepted"),
    [
        (429, "submit", ErrorCode.RATE_LIMITED, True, False),
        (500, "submit", ErrorCode.VENDOR_UNAVAILABLE, True, False),
        (503, "poll", ErrorCode.VENDOR_UNAVAILABLE, True, True),
        (408, "submit", ErrorCode.TIMEOUT, True, False),
        (400, "submit", ErrorCode.INVALID_INPUT, False, False),
        (422, "submit", ErrorCode.INVALID_INPUT, False, False),
        (401, "submit", ErrorCode.VENDOR_ERROR, False, False),
        (402, "submit", ErrorCode.VENDOR_ERROR, False, False),
        (404, "poll", ErrorCode.VENDOR_ERROR, False, True),
    ],
)
def test_status_translation(
    status: int, phase: str, code: ErrorCode, retryable: bool, accepted: bool
) -> None:
    err = error_for_status("acme", response(status, {"error": "nope"}), phase)  # type: ignore[arg-type]
    assert (err.code, err.retryable, err.accepted) == (code, retryable, accepted)
    assert err.message.startswith(f"acme: {phase} got HTTP {status}: nope")


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert retry_after_seconds(response(429, headers={"Retry-After": "12"})) == 12.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after_seconds(response(429, headers={"Retry-After": later})) or 0) <= 120
    assert retry_after_seconds(response(429)) is None
    assert retry_after_seconds(response(429, headers={"Retry-After": "soon"})) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}},
            "Quota exceeded",
        ),
        ({"detail": [{"loc": ["body", "prompt"], "msg": "flagged"}]}, "flagged"),
        ({"title": "Invalid", "detail": "input.prompt is required"}, "input.prompt is required"),
        ({"base_resp": {"status_code": 1002, "status_msg": "rate limit"}}, "rate limit"),
        ({"code": 1302, "message": "too fast"}, "too fast"),
    ],
)
def test_messages_are_read_from_each_vendors_envelope(body: object, expected: str) -> None:
    assert vendor_message(response(400, body)) == expected
