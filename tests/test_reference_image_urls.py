"""``reference_image_url`` end to end: the API fetches the image once through the SSRF guard, refuses with
``422 unsafe_url`` + ``reason`` at generate time, stores nothing for a refused request, and hands the
workflow our stored copy — so the vendor never fetches the customer's URL and the job outlives it.

The stack is the real service (API, worker, local vendor) with one loopback image server on the operator
allowlist (``INFRAI_URL_ALLOWLIST``) and another that is not.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from core.url_safety import UnsafeUrl, UrlPolicy, system_resolver
from tests.fixtures.image_server import ImageServer, png
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer

MAX_BYTES = 200_000
FETCH_TIMEOUT_SECONDS = 3
IMAGE = png((30, 200, 30), (96, 54))


@dataclass
class GuardedStack:
    stack: Stack
    allowed: ImageServer  # on the allowlist
    internal: ImageServer  # a private address nobody allowed
    refused_key: str  # a fresh project for the refusal tests: it must end up with nothing


@pytest.fixture(scope="module")
def guarded(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuardedStack]:
    with ImageServer() as allowed, ImageServer() as internal:
        data_dir = tmp_path_factory.mktemp("guarded")
        with started_stack(
            temporal_server,
            data_dir,
            INFRAI_URL_ALLOWLIST=allowed.netloc,
            INFRAI_REFERENCE_IMAGE_MAX_BYTES=str(MAX_BYTES),
            INFRAI_REFERENCE_IMAGE_FETCH_TIMEOUT_SECONDS=str(FETCH_TIMEOUT_SECONDS),
        ) as stack:
            activation = httpx.post(f"{stack.api_url}/v1/accounts/activate", timeout=30)
            assert activation.status_code == 201, activation.text
            yield GuardedStack(stack, allowed, internal, activation.json()["api_key"])


def _refusal(guarded: GuardedStack, url: str) -> dict[str, Any]:
    response = guarded.stack.generate(guarded.refused_key, prompt="animate this", reference_image_url=url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "unsafe_url" and problem["detail"].startswith("reference_image_url refused")
    return problem


def test_an_allowed_image_is_fetched_once_and_the_job_outlives_its_url(guarded: GuardedStack) -> None:
    guarded.allowed.image("/frame.png", IMAGE)
    response = guarded.stack.generate(
        prompt="zoom into the green", reference_image_url=guarded.allowed.url("/frame.png")
    )
    assert response.status_code == 202, response.text
    del guarded.allowed.behaviours["/frame.png"]  # the customer's URL is gone from here on

    job = guarded.stack.wait_final(response.json()["job_id"])

    assert job["state"] == "succeeded", job
    assert guarded.allowed.paths_seen().count("/frame.png") == 1  # the API's fetch, nobody else's
    # The vendor got our copy inline (it fetched nothing), and that copy is what we stored.
    rendered = list((guarded.stack.data_dir / "localvendor" / "tasks").glob("*/reference-image"))
    stored = list((guarded.stack.data_dir / "media" / "references").rglob("reference.png"))
    assert [path.read_bytes() for path in rendered] == [IMAGE]
    assert [path.read_bytes() for path in stored] == [IMAGE]


def test_a_private_address_nobody_allowed_is_refused(guarded: GuardedStack) -> None:
    guarded.internal.image("/secret.png", IMAGE)
    assert _refusal(guarded, guarded.internal.url("/secret.png"))["reason"] == "private_address"
    assert guarded.internal.seen == []


def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(guarded: GuardedStack) -> None:
    guarded.internal.image("/secret.png", IMAGE)
    guarded.allowed.redirect("/hop.png", guarded.internal.url("/secret.png"))
    assert _refusal(guarded, guarded.allowed.url("/hop.png"))["reason"] == "private_address"
    assert guarded.internal.seen == []


def test_a_redirect_to_the_metadata_service_is_refused(guarded: GuardedStack) -> None:
    guarded.allowed.redirect("/meta.png", "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    assert _refusal(guarded, guarded.allowed.url("/meta.png"))["reason"] == "metadata_address"


def test_a_dns_name_of_this_machine_is_refused(guarded: GuardedStack) -> None:
    name = socket.gethostname()
    # Precondition, not an assumption: the machine's own name resolves to a non-public address.
    with pytest.raises(UnsafeUrl):
        asyncio.run(UrlPolicy(resolver=system_resolver).vet(name, 80))
    problem = _refusal(guarded, f"http://{name}:{guarded.allowed.port}/frame.png")
    assert problem["reason"] in ("private_address", "unresolvable_host")


@pytest.mark.parametrize(
    ("path", "setup", "reason"),
    [
        ("/huge.png", lambda s, p: s.image(p, IMAGE + b"\0" * MAX_BYTES), "too_large"),
        ("/huge-unsized.png", lambda s, p: s.unsized(p, IMAGE + b"\0" * 2 * MAX_BYTES), "too_large"),
        ("/page.html", lambda s, p: s.image(p, b"<html></html>", "text/html"), "unsupported_image_type"),
        ("/fake.png", lambda s, p: s.image(p, b"<html>not a png</html>", "image/png"), "not_an_image"),
        ("/drip.png", lambda s, p: s.slow(p, IMAGE, seconds_per_byte=0.5), "timeout"),
        ("/never.png", lambda s, p: s.hang(p), "timeout"),
        ("/missing.png", lambda s, p: None, "http_status"),
    ],
)
def test_what_an_allowed_url_serves_is_still_checked(
    guarded: GuardedStack, path: str, setup: Any, reason: str
) -> None:
    setup(guarded.allowed, path)
    assert _refusal(guarded, guarded.allowed.url(path))["reason"] == reason


def test_refused_requests_leave_no_job_hold_or_stored_image(guarded: GuardedStack) -> None:
    guarded.internal.image("/secret.png", IMAGE)
    _refusal(guarded, guarded.internal.url("/secret.png"))
    with guarded.stack.client(guarded.refused_key) as client:
        account = client.get("/v1/account").json()
    assert account["held_usd"] == "0.00" and account["usage"]["jobs_charged"] == 0
    project = account["project_id"]
    assert not (guarded.stack.data_dir / "media" / "references" / project).exists()
    count = asyncio.run(_workflows_of(guarded.stack, project))
    assert count == 0


async def _workflows_of(stack: Stack, project_id: str) -> int:
    from core.settings import Settings
    from workflows.connection import connect

    client = await connect(Settings(temporal_address=stack.temporal.address))
    result = await client.count_workflows(f"InfraiProject = '{project_id}'")
    return result.count


def test_an_idempotent_replay_neither_refetches_nor_overwrites_the_stored_image(
    guarded: GuardedStack,
) -> None:
    path = f"/replay-{secrets.token_hex(4)}.png"
    guarded.allowed.image(path, IMAGE)
    body = {"prompt": "replay me", "reference_image_url": guarded.allowed.url(path)}
    body["idempotency_key"] = "replay-" + secrets.token_hex(4)
    first = guarded.stack.generate(**body)
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    stored = next((guarded.stack.data_dir / "media" / "references").rglob(f"{job_id}/reference.png"))
    written = stored.stat()
    guarded.allowed.image(path, png((200, 30, 200), (96, 54)))  # the URL now serves something else

    replay = guarded.stack.generate(**body)
    guarded.stack.wait_final(job_id)
    different = guarded.stack.generate(**{**body, "prompt": "replay me, differently"})

    assert (replay.status_code, replay.json()["job_id"]) == (200, job_id), replay.text
    assert different.status_code == 409 and different.json()["code"] == "idempotency_conflict"
    assert guarded.allowed.paths_seen().count(path) == 1  # only the first request fetched it
    assert stored.read_bytes() == IMAGE
    assert (stored.stat().st_ino, stored.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
