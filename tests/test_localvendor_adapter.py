"""How ``LocalVendor`` translates transport failures and broken answers into the error taxonomy.

The misbehaving vendor is a loopback HTTP server answering in the local vendor's documented format (or
deliberately not); the well-behaved paths are covered against the real server in test_localvendor.py.
"""

from __future__ import annotations

import json

import pytest

from core.errors import ErrorCode, VendorError
from core.models import VendorCancel, VendorTask, VideoSpec
from tests.fixtures.localvendor import CannedResponse, LoopbackHTTPServer
from tests.fixtures.ports import free_port
from vendors.local import LOCAL_MODEL, LocalVendor

SPEC = VideoSpec(prompt="a quiet harbour", duration_seconds=2)
TASK = VendorTask(vendor="local", model=LOCAL_MODEL, task_id="gen_abc", submitted_at="2025-01-01T00:00:00Z")


def _generation(**fields: object) -> bytes:
    body = {"id": "gen_abc", "status": "queued", "progress": 0, "output": None, "error": None}
    return json.dumps({**body, **fields}).encode()


async def test_submit_with_nothing_listening_is_retryable_unavailable_and_not_accepted() -> None:
    vendor = LocalVendor(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(VendorError) as raised:
            await vendor.submit(SPEC, LOCAL_MODEL, "key-1")
    finally:
        await vendor.aclose()

    assert raised.value.code is ErrorCode.VENDOR_UNAVAILABLE
    assert raised.value.retryable and not raised.value.accepted


async def test_submit_answered_with_503_is_retryable_unavailable_and_not_accepted() -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("POST", "/v1/generations")] = CannedResponse(
            503, b'{"error": {"code": "overloaded", "message": "try later"}}'
        )
        vendor = LocalVendor(emulator.base_url)
        with pytest.raises(VendorError) as raised:
            await vendor.submit(SPEC, LOCAL_MODEL, "key-2")
        await vendor.aclose()

    assert raised.value.code is ErrorCode.VENDOR_UNAVAILABLE
    assert raised.value.retryable and not raised.value.accepted
    assert "overloaded: try later" in raised.value.message


async def test_submit_sends_the_idempotency_key_and_the_documented_body() -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("POST", "/v1/generations")] = CannedResponse(201, _generation())
        vendor = LocalVendor(emulator.base_url + "/")
        task = await vendor.submit(SPEC, LOCAL_MODEL, "key-3")
        await vendor.aclose()

    method, path, headers = emulator.requests[0]
    assert (method, path, headers["Idempotency-Key"]) == ("POST", "/v1/generations", "key-3")
    assert task.task_id == "gen_abc" and task.links["self"] == f"{emulator.base_url}/v1/generations/gen_abc"


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b'{"id": 7}', b"{"])
async def test_malformed_answers_are_retryable_vendor_errors(body: bytes) -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("GET", "/v1/generations/gen_abc")] = CannedResponse(200, body)
        vendor = LocalVendor(emulator.base_url)
        with pytest.raises(VendorError) as raised:
            await vendor.poll(TASK)
        await vendor.aclose()

    assert raised.value.code is ErrorCode.VENDOR_ERROR and raised.value.retryable


async def test_poll_5xx_is_retryable_and_accepted() -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("GET", "/v1/generations/gen_abc")] = CannedResponse(500, b"oops", "text/plain")
        vendor = LocalVendor(emulator.base_url)
        with pytest.raises(VendorError) as raised:
            await vendor.poll(TASK)
        await vendor.aclose()

    assert raised.value.code is ErrorCode.VENDOR_UNAVAILABLE
    assert raised.value.retryable and raised.value.accepted


@pytest.mark.parametrize(
    ("vendor_status", "state"),
    [("queued", "pending"), ("running", "running"), ("cancelled", "cancelled")],
)
async def test_poll_maps_vendor_statuses(vendor_status: str, state: str) -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("GET", "/v1/generations/gen_abc")] = CannedResponse(
            200, _generation(status=vendor_status, progress=40)
        )
        vendor = LocalVendor(emulator.base_url)
        status = await vendor.poll(TASK)
        await vendor.aclose()

    assert (status.state, status.progress, status.output_url, status.cost_usd) == (state, 40, None, None)


async def test_poll_of_a_failed_task_carries_the_vendor_error() -> None:
    error = {"code": "render_failed", "message": "encoder exploded"}
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("GET", "/v1/generations/gen_abc")] = CannedResponse(
            200, _generation(status="failed", error=error)
        )
        vendor = LocalVendor(emulator.base_url)
        status = await vendor.poll(TASK)
        await vendor.aclose()

    assert status.state == "failed" and status.error is not None
    assert status.error.code == ErrorCode.VENDOR_ERROR and "encoder exploded" in status.error.message


@pytest.mark.parametrize(
    ("vendor_status", "answer"),
    [
        ("cancelled", VendorCancel.STOPPED),
        ("succeeded", VendorCancel.FINISHED),
        ("failed", VendorCancel.FINISHED),
    ],
)
async def test_cancel_reads_what_the_vendor_found(vendor_status: str, answer: VendorCancel) -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("POST", "/v1/generations/gen_abc/cancel")] = CannedResponse(
            200, _generation(status=vendor_status)
        )
        vendor = LocalVendor(emulator.base_url)
        found = await vendor.cancel(TASK)
        await vendor.aclose()

    assert found is answer


async def test_a_cancel_answered_with_an_unfinished_task_is_a_retryable_error() -> None:
    with LoopbackHTTPServer() as emulator:
        emulator.routes[("POST", "/v1/generations/gen_abc/cancel")] = CannedResponse(
            200, _generation(status="running")
        )
        vendor = LocalVendor(emulator.base_url)
        with pytest.raises(VendorError) as raised:
            await vendor.cancel(TASK)
        await vendor.aclose()

    assert raised.value.code is ErrorCode.VENDOR_ERROR
    assert raised.value.retryable and raised.value.accepted
