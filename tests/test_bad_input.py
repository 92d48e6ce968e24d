"""Every bad input gets a clear 4xx problem JSON with a stable code — never a 500, never a changed job."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.ids import job_id_for_key
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


# -- unicode edge cases ------------------------------------------------------------------------------------

EMOJI = "\U0001f3ac"  # 🎬: four bytes in UTF-8, a surrogate pair in UTF-16 and in JSON escapes


def _dev_project(stack: Stack) -> str:
    with stack.client() as client:
        project: str = client.get("/v1/account").json()["project_id"]
    return project


def _assert_no_job(stack: Stack, key: str) -> None:
    """Nothing was started under ``key``: its job id is unknown to the API."""
    job_id = job_id_for_key(_dev_project(stack), key)
    with stack.client() as client:
        _assert_problem(client.get(f"/v1/video/jobs/{job_id}"), 404, "not_found")


@pytest.mark.parametrize(
    "prompt",
    [
        EMOJI * 4000,  # at the limit: 4000 code points, 16000 bytes
        "\u05e9\u05dc\u05d5\u05dd \u202eevil\u202c and \u200fRTL\u200f marks",  # bidi controls are text
        "zero\u200bwidth\u200cjoin\u200d\ufeffers",  # ZWSP, ZWNJ, ZWJ, BOM
        "\U0001f469\u200d\U0001f4bb family \U0001f1fa\U0001f1f8 flags, e\u0301 combining",
        "line one\nline two\r\n\ttabbed",
    ],
    ids=["emoji-at-limit", "rtl-override", "zero-width", "zwj-sequences", "newlines-tabs"],
)
def test_unusual_but_valid_unicode_prompts_are_accepted(live_stack: Stack, prompt: str) -> None:
    response = live_stack.generate(prompt=prompt)
    assert response.status_code == 202, response.text


def test_an_emoji_prompt_at_the_limit_completes(live_stack: Stack) -> None:
    response = live_stack.generate(prompt=EMOJI * 4000)
    assert response.status_code == 202, response.text
    assert live_stack.wait_final(response.json()["job_id"])["state"] == "succeeded"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": EMOJI * 4001}, "prompt"),
        ({"prompt": "a" * 3999 + EMOJI * 2}, "prompt"),
        ({"prompt": "ok", "reference_image_url": "http://example.com/\x00.png"}, "reference_image_url"),
        ({"prompt": "bell \x07 and escape \x1b[31m red"}, "prompt"),
        ({"prompt": "C1 control \x85 here"}, "prompt"),
        ({"prompt": "ok", "model": "local\u202epreview"}, "model"),
        ({"prompt": "ok", "vendor": "lo\u200bcal"}, "vendor"),
        ({"prompt": "ok", "idempotency_key": "abc\n"}, "idempotency_key"),
        ({"prompt": "ok", "idempotency_key": "abc\r\nX-Injected: 1"}, "idempotency_key"),
        ({"prompt": "ok", "idempotency_key": "cl\u00e9"}, "idempotency_key"),
    ],
    ids=[
        "emoji-over-limit", "mixed-over-limit", "nul-in-url", "c0-controls", "c1-control", "rtl-in-model",
        "zero-width-in-vendor", "key-trailing-newline", "key-crlf", "key-non-ascii",
    ],
)  # fmt: skip
def test_invalid_unicode_in_fields_is_a_422_naming_the_field(
    live_stack: Stack, body: dict[str, Any], field: str
) -> None:
    key = "bad-input-" + secrets.token_hex(8)
    if field != "idempotency_key":
        body = {**body, "idempotency_key": key}
    with live_stack.client() as client:
        problem = _assert_problem(client.post("/v1/video/generate", json=body), 422, "invalid_input")
    assert field in problem["detail"], problem
    _assert_no_job(live_stack, key)


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "\\udc00\\ud800", "x\\ud83c"])
def test_lone_surrogates_in_any_text_field_are_refused(live_stack: Stack, escaped: str) -> None:
    for field in ("prompt", "reference_image_url", "model", "idempotency_key"):
        body = f'{{"prompt": "ok", "{field}": "{escaped}"}}'.encode()
        with live_stack.client() as client:
            response = client.post(
                "/v1/video/generate", content=body, headers={"Content-Type": "application/json"}
            )
        _assert_problem(response, 422, "invalid_input")


# -- bodies the parser must survive ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),  # deeper than any recursion limit
        (b'{"prompt": "x", "duration_seconds": ' + b"9" * 5000 + b"}", 400),  # past int's digit limit
        (b'{"prompt": "x", "duration_seconds": 1e999999}', 422),  # infinity
        (b'{"prompt": "x", "duration_seconds": NaN}', 422),
        (b'"just a string"', 422),
        (b"null", 422),
        (b'{"prompt": "raw \x00 nul in the document"}', 400),
        (b'{"prompt": "raw \x1f control"}', 400),
        ('{"prompt": "bad utf-8 \udcff"}'.encode("utf-8", "surrogateescape"), 400),
    ],
    ids=[
        "deep-nesting",
        "huge-int",
        "infinity",
        "nan",
        "string",
        "null",
        "raw-nul",
        "raw-control",
        "bad-utf8",
    ],
)
def test_hostile_json_documents_are_clear_4xx(live_stack: Stack, content: bytes, status: int) -> None:
    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == ("malformed_json" if status == 400 else "invalid_input")


def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(live_stack: Stack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(12):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    _assert_problem(response, 413, "payload_too_large")


def test_a_non_json_content_type_is_a_422(live_stack: Stack) -> None:
    with live_stack.client() as client:
        response = client.post(
            "/v1/video/generate", content=b"prompt=x", headers={"Content-Type": "text/plain"}
        )
    _assert_problem(response, 422, "invalid_input")


# -- header injection ----------------------------------------------------------------------------------


def _raw_generate(stack: Stack, headers: bytes, body: bytes) -> tuple[int, bytes, bytes]:
    """POST /v1/video/generate over a bare socket, with header bytes no HTTP client would send."""
    host, _, port = stack.api_url.removeprefix("http://").rpartition(":")
    request = (
        b"POST /v1/video/generate HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Authorization: Bearer " + stack.dev_key.encode() + b"\r\n"
        b"Content-Type: application/json\r\n" + headers +
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, payload


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Idempotency-Key: abc\nX-Injected: 1\r\n", 400),  # bare LF inside a header line
        (b"Idempotency-Key: abc\rX-Injected: 1\r\n", 400),  # bare CR
        (b"Idempotency-Key: ab\x00c\r\n", 400),
        (b"Idempotency-Key: abc\r\n X-Folded: 1\r\n", 400),  # obsolete line folding
        ("Idempotency-Key: clé\r\n".encode(), 422),  # UTF-8 bytes
        (b"Idempotency-Key: cl\xe9\r\n", 422),  # Latin-1 bytes
        (b"Idempotency-Key: a\tb\r\n", 422),
        (b"Idempotency-Key: \r\n", 422),
        (b"Idempotency-Key: " + b"k" * 300 + b"\r\n", 422),
        (b"Idempotency-Key: one\r\nIdempotency-Key: two\r\n", 422),  # which one would a proxy use?
    ],
    ids=["bare-lf", "bare-cr", "nul", "obs-fold", "utf8", "latin1", "tab", "empty", "too-long", "twice"],
)
def test_hostile_idempotency_key_headers_are_4xx_and_start_nothing(
    live_stack: Stack, header: bytes, expected: int
) -> None:
    key = "header-test-" + secrets.token_hex(8)
    body = json.dumps({"prompt": "x", "duration_seconds": 1, "idempotency_key": key}).encode()
    status, head, payload = _raw_generate(live_stack, header, body)
    assert status == expected, (head, payload)
    assert b"x-injected" not in head.lower() and b"x-folded" not in head.lower()
    if status == 422:  # ours; the 400s come from the HTTP parser before the app sees the request
        assert b"application/problem+json" in head.lower()
        assert json.loads(payload)["code"] == "invalid_input"
    _assert_no_job(live_stack, key)


def test_a_valid_key_after_hostile_attempts_still_starts_exactly_one_job(live_stack: Stack) -> None:
    key = "header-test-" + secrets.token_hex(8)
    body = json.dumps({"prompt": "x", "duration_seconds": 1}).encode()
    first, _, payload = _raw_generate(live_stack, f"Idempotency-Key: {key}\r\n".encode(), body)
    again, _, payload_again = _raw_generate(live_stack, f"Idempotency-Key: {key}\r\n".encode(), body)
    assert (first, again) == (202, 200)
    assert json.loads(payload)["job_id"] == json.loads(payload_again)["job_id"]


# -- numbers past Python's int-from-string limit (4300 digits) ---------------------------------------------

HUGE = "9" * 5000


@pytest.fixture(scope="module")
def finished_job(stack: Stack) -> dict[str, Any]:
    stack.ensure_running()
    response = stack.generate(prompt="a lighthouse at dusk")
    assert response.status_code == 202, response.text
    return stack.wait_final(response.json()["job_id"])


def test_a_huge_prefer_wait_on_an_unknown_job_is_the_usual_404(live_stack: Stack) -> None:
    with live_stack.client() as client:
        response = client.get(
            "/v1/video/jobs/vid_00000000000000000000000000", headers={"Prefer": f"wait={HUGE}"}
        )
    _assert_problem(response, 404, "not_found")


def test_a_huge_prefer_wait_counts_as_the_longest_wait_allowed(
    live_stack: Stack, finished_job: dict[str, Any]
) -> None:
    # delta-seconds too large to represent are the largest we can (RFC 9111 1.2.2): here the 60 s cap.
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{finished_job['job_id']}", headers={"Prefer": f"wait={HUGE}"})
    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=60"
    assert response.json()["state"] == "succeeded"


def test_a_media_url_with_a_huge_exp_is_a_403_invalid_signature(
    live_stack: Stack, finished_job: dict[str, Any]
) -> None:
    url = httpx.URL(finished_job["video_url"])
    forged = url.copy_set_param("exp", HUGE)
    _assert_problem(httpx.get(forged, timeout=30), 403, "invalid_signature")
    assert httpx.get(url, timeout=30).status_code == 200  # the URL as signed still works


def _assert_openai_error(response: httpx.Response, status: int, code: str, param: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error"), error
    assert error["message"]


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded", "json"])
def test_openai_create_with_huge_seconds_is_a_400_naming_seconds(live_stack: Stack, encoding: str) -> None:
    fields = {"prompt": "a kite", "seconds": HUGE}
    with live_stack.client() as client:
        if encoding == "multipart":
            response = client.post("/v1/videos", files={key: (None, value) for key, value in fields.items()})
        elif encoding == "urlencoded":
            response = client.post("/v1/videos", data=fields)
        else:
            response = client.post("/v1/videos", json=fields)
    _assert_openai_error(response, 400, "invalid_input", "seconds")


def test_openai_create_with_a_huge_json_number_of_seconds_is_a_400(live_stack: Stack) -> None:
    content = b'{"prompt": "a kite", "seconds": ' + HUGE.encode() + b"}"
    with live_stack.client() as client:
        response = client.post("/v1/videos", content=content, headers={"Content-Type": "application/json"})
    _assert_openai_error(response, 400, "invalid_input", "body")
    assert "5000 digits" in response.json()["error"]["message"]


@pytest.mark.parametrize("last_event_id", [HUGE, "-" + HUGE, "1e999", "\u0661\u0662"])
def test_a_last_event_id_that_is_not_ours_restarts_the_stream(
    live_stack: Stack, finished_job: dict[str, Any], last_event_id: str
) -> None:
    with live_stack.client() as client:
        response = client.get(
            f"/v1/video/jobs/{finished_job['job_id']}/events",
            headers={"Last-Event-ID": last_event_id.encode()},
        )
    assert response.status_code == 200, response.text
    assert "event: job" in response.text and '"state":"succeeded"' in response.text


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"limit": HUGE}, 422, "invalid_input"),
        ({"limit": "-" + HUGE}, 422, "invalid_input"),
        ({"after": HUGE}, 400, "invalid_cursor"),
    ],
)
def test_huge_listing_parameters_are_4xx_problems(
    live_stack: Stack, query: dict[str, str], status: int, code: str
) -> None:
    with live_stack.client() as client:
        response = client.get("/v1/video/jobs", params=query)
    _assert_problem(response, status, code)
