"""Resolution gating through the real API: a request no configured vendor can serve is a 422 problem that
names the constraint and what would serve it — never a silent downgrade, and no job is started."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.ids import job_id_for_key
from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.vendor_emulators import emulator_environment
from tests.fixtures.vendor_stack import EmulatedVendors

# The vendors whose catalog models render 4k: Veo (Gemini API) and Luma's Ray 2 family.
FOUR_K_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "LUMAAI_API_KEY")


@pytest.fixture(scope="module")
def api_without_4k_vendors(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    vendor_emulators: dict[str, EmulatorServer],
) -> Iterator[Stack]:
    """Only an API process (routing happens there): every paid vendor configured except the 4k ones."""
    vendors = {k: v for k, v in emulator_environment(vendor_emulators).items() if k not in FOUR_K_KEYS}
    data_dir = tmp_path_factory.mktemp("api-without-4k")
    with started_stack(temporal_server, data_dir, processes=("api",), **vendors) as api:
        yield api


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_4k_with_no_4k_vendor_configured_is_422_naming_who_would_serve_it(
    api_without_4k_vendors: Stack,
) -> None:
    body = problem(api_without_4k_vendors.generate(prompt="a glacier", resolution="4k", duration_seconds=5))
    assert (body["code"], body["constraint"]) == ("unsupported_resolution", "resolution")
    assert "4k" in body["detail"]
    # The 4k models that take 5 s, with the key their vendor needs (Veo's 4k is 8 s only); the configured
    # models with the sizes they do offer; the local preview only when asked for by name.
    alternatives = body["alternatives"]
    assert "luma/ray-2 (not configured: set LUMAAI_API_KEY)" in alternatives
    assert "luma/ray-flash-2 (not configured: set LUMAAI_API_KEY)" in alternatives
    assert "runway/gen4.5 (offers 720p)" in alternatives
    assert "local/local-preview (preview renderer, only when asked for with vendor=local)" in alternatives
    assert not any(alt.startswith("google/") for alt in alternatives)
    # No job and no credit hold were made: the account is untouched.
    with api_without_4k_vendors.client() as client:
        account = client.get("/v1/account").json()
    assert account["held_usd"] in ("0", "0.00")


def test_the_same_4k_request_is_served_where_a_4k_vendor_is_configured(emulated: EmulatedVendors) -> None:
    response = emulated.stack.generate(prompt="a glacier", resolution="4k", duration_seconds=5)
    assert response.status_code == 202, response.text
    assert response.json()["vendor"] == "luma"  # the only 4k models that take 5 s
    job = emulated.stack.wait_final(response.json()["job_id"])
    assert job["state"] == "succeeded", job


def test_an_explicit_vendor_without_the_resolution_is_422_not_a_downgrade(emulated: EmulatedVendors) -> None:
    request = {"vendor": "runway", "resolution": "1080p", "duration_seconds": 5}
    body = problem(emulated.stack.generate(prompt="a glacier", **request))
    assert (body["code"], body["constraint"]) == ("unsupported_resolution", "resolution")
    assert "runway/gen4.5 (offers 720p)" in body["alternatives"]
    # ... and who would serve 1080p if the customer let go of vendor=runway.
    assert any(alt.endswith("(without vendor=runway)") for alt in body["alternatives"])
    assert emulated.submissions()["runway"] == 0


def test_an_explicit_model_without_the_resolution_is_422(emulated: EmulatedVendors) -> None:
    request = {"model": "ray-3.2", "resolution": "4k", "duration_seconds": 5}
    body = problem(emulated.stack.generate(prompt="a glacier", **request))
    assert (body["code"], body["constraint"]) == ("unsupported_resolution", "resolution")
    assert "luma/ray-3.2 (offers 720p, 1080p)" in body["alternatives"]


def test_a_prompt_over_the_asked_vendors_limit_is_422_prompt_too_long_before_any_job(
    api_without_4k_vendors: Stack,
) -> None:
    key = "prompt-too-long-" + secrets.token_hex(4)
    response = api_without_4k_vendors.generate(
        prompt="p" * 1001, vendor="runway", model="gen4.5", duration_seconds=5, idempotency_key=key
    )

    body = problem(response)
    assert (body["code"], body["constraint"], body["max_prompt_chars"]) == (
        "prompt_too_long",
        "prompt_length",
        1000,
    )
    assert "1001" in body["detail"] and "1000" in body["detail"]
    with api_without_4k_vendors.client() as client:
        account = client.get("/v1/account")
        project_id = account.json()["project_id"]
        job = client.get(f"/v1/video/jobs/{job_id_for_key(project_id, key)}")
    assert job.status_code == 404  # nothing was started, so nothing can fail over at submit
    assert account.json()["held_usd"] in ("0", "0.00")


def test_a_prompt_over_every_paid_limit_is_refused_not_sent_to_the_local_renderer(
    api_without_4k_vendors: Stack,
) -> None:
    body = problem(api_without_4k_vendors.generate(prompt="p" * 1001, duration_seconds=5))

    assert (body["code"], body["max_prompt_chars"]) == ("prompt_too_long", 1000)
    assert (
        "local/local-preview (preview renderer, only when asked for with vendor=local)"
        in body["alternatives"]
    )
