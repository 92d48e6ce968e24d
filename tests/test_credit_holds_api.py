"""Money under concurrency at the HTTP boundary: 100 simultaneous generates against a balance that covers
10 → exactly 10 accepted, 90 answered 402, and the balance never below zero.

The API runs alone with Runway (on its emulator) as the only, priced, vendor: credits are held before a
workflow starts, so no worker is needed and the accepted jobs simply wait in Temporal.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from core.models import Aspect, Prefer, Resolution, VideoSpec
from tests.emulators.server import EmulatorServer
from tests.fixtures.priced_stack import priced_api
from tests.fixtures.stack import Stack
from tests.fixtures.temporal import TemporalServer
from vendors.catalog import load_catalog
from vendors.router import plan_route

REQUEST = {"prompt": "a lighthouse in fog", "duration_seconds": 5, "resolution": "720p"}
ACCEPTABLE = 10
ATTEMPTS = 100


def _dearest_candidate() -> Decimal:
    spec = VideoSpec(prompt="x", duration_seconds=5, aspect=Aspect.LANDSCAPE, resolution=Resolution.P720)
    route = plan_route(spec, Prefer.BALANCED, None, None, load_catalog(), {"runway"})
    return max(candidate.estimated_cost_usd for candidate in route)


@pytest.fixture(scope="module")
def ten_jobs_stack(
    temporal_server: TemporalServer,
    vendor_emulators: dict[str, EmulatorServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    credits = str(_dearest_candidate() * ACCEPTABLE)
    folder = tmp_path_factory.mktemp("ten-jobs")
    with priced_api(temporal_server, vendor_emulators["runway"], folder, credits) as api:
        yield api


async def _generate_all(api_url: str, key: str) -> Counter[int]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=ATTEMPTS)
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/video/generate", json=REQUEST) for _ in range(ATTEMPTS))
        )
    for response in responses:
        if response.status_code == 402:
            assert response.json()["code"] == "insufficient_credits"
    return Counter(response.status_code for response in responses)


def test_100_simultaneous_generates_against_credit_for_10_accept_exactly_10(ten_jobs_stack: Stack) -> None:
    activation = httpx.post(f"{ten_jobs_stack.api_url}/v1/accounts/activate", timeout=30)
    assert activation.status_code == 201, activation.text
    key = activation.json()["api_key"]
    trial = Decimal(activation.json()["balance_usd"])
    assert trial == _dearest_candidate() * ACCEPTABLE

    statuses = asyncio.run(_generate_all(ten_jobs_stack.api_url, key))

    assert statuses == Counter({202: ACCEPTABLE, 402: ATTEMPTS - ACCEPTABLE})
    account = httpx.get(
        f"{ten_jobs_stack.api_url}/v1/account", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ).json()
    assert Decimal(account["available_usd"]) == 0
    assert Decimal(account["held_usd"]) == trial
    assert Decimal(account["balance_usd"]) >= 0
