"""The API's media route for the local backend, over real HTTP on uvicorn: signatures, ranges, problems."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.problems import install_problem_handlers
from api.routes import media
from core.settings import Settings
from storage import LocalMediaStorage, MediaStorage, build_storage, sign_media_path
from tests.fixtures.ports import free_port, wait_for_http
from tests.fixtures.s3 import MotoS3
from tests.test_storage_backends import MiB, pattern_bytes, stream_of

VIDEO_KEY = "videos/proj_1/vid_1/video.mp4"
VIDEO = pattern_bytes(3 * MiB + 17, seed=30)  # spans several of FileResponse's 64 KiB chunks


@dataclass
class MediaApi:
    """A real FastAPI app with the media router, on uvicorn; tests swap ``app.state.storage``."""

    app: FastAPI
    base_url: str


@pytest.fixture(scope="module")
def media_api() -> Iterator[MediaApi]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(media.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    wait_for_http(base_url + "/docs")
    yield MediaApi(app, base_url)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
async def local_storage(media_api: MediaApi, tmp_path: Path) -> AsyncIterator[LocalMediaStorage]:
    storage = build_storage(Settings(data_dir=tmp_path, public_base_url=media_api.base_url))
    assert isinstance(storage, LocalMediaStorage)
    await storage.put_stream(VIDEO_KEY, stream_of(VIDEO), "video/mp4")
    media_api.app.state.storage = storage
    yield storage
    await storage.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert {"type", "title", "status", "detail", "code"} <= body.keys()


def signed(storage: LocalMediaStorage, key: str, exp: int) -> str:
    secret = storage._signing_secret  # the test plays an older API process minting a URL
    return f"{storage._public_base_url}/v1/media/{key}?exp={exp}&sig={sign_media_path(key, exp, secret)}"


async def test_signed_url_serves_the_whole_file(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient
) -> None:
    response = await http.get(local_storage.signed_url(VIDEO_KEY, 300))

    assert response.status_code == 200
    assert response.content == VIDEO
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(len(VIDEO))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"].startswith("private, max-age=")


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=1048570-1048589", 1048570, 1048590),  # across an internal chunk boundary
        (f"bytes={len(VIDEO) - 10}-", len(VIDEO) - 10, len(VIDEO)),  # open-ended
        ("bytes=-25", len(VIDEO) - 25, len(VIDEO)),  # suffix
        (f"bytes=100-{10 * len(VIDEO)}", 100, len(VIDEO)),  # end past the file is clipped
    ],
)
async def test_range_request_gets_206_with_exactly_those_bytes(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient, range_header: str, start: int, end: int
) -> None:
    response = await http.get(local_storage.signed_url(VIDEO_KEY, 300), headers={"Range": range_header})

    assert response.status_code == 206
    assert response.content == VIDEO[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(VIDEO)}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["content-type"] == "video/mp4"


async def test_range_past_the_end_is_416(local_storage: LocalMediaStorage, http: httpx.AsyncClient) -> None:
    url = local_storage.signed_url(VIDEO_KEY, 300)
    response = await http.get(url, headers={"Range": f"bytes={len(VIDEO)}-"})

    assert_problem(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == f"bytes */{len(VIDEO)}"


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=0-" + "9" * 5000,  # past int()'s digit limit: Starlette skips it, leaving no range
        "bytes=" + "9" * 5000 + "-",
        "bytes=-" + "9" * 5000,
        "bytes=abc-def",
        "items=0-10",
        "bytes=10-5",
    ],
    ids=["huge-end", "huge-start", "huge-suffix", "letters", "other-unit", "backwards"],
)
async def test_a_malformed_range_is_a_400_problem(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient, range_header: str
) -> None:
    response = await http.get(local_storage.signed_url(VIDEO_KEY, 300), headers={"Range": range_header})

    assert_problem(response, 400, "invalid_range")


async def test_head_gives_headers_without_body(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient
) -> None:
    response = await http.head(local_storage.signed_url(VIDEO_KEY, 300))

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(VIDEO))
    assert response.headers["content-type"] == "video/mp4"
    assert response.content == b""


async def test_expired_url_is_403_expired_url(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient
) -> None:
    response = await http.get(signed(local_storage, VIDEO_KEY, int(time.time()) - 1))

    assert_problem(response, 403, "expired_url")


@pytest.mark.parametrize("tamper", ["key", "exp", "sig", "missing_sig", "missing_exp", "bad_exp"])
async def test_tampered_url_is_403_invalid_signature(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient, tamper: str
) -> None:
    other_key = "videos/proj_2/vid_9/video.mp4"
    await local_storage.put_stream(other_key, stream_of(b"someone else's video"), "video/mp4")
    url = local_storage.signed_url(VIDEO_KEY, 300)
    exp = url.split("exp=")[1].split("&")[0]
    sig = url.split("sig=")[1]
    tampered = {
        "key": url.replace(VIDEO_KEY, other_key),
        "exp": url.replace(f"exp={exp}", f"exp={int(exp) + 86400}"),
        "sig": url.replace(f"sig={sig}", f"sig={sig[::-1]}"),
        "missing_sig": url.split("&sig=")[0],
        "missing_exp": url.replace(f"exp={exp}&", ""),
        "bad_exp": url.replace(f"exp={exp}", "exp=soon"),
    }[tamper]

    response = await http.get(tampered)

    assert_problem(response, 403, "invalid_signature")


async def test_validly_signed_missing_object_is_404(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient
) -> None:
    response = await http.get(local_storage.signed_url("videos/never/written.mp4", 300))

    assert_problem(response, 404, "not_found")


async def test_deleted_object_is_404(local_storage: LocalMediaStorage, http: httpx.AsyncClient) -> None:
    url = local_storage.signed_url(VIDEO_KEY, 300)
    await local_storage.delete(VIDEO_KEY)

    assert_problem(await http.get(url), 404, "not_found")


async def test_signed_path_traversal_cannot_reach_outside_files(
    local_storage: LocalMediaStorage, http: httpx.AsyncClient
) -> None:
    (local_storage.root.parent / "media-signing.key").write_bytes(b"x" * 32)
    key = "../media-signing.key"
    url = signed(local_storage, key, int(time.time()) + 300)  # even a correctly signed bad key

    response = await http.get(url.replace("/../", "/%2E%2E/"))

    assert_problem(response, 404, "not_found")


async def test_s3_backend_is_never_proxied(
    media_api: MediaApi, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    storage: MediaStorage = build_storage(moto_s3.settings(s3_bucket, tmp_path))
    await storage.put_stream(VIDEO_KEY, stream_of(b"in s3"), "video/mp4")
    media_api.app.state.storage = storage
    try:
        local_style = LocalMediaStorage(
            tmp_path / "other", public_base_url=media_api.base_url, signing_secret=b"k"
        )
        response = await http.get(local_style.signed_url(VIDEO_KEY, 300))
    finally:
        await storage.aclose()

    assert_problem(response, 404, "not_found")
