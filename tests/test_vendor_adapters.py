"""Every vendor adapter against its loopback emulator: the behaviours the workflow relies on.

Each test runs once per vendor. Vendor-specific wire details (image encoding, file retrieval, JWT, links)
are in tests/test_vendor_<name>.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from core.errors import ErrorCode, VendorError
from core.models import Resolution, VendorCancel, VideoSpec
from tests.emulators import fal, google, kling, luma, minimax, replicate, runway
from tests.emulators.server import EmulatorServer
from tests.fixtures.vendor_emulators import TEST_OPTIONS, poll_to_end, vendor_emulators  # noqa: F401
from vendors.fal import FalVendor
from vendors.google import GoogleVeoVendor
from vendors.http_vendor import HttpVendor, VendorOptions
from vendors.kling import KlingVendor
from vendors.luma import LumaVendor
from vendors.minimax import MiniMaxVendor
from vendors.replicate import ReplicateVendor
from vendors.runway import RunwayVendor

AdapterFactory = Callable[[str, str, VendorOptions], HttpVendor]  # (base_url, key, options)


@dataclass(frozen=True)
class VendorCase:
    vendor: str
    key: str
    make: AdapterFactory
    model: str
    spec: VideoSpec
    has_cancel: bool
    refusal_billed: bool  # what the vendor documents for a moderated task (see each adapter)
    refuses_at_submit: bool  # moderation can reject the create call itself
    reports_progress: bool
    retry_after_on_429: bool = True
    label: str = ""

    def __str__(self) -> str:
        return self.label or self.vendor


CASES = [
    VendorCase(
        "google",
        google.API_KEY,
        lambda url, key, opts: GoogleVeoVendor(key, base_url=url, options=opts),
        "veo-3.1-fast",
        VideoSpec(prompt="a red fox in snow", duration_seconds=8),
        has_cancel=False,
        refusal_billed=False,
        refuses_at_submit=False,
        reports_progress=False,
    ),
    VendorCase(
        "runway",
        runway.API_KEY,
        lambda url, key, opts: RunwayVendor(key, base_url=url, options=opts),
        "gen4.5",
        VideoSpec(prompt="a red fox in snow", duration_seconds=5),
        has_cancel=True,
        refusal_billed=False,
        refuses_at_submit=False,
        reports_progress=True,
    ),
    VendorCase(
        "luma",
        luma.API_KEY,
        lambda url, key, opts: LumaVendor(key, base_url=url, options=opts),
        "ray-2",
        VideoSpec(prompt="a red fox in snow", duration_seconds=5),
        has_cancel=True,
        refusal_billed=False,
        refuses_at_submit=False,
        reports_progress=False,
    ),
    VendorCase(
        "luma",
        luma.API_KEY,
        lambda url, key, opts: LumaVendor(
            key, base_url=url, agents_base_url=url.replace(luma.BASE_PATH, luma.AGENTS_PATH), options=opts
        ),
        "ray-3.2",
        VideoSpec(prompt="a red fox in snow", duration_seconds=10),
        has_cancel=False,
        refusal_billed=False,
        refuses_at_submit=False,
        reports_progress=False,
        label="luma-agents",
    ),
    VendorCase(
        "replicate",
        replicate.API_TOKEN,
        lambda url, key, opts: ReplicateVendor(key, base_url=url, options=opts),
        "google/veo-3.1-fast",
        VideoSpec(prompt="a red fox in snow", duration_seconds=6),
        has_cancel=True,
        refusal_billed=False,
        refuses_at_submit=False,
        reports_progress=True,
    ),
    VendorCase(
        "fal",
        fal.FAL_KEY,
        lambda url, key, opts: FalVendor(key, base_url=url, options=opts),
        "fal-ai/veo3/fast",
        VideoSpec(prompt="a red fox in snow", duration_seconds=8),
        has_cancel=True,
        refusal_billed=True,
        refuses_at_submit=True,
        reports_progress=False,
    ),
    VendorCase(
        "minimax",
        minimax.API_KEY,
        lambda url, key, opts: MiniMaxVendor(key, base_url=url, options=opts),
        "MiniMax-Hailuo-02",
        VideoSpec(prompt="a red fox in snow", duration_seconds=6),
        has_cancel=False,
        refusal_billed=False,
        refuses_at_submit=True,
        reports_progress=False,
        retry_after_on_429=False,  # MiniMax signals rate limits in base_resp (1002), without Retry-After
    ),
    VendorCase(
        "kling",
        kling.ACCESS_KEY,
        lambda url, key, opts: KlingVendor(key, kling.SECRET_KEY, base_url=url, options=opts),
        "kling-v2-5-turbo",
        VideoSpec(prompt="a red fox in snow", duration_seconds=5, resolution=Resolution.P1080),
        has_cancel=False,
        refusal_billed=False,
        refuses_at_submit=True,
        reports_progress=False,
    ),
]


@pytest.fixture(params=CASES, ids=str)
def case(request: pytest.FixtureRequest) -> VendorCase:
    case: VendorCase = request.param
    return case


@pytest.fixture
def emulator(case: VendorCase, vendor_emulators: dict[str, EmulatorServer]) -> EmulatorServer:  # noqa: F811
    server = vendor_emulators[case.vendor]
    server.reset()
    return server


@pytest.fixture
async def adapter(case: VendorCase, emulator: EmulatorServer) -> AsyncIterator[HttpVendor]:
    vendor = case.make(emulator.base_url, case.key, TEST_OPTIONS)
    yield vendor
    await vendor.aclose()


async def test_a_task_runs_to_success_and_its_video_downloads(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=3)
    task = await adapter.submit(case.spec, case.model, "job-1:attempt-1")
    assert (task.vendor, task.model) == (case.vendor, case.model)
    statuses = await poll_to_end(adapter, task)

    final = statuses[-1]
    assert final.state == "succeeded" and final.output_url and final.error is None
    assert [s.state for s in statuses[:-1]] and all(s.state in ("pending", "running") for s in statuses[:-1])
    if case.reports_progress:
        assert any(s.progress is not None and 0 < s.progress < 100 for s in statuses[:-1])
    async with httpx.AsyncClient() as client:
        video = await client.get(final.output_url, headers=adapter.download_headers(task, final.output_url))
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert emulator.stats()["submissions"] == 1 and emulator.stats()["accepted"] == 1


async def test_429_at_submit_is_rate_limited_with_retry_after(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(submit="rate_limited", retry_after=7)
    with pytest.raises(VendorError) as caught:
        await adapter.submit(case.spec, case.model, "k")
    err = caught.value
    assert (err.code, err.retryable, err.accepted, err.ambiguous) == (
        ErrorCode.RATE_LIMITED,
        True,
        False,
        False,
    )
    assert err.retry_after == (7.0 if case.retry_after_on_429 else None)


async def test_500_at_submit_is_vendor_unavailable_and_not_accepted(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(submit="server_error")
    with pytest.raises(VendorError) as caught:
        await adapter.submit(case.spec, case.model, "k")
    assert (caught.value.code, caught.value.retryable, caught.value.accepted, caught.value.ambiguous) == (
        ErrorCode.VENDOR_UNAVAILABLE,
        True,
        False,
        False,  # the vendor said it failed: nothing was created, failover is safe
    )
    assert emulator.stats()["accepted"] == 0


async def test_malformed_json_at_submit_is_an_ambiguous_vendor_error(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(submit="malformed")
    with pytest.raises(VendorError) as caught:
        await adapter.submit(case.spec, case.model, "k")
    # A 2xx we cannot read: the vendor said yes to something we cannot identify.
    assert (caught.value.code, caught.value.retryable, caught.value.ambiguous) == (
        ErrorCode.VENDOR_ERROR,
        True,
        True,
    )


async def test_hang_at_submit_is_an_ambiguous_timeout(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(submit="hang", hang_seconds=5)
    with pytest.raises(VendorError) as caught:
        await adapter.submit(case.spec, case.model, "k")
    # Not accepted as far as we know, but the vendor may have created it: never a plain rejection.
    assert (caught.value.code, caught.value.retryable, caught.value.accepted, caught.value.ambiguous) == (
        ErrorCode.TIMEOUT,
        True,
        False,
        True,
    )


async def test_poll_faults_are_retryable_and_keep_the_task_accepted(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    task = await adapter.submit(case.spec, case.model, "k")
    expected = {
        "server_error": ErrorCode.VENDOR_UNAVAILABLE,
        "malformed": ErrorCode.VENDOR_ERROR,
        "hang": ErrorCode.TIMEOUT,
        "rate_limited": ErrorCode.RATE_LIMITED,
    }
    for fault, code in expected.items():
        emulator.configure(poll=fault, hang_seconds=5)
        with pytest.raises(VendorError) as caught:
            await adapter.poll(task)
        assert (fault, caught.value.code, caught.value.retryable, caught.value.accepted) == (
            fault,
            code,
            True,
            True,
        )
    emulator.configure(poll="ok")
    assert (await poll_to_end(adapter, task))[-1].state == "succeeded"
    assert emulator.stats()["submissions"] == 1


async def test_moderation_refusal_ends_failed_with_content_policy_and_billing(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(outcome="moderation")
    task = await adapter.submit(case.spec, case.model, "k")
    final = (await poll_to_end(adapter, task))[-1]
    assert final.state == "failed" and final.error is not None
    assert (final.error.code, final.error.billed, final.error.retryable) == (
        ErrorCode.CONTENT_POLICY,
        case.refusal_billed,
        False,
    )


async def test_a_failed_task_is_a_failed_status_not_an_exception(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(outcome="fail")
    task = await adapter.submit(case.spec, case.model, "k")
    final = (await poll_to_end(adapter, task))[-1]
    assert final.state == "failed" and final.error is not None
    assert final.error.code not in (ErrorCode.CONTENT_POLICY, "")


async def test_refusal_at_create_is_content_policy_and_not_accepted(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(submit="refuse")
    if not case.refuses_at_submit:
        task = await adapter.submit(case.spec, case.model, "k")  # refused inside the task instead
        final = (await poll_to_end(adapter, task))[-1]
        assert final.error is not None and final.error.code == ErrorCode.CONTENT_POLICY
        return
    with pytest.raises(VendorError) as caught:
        await adapter.submit(case.spec, case.model, "k")
    err = caught.value
    assert (err.code, err.retryable, err.accepted, err.billed) == (
        ErrorCode.CONTENT_POLICY,
        False,
        False,
        False,
    )


async def test_cancel_stops_the_task_where_the_vendor_can(
    case: VendorCase, adapter: HttpVendor, emulator: EmulatorServer
) -> None:
    emulator.configure(polls_to_finish=5)
    task = await adapter.submit(case.spec, case.model, "k")
    assert (await adapter.cancel(task) is not VendorCancel.UNSUPPORTED) is case.has_cancel
    assert emulator.stats()["cancels"] == (1 if case.has_cancel else 0)
    if case.has_cancel and case.vendor != "luma":  # Luma deletes the generation: nothing left to poll
        assert (await adapter.poll(task)).state == "cancelled"


async def test_a_wrong_key_is_a_non_retryable_vendor_error(
    case: VendorCase, emulator: EmulatorServer
) -> None:
    adapter = case.make(emulator.base_url, "not-the-key", TEST_OPTIONS)
    try:
        with pytest.raises(VendorError) as caught:
            await adapter.submit(case.spec, case.model, "k")
    finally:
        await adapter.aclose()
    assert (caught.value.code, caught.value.retryable, caught.value.accepted) == (
        ErrorCode.VENDOR_ERROR,
        False,
        False,
    )
    assert emulator.stats()["unauthorized"] == 1 and emulator.stats()["accepted"] == 0


async def test_in_flight_calls_never_exceed_the_vendor_concurrency_limit(
    case: VendorCase, emulator: EmulatorServer
) -> None:
    options = VendorOptions(request_timeout_seconds=5, allow_private_urls=True, max_concurrency=2)
    adapter = case.make(emulator.base_url, case.key, options)
    try:
        task = await adapter.submit(case.spec, case.model, "k")
        emulator.configure(poll="hang", hang_seconds=0.3)  # hold each call open so they would overlap
        results = await asyncio.gather(*(adapter.poll(task) for _ in range(8)), return_exceptions=True)
    finally:
        await adapter.aclose()
    assert len(results) == 8 and emulator.stats()["polls"] >= 8
    assert emulator.stats()["max_in_flight"] == 2
