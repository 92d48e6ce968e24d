"""Every bad input gets a clear 4xx problem JSON with a stable code — never a 500, never a changed job."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.stack import Stack


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert problem["status"] == status
    assert problem["title"] and problem["detail"] and problem["type"].startswith("https://")
    return problem


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_input"),
        ({"prompt": ""}, "invalid_input"),
        ({"prompt": "   \n\t "}, "invalid_input"),
        ({"prompt": "x" * 4001}, "invalid_input"),
        ({"prompt": "bad \x00 byte"}, "invalid_input"),
        ({"prompt": 42}, "invalid_input"),
        ({"prompt": "ok", "aspect": "4:3"}, "invalid_input"),
        ({"prompt": "ok", "resolution": "8k"}, "invalid_input"),
        ({"prompt": "ok", "prefer": "fastest"}, "invalid_input"),
        ({"prompt": "ok", "duration_seconds": 0}, "invalid_input"),
        ({"prompt": "ok", "duration_seconds": -3}, "invalid_input"),
        ({"prompt": "ok", "duration_seconds": 100000}, "invalid_input"),
        ({"prompt": "ok", "duration_seconds": 2.5}, "invalid_input"),
        ({"prompt": "ok", "duration_seconds": "5"}, "invalid_input"),
        ({"prompt": "ok", "idempotency_key": "has space"}, "invalid_input"),
        ({"prompt": "ok", "idempotency_key": "x" * 300}, "invalid_input"),
        ({"prompt": "ok", "colour": "blue"}, "invalid_input"),
        ({"prompt": "ok", "vendor": "no-such-vendor"}, "no_route"),
        ({"prompt": "ok", "model": "no-such-model"}, "no_route"),
    ],
)
def test_invalid_generate_bodies_are_422_problems(live_stack: Stack, body: dict[str, Any], code: str) -> None:
    with live_stack.client() as client:
        response = client.post("/v1/video/generate", json=body)
    _assert_problem(response, 422, code)


def test_a_lone_surrogate_in_the_prompt_is_refused(live_stack: Stack) -> None:
    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate",
            content=b'{"prompt": "broken \\ud800 text"}',
            headers={"Content-Type": "application/json"},
        )
    _assert_problem(response, 422, "invalid_input")


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"prompt": "unterminated', b"", b"[1, 2", b"\xff\xfe garbage"]
)
def test_malformed_json_is_a_400_problem(live_stack: Stack, content: bytes) -> None:
    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] in ("malformed_json", "invalid_input")


def test_an_oversized_body_is_413(live_stack: Stack) -> None:
    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate",
            content=b'{"prompt": "' + b"a" * (11 * 1024 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
        )
    _assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://example.com/image.png", "unsupported_scheme"),
        ("gopher://example.com/", "unsupported_scheme"),
        ("http://127.0.0.1/image.png", "private_address"),
        ("http://localhost:8000/image.png", "private_address"),
        ("http://[::1]/image.png", "private_address"),
        ("http://10.1.2.3/image.png", "private_address"),
        ("http://192.168.0.10/image.png", "private_address"),
        ("http://172.16.5.4/image.png", "private_address"),
        ("http://169.254.169.254/latest/meta-data/", "metadata_address"),
        ("http://[fe80::1]/image.png", "private_address"),
        ("http://[::ffff:127.0.0.1]/image.png", "private_address"),
        ("http://224.0.0.1/image.png", "private_address"),
        ("http://0.0.0.0/image.png", "private_address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata_address"),
        ("http://user:pass@example.com/image.png", "credentials_in_url"),
        ("data:text/html;base64,PGgxPg==", "unsupported_image_type"),
        ("data:image/png;base64,!!!notbase64", "bad_data_uri"),
        ("not a url at all", "unsupported_scheme"),
    ],
)
def test_unsafe_reference_image_urls_are_refused(live_stack: Stack, url: str, reason: str) -> None:
    response = live_stack.generate(prompt="animate this", reference_image_url=url)
    problem = _assert_problem(response, 422, "unsafe_url")
    assert problem["reason"] == reason


def test_no_credentials_is_401(live_stack: Stack) -> None:
    response = httpx.post(f"{live_stack.api_url}/v1/video/generate", json={"prompt": "x"})
    _assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", ["nonsense", "ifr_pk_proj_" + "a" * 40, "ifr_pk_proj_short", "x y"])
def test_unknown_or_malformed_keys_are_401(live_stack: Stack, key: str) -> None:
    response = httpx.get(
        f"{live_stack.api_url}/v1/video/jobs/vid_00000000000000000000000000",
        headers={"Authorization": f"Bearer {key}"},
    )
    _assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize("job_id", ["vid_00000000000000000000000000", "nope", "vid_" + "z" * 200, "../etc"])
def test_unknown_job_ids_are_404(live_stack: Stack, job_id: str) -> None:
    with live_stack.client() as client:
        status = client.get(f"/v1/video/jobs/{job_id}")
        cancel = client.post(f"/v1/video/jobs/{job_id}/cancel")
    _assert_problem(status, 404, "not_found")
    _assert_problem(cancel, 404, "not_found")


def test_another_projects_job_is_404_and_stays_untouched(live_stack: Stack) -> None:
    activation = httpx.post(f"{live_stack.api_url}/v1/accounts/activate", timeout=30)
    assert activation.status_code == 201, activation.text
    other_key = activation.json()["api_key"]
    job_id = live_stack.generate(prompt="a private job").json()["job_id"]
    with live_stack.client(other_key) as client:
        _assert_problem(client.get(f"/v1/video/jobs/{job_id}"), 404, "not_found")
        _assert_problem(client.post(f"/v1/video/jobs/{job_id}/cancel"), 404, "not_found")
    assert live_stack.wait_final(job_id)["state"] == "succeeded"


def test_unknown_routes_and_methods_are_problems(live_stack: Stack) -> None:
    with live_stack.client() as client:
        _assert_problem(client.get("/v1/nothing-here"), 404, "not_found")
        _assert_problem(client.delete("/v1/video/generate"), 405, "method_not_allowed")


def test_openapi_document_is_served(live_stack: Stack) -> None:
    document = httpx.get(f"{live_stack.api_url}/openapi.json", timeout=10).json()
    assert "/v1/video/generate" in document["paths"]
    assert "/v1/video/jobs/{job_id}" in document["paths"]
    assert "/v1/video/jobs/{job_id}/cancel" in document["paths"]
    assert "VideoJob" in document["components"]["schemas"]
