"""The official ``openai`` package against our OpenAI-compatible videos API: create, retrieve,
download_content, list and delete map onto ordinary jobs."""

from __future__ import annotations

import io
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.fixtures.stack import Stack


@pytest.fixture
def client(live_stack: Stack) -> Iterator[openai.OpenAI]:
    with warnings.catch_warnings():
        # The SDK marks its videos methods deprecated (OpenAI's Sora shutdown); the API shape is what counts.
        warnings.simplefilter("ignore", DeprecationWarning)
        with openai.OpenAI(
            base_url=f"{live_stack.api_url}/v1", api_key=live_stack.dev_key, max_retries=0, timeout=60
        ) as sdk:
            yield sdk


def _completed(client: openai.OpenAI, video_id: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.3)
    raise AssertionError(f"{video_id} not finished after {timeout}s")


def _probe(data: bytes) -> tuple[str, int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.width, stream.height, frames


def test_create_retrieve_and_download_a_video(client: openai.OpenAI, live_stack: Stack) -> None:
    video = client.videos.create(prompt="a paper boat on a pond", seconds="2", size="1280x720")
    assert video.object == "video" and video.id.startswith("vid_")
    assert video.status in ("queued", "in_progress")
    assert (video.seconds, video.size, video.prompt) == ("2", "1280x720", "a paper boat on a pond")

    done = _completed(client, video.id)
    assert done.status == "completed" and done.progress == 100, done
    assert done.completed_at is not None and done.completed_at >= done.created_at
    assert done.model == live_stack.job(video.id)["model"]  # an ordinary job under the same id

    content = client.videos.download_content(video.id)
    assert _probe(content.read()) == ("h264", 1280, 720, 48)
    thumbnail = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").read()))
    assert thumbnail.format == "JPEG" and thumbnail.size[0] > thumbnail.size[1]


def test_size_picks_aspect_and_resolution_and_the_default_is_portrait(client: openai.OpenAI) -> None:
    default = client.videos.create(prompt="a tall tower")
    assert (default.size, default.seconds) == ("720x1280", "4")
    tall = client.videos.create(prompt="a tall tower", size="1024x1792", seconds="1")
    assert tall.size == "1080x1920"
    square = client.videos.create(prompt="a square", size="720x720", seconds="1")
    assert square.size == "720x720"


def test_an_uploaded_reference_image_is_animated(client: openai.OpenAI) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (30, 30, 210)).save(buffer, format="PNG")
    video = client.videos.create(
        prompt="into the blue",
        seconds="1",
        size="1280x720",
        input_reference=("blue.png", buffer.getvalue(), "image/png"),
    )
    assert _completed(client, video.id).status == "completed"
    with av.open(io.BytesIO(client.videos.download_content(video.id).read())) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = (frame[..., channel].mean() for channel in range(3))
    assert blue > red + 60 and blue > green + 60


def test_list_pages_through_videos_newest_first(client: openai.OpenAI) -> None:
    made = [client.videos.create(prompt=f"listed {n}", seconds="1").id for n in range(3)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first_page = client.videos.list(limit=2)
        if [v.id for v in first_page.data] == made[:0:-1]:
            break
        time.sleep(0.2)
    assert [v.id for v in first_page.data] == [made[2], made[1]]
    assert first_page.has_more and first_page.last_id == made[1]
    following = [v.id for v in client.videos.list(limit=2, after=first_page.last_id).data]
    assert following[0] == made[0]
    walked = [v.id for _, v in zip(range(3), client.videos.list(limit=1), strict=False)]  # auto-pagination
    assert walked == made[::-1]


def test_delete_removes_a_finished_video_and_refuses_a_running_one(client: openai.OpenAI) -> None:
    running = client.videos.create(prompt="still going", seconds="3")
    with pytest.raises(openai.ConflictError) as not_finished:
        client.videos.delete(running.id)
    assert not_finished.value.code == "video_not_finished"
    with pytest.raises(openai.ConflictError) as not_ready:
        client.videos.download_content(running.id)
    assert not_ready.value.code == "video_not_ready"

    done = _completed(client, running.id)
    deleted = client.videos.delete(done.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (done.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(done.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(done.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(done.id)
    assert done.id not in [v.id for v in client.videos.list(limit=100).data]


def test_errors_come_in_openais_shape(client: openai.OpenAI, live_stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.videos.create(prompt="x", size="huge")
    assert bad_size.value.param == "size" and "1280x720" in bad_size.value.message
    with pytest.raises(openai.BadRequestError) as bad_seconds:
        client.videos.create(prompt="x", seconds="99")
    assert bad_seconds.value.param == "seconds"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("vid_" + "0" * 26)
    with (
        openai.OpenAI(
            base_url=f"{live_stack.api_url}/v1", api_key="ifr_pk_proj_nope", max_retries=0
        ) as stranger,
        pytest.raises(openai.AuthenticationError) as unauthorized,
    ):
        stranger.videos.list()
    assert unauthorized.value.body["type"] == "authentication_error"  # type: ignore[index]


def test_json_bodies_are_accepted_too(live_stack: Stack) -> None:
    response = httpx.post(
        f"{live_stack.api_url}/v1/videos",
        json={
            "prompt": "json body",
            "seconds": 1,
            "size": "1280x720",
            "input_reference": {"image_url": "ftp://x/y"},
        },
        headers={"Authorization": f"Bearer {live_stack.dev_key}"},
        timeout=30,
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "unsafe_url"
    response = httpx.post(
        f"{live_stack.api_url}/v1/videos",
        json={"prompt": "json body", "seconds": 1, "size": "1280x720"},
        headers={"Authorization": f"Bearer {live_stack.dev_key}"},
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["status"] in ("queued", "in_progress")


def test_replaying_the_key_of_a_deleted_video_answers_deleted_not_the_video(
    client: openai.OpenAI, live_stack: Stack
) -> None:
    key = {"Idempotency-Key": "deleted-replay-" + secrets.token_hex(4)}
    video = client.videos.create(prompt="a short-lived clip", seconds="1", extra_headers=key)
    _completed(client, video.id)
    client.videos.delete(video.id)

    with pytest.raises(openai.NotFoundError) as replayed:
        client.videos.create(prompt="a short-lived clip", seconds="1", extra_headers=key)
    with live_stack.client() as native:
        status = native.get(f"/v1/video/jobs/{video.id}")
        generate = native.post("/v1/video/generate", headers=key, json={"prompt": "another body"})
        unroutable = native.post(
            "/v1/video/generate", headers=key, json={"prompt": "ok", "vendor": "no-such-vendor"}
        )

    assert replayed.value.code == "job_deleted"
    assert status.status_code == 404  # the deleted job's status: 404 too, so both agree it is gone
    assert generate.status_code == 404, generate.text  # any body: the key's job is gone, not in conflict
    assert generate.headers["content-type"].startswith("application/problem+json")
    assert (generate.json()["code"], generate.json()["job_id"]) == ("job_deleted", video.id)
    assert (unroutable.status_code, unroutable.json()["code"]) == (404, "job_deleted")  # not no_route
