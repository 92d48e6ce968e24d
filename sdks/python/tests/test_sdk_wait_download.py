"""wait() polls to a final state; download() streams the MP4 to disk atomically and checks it."""

from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripted_api import BASE_URL, ScriptedAPI, job_json

from infrai import (
    AsyncInfrai,
    DownloadIntegrityError,
    Infrai,
    InfraiError,
    JobStateError,
    TimeoutError,
    VideoJob,
)

JOB_PATH = "/v1/video/jobs/vid_123"
MEDIA_PATH = "/v1/media/vid_123.mp4"
MP4 = b"\x00\x00\x00\x18ftypmp42" + os.urandom(200_000)


def succeeded(media_url: str = BASE_URL + MEDIA_PATH + "?sig=abc", body: bytes = MP4) -> dict[str, Any]:
    video = {"size_bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(), "width": 1280}
    return job_json(state="succeeded", progress=100, video_url=media_url, video=video)


def running(progress: int) -> httpx.Response:
    return httpx.Response(200, json=job_json(state="running", stage="generating", progress=progress))


class DroppedConnection(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that breaks off after its first chunk, like a connection reset mid-download."""

    def __iter__(self) -> Iterator[bytes]:
        yield MP4[:1000]
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield MP4[:1000]
        raise httpx.ReadError("connection reset by peer")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# wait


def test_wait_polls_until_the_job_succeeds(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, running(0), running(30), running(90), httpx.Response(200, json=succeeded()))
    seen: list[VideoJob] = []
    job = client.video.wait("vid_123", on_poll=seen.append)
    assert job.state == "succeeded"
    assert [j.progress for j in seen] == [0, 30, 90, 100]
    assert len(api.sent("GET", JOB_PATH)) == 4


@pytest.mark.parametrize("final", ["failed", "cancelled"])
def test_wait_returns_a_failed_or_cancelled_job(client: Infrai, api: ScriptedAPI, final: str) -> None:
    error = {"code": "content_policy", "message": "refused", "retryable": False, "billed": False}
    api.on("GET", JOB_PATH, running(10), httpx.Response(200, json=job_json(state=final, error=error)))
    job = client.video.wait("vid_123")
    assert job.state == final
    assert job.error is not None
    assert job.error.code == "content_policy"


def test_wait_gives_up_with_a_timeout_error_carrying_the_last_job(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, running(42))
    with pytest.raises(TimeoutError) as caught:
        client.video.wait("vid_123", timeout=0.05)
    assert isinstance(caught.value, InfraiError)
    assert isinstance(caught.value, builtins.TimeoutError)
    assert caught.value.job is not None and caught.value.job.progress == 42


def test_generate_with_wait_returns_the_final_job(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", "/v1/video/generate", httpx.Response(202, json=job_json()))
    api.on("GET", JOB_PATH, running(50), httpx.Response(200, json=succeeded()))
    job = client.video.generate("skyline", wait=True)
    assert job.state == "succeeded"


async def test_async_wait_polls_until_final(async_client: AsyncInfrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, running(10), httpx.Response(200, json=succeeded()))
    async with async_client:
        job = await async_client.video.wait("vid_123")
    assert job.state == "succeeded"


# download


def test_download_writes_the_mp4(client: Infrai, api: ScriptedAPI, tmp_path: Path) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on("GET", MEDIA_PATH, httpx.Response(200, content=MP4, headers={"Content-Type": "video/mp4"}))
    saved = client.video.download("vid_123", tmp_path / "clip.mp4")
    assert saved == tmp_path / "clip.mp4"
    assert saved.read_bytes() == MP4
    assert leftovers(tmp_path) == ["clip.mp4"]
    assert api.sent("GET", MEDIA_PATH)[0].url.params["sig"] == "abc"


def test_download_into_a_folder_names_the_file_after_the_job(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on("GET", MEDIA_PATH, httpx.Response(200, content=MP4))
    assert client.video.download("vid_123", tmp_path) == tmp_path / "vid_123.mp4"


def test_a_corrupt_download_leaves_the_old_file_untouched(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"the previous clip")
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on("GET", MEDIA_PATH, httpx.Response(200, content=MP4[:-1] + b"X"))
    with pytest.raises(DownloadIntegrityError, match="sha256"):
        client.video.download("vid_123", target)
    assert target.read_bytes() == b"the previous clip"
    assert leftovers(tmp_path) == ["clip.mp4"]


def test_a_short_download_is_rejected(client: Infrai, api: ScriptedAPI, tmp_path: Path) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on("GET", MEDIA_PATH, httpx.Response(200, content=MP4[:5000]))
    with pytest.raises(DownloadIntegrityError, match="bytes"):
        client.video.download("vid_123", tmp_path / "clip.mp4")
    assert leftovers(tmp_path) == []


def test_a_dropped_connection_is_retried_from_the_start(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on(
        "GET", MEDIA_PATH, httpx.Response(200, stream=DroppedConnection()), httpx.Response(200, content=MP4)
    )
    saved = client.video.download("vid_123", tmp_path / "clip.mp4")
    assert saved.read_bytes() == MP4
    assert len(api.sent("GET", MEDIA_PATH)) == 2
    assert leftovers(tmp_path) == ["clip.mp4"]


def test_download_of_a_job_that_did_not_succeed_raises(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("GET", JOB_PATH, running(50))
    with pytest.raises(JobStateError) as caught:
        client.video.download("vid_123", tmp_path / "clip.mp4")
    assert caught.value.job.state == "running"
    assert leftovers(tmp_path) == []


def test_the_api_key_goes_with_a_media_url_on_the_apis_own_origin(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on("GET", MEDIA_PATH, httpx.Response(200, content=MP4))
    client.video.download("vid_123", tmp_path / "own.mp4")
    assert api.sent("GET", MEDIA_PATH)[0].headers["Authorization"].startswith("Bearer ")


def test_the_api_key_never_goes_to_another_origin(client: Infrai, api: ScriptedAPI, tmp_path: Path) -> None:
    presigned = "http://bucket.s3.test/media/vid_123.mp4?X-Amz-Signature=abc"
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded(media_url=presigned)))
    api.on("GET", "/media/vid_123.mp4", httpx.Response(200, content=MP4))
    client.video.download("vid_123", tmp_path / "s3.mp4")
    media_request = api.sent("GET", "/media/vid_123.mp4")[0]
    assert media_request.url.host == "bucket.s3.test"
    assert "Authorization" not in media_request.headers


async def test_async_download_writes_the_mp4(
    async_client: AsyncInfrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("GET", JOB_PATH, httpx.Response(200, json=succeeded()))
    api.on(
        "GET", MEDIA_PATH, httpx.Response(200, stream=DroppedConnection()), httpx.Response(200, content=MP4)
    )
    async with async_client:
        saved = await async_client.video.download("vid_123", tmp_path / "clip.mp4")
    assert saved.read_bytes() == MP4
    assert leftovers(tmp_path) == ["clip.mp4"]
