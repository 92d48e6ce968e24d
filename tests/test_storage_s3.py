"""S3-specific behaviour: pipelined multipart uploads, abort on failure, ranged reads, presigned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from storage import S3MediaStorage, StorageError, build_storage
from storage.s3 import DEFAULT_PARTS_IN_FLIGHT
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import MotoS3
from tests.test_storage_backends import PART_MB, MiB, pattern_bytes, stream_of

PART_BYTES = PART_MB * MiB
# Bounds a hook's wait for something that never happens if the code under test is wrong; never reached
# when it is right.
HOOK_WAIT_SECONDS = 30


@pytest.fixture
async def s3_storage(moto_s3: MotoS3, s3_bucket: str, tmp_path: Path) -> AsyncIterator[S3MediaStorage]:
    storage = build_storage(moto_s3.settings(s3_bucket, tmp_path, s3_part_size_mb=PART_MB))
    assert isinstance(storage, S3MediaStorage)
    yield storage
    await storage.aclose()


def s3_bucket_exists(moto: MotoS3, bucket: str) -> bool:
    client = moto.client()
    try:
        return bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    finally:
        client.close()


def part_number_of(params: dict[str, Any]) -> int:
    return int(params["query_string"]["partNumber"])


async def test_next_part_is_read_while_the_previous_uploads(s3_storage: S3MediaStorage) -> None:
    """Part 1's upload is held until the stream has produced part 3 and part 2 is uploading: only a
    pipelined upload (reading on while a thread uploads) ever gets there."""
    third_part_read = threading.Event()
    second_part_uploading = threading.Event()
    lock = threading.Lock()
    in_flight = 0
    most_in_flight = 0
    first_part_released: list[bool] = []

    def before_part(params: dict[str, Any], **_: Any) -> None:
        nonlocal in_flight, most_in_flight
        with lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        number = part_number_of(params)
        if number == 2:
            second_part_uploading.set()
        if number == 1:
            first_part_released.append(
                third_part_read.wait(HOOK_WAIT_SECONDS) and second_part_uploading.wait(HOOK_WAIT_SECONDS)
            )

    def after_part(**_: Any) -> None:
        nonlocal in_flight
        with lock:
            in_flight -= 1

    s3_storage.client.meta.events.register("before-call.s3.UploadPart", before_part)
    s3_storage.client.meta.events.register("after-call.s3.UploadPart", after_part)
    data = pattern_bytes(5 * PART_BYTES + 3, seed=20)

    async def chunks() -> AsyncIterator[bytes]:
        produced = 0
        async for chunk in stream_of(data):
            produced += len(chunk)
            if produced >= 3 * PART_BYTES:
                third_part_read.set()
            yield chunk

    stored = await s3_storage.put_stream("pipelined.mp4", chunks(), "video/mp4")

    assert first_part_released == [True]
    # Overlapping, and never more parts in memory than the pipeline allows.
    assert most_in_flight == DEFAULT_PARTS_IN_FLIGHT
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_failing_part_aborts_the_whole_upload(s3_storage: S3MediaStorage) -> None:
    def fail_third_part(params: dict[str, Any], **_: Any) -> None:
        if part_number_of(params) == 3:
            raise ConnectionResetError("network gone while sending part 3")

    s3_storage.client.meta.events.register("before-call.s3.UploadPart", fail_third_part)

    with pytest.raises(ConnectionResetError):
        await s3_storage.put_stream("failed-part.mp4", stream_of(pattern_bytes(6 * PART_BYTES)), "video/mp4")

    assert s3_storage.client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", []) == []
    assert await s3_storage.head("failed-part.mp4") is None


async def test_cancellation_while_the_upload_is_being_created_still_aborts_it(
    s3_storage: S3MediaStorage,
) -> None:
    create_started = threading.Event()
    release_create = threading.Event()

    def hold_create(**_: Any) -> None:
        create_started.set()
        release_create.wait(HOOK_WAIT_SECONDS)

    s3_storage.client.meta.events.register("before-call.s3.CreateMultipartUpload", hold_create)
    task = asyncio.create_task(
        s3_storage.put_stream("cancel-at-create.mp4", stream_of(pattern_bytes(2 * PART_BYTES)), "video/mp4")
    )
    assert await asyncio.to_thread(create_started.wait, HOOK_WAIT_SECONDS)

    task.cancel()  # lands while CreateMultipartUpload is on its way: the thread cannot be stopped
    release_create.set()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert s3_storage.client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", []) == []


async def test_multipart_object_records_its_sha256_for_head(s3_storage: S3MediaStorage) -> None:
    data = pattern_bytes(2 * PART_BYTES + 1, seed=21)
    await s3_storage.put_stream("tagged.mp4", stream_of(data), "video/mp4")

    head = await s3_storage.head("tagged.mp4")

    assert head is not None and head.sha256 == hashlib.sha256(data).hexdigest()
    assert head.content_type == "video/mp4"


async def test_object_written_by_another_tool_has_unknown_sha256(s3_storage: S3MediaStorage) -> None:
    s3_storage.client.put_object(Bucket=s3_storage.bucket, Key="foreign.bin", Body=b"abc", ContentType="a/b")

    head = await s3_storage.head("foreign.bin")

    assert head is not None and (head.size_bytes, head.sha256, head.content_type) == (3, "", "a/b")


async def test_presigned_url_downloads_with_plain_httpx(s3_storage: S3MediaStorage) -> None:
    data = pattern_bytes(PART_BYTES + 10, seed=22)
    await s3_storage.put_stream("videos/p/j/video.mp4", stream_of(data), "video/mp4")

    url = s3_storage.signed_url("videos/p/j/video.mp4", 600)
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        ranged = await client.get(url, headers={"Range": "bytes=100-199"})

    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "video/mp4"
    assert ranged.status_code == 206 and ranged.content == data[100:200]


async def test_presigned_urls_are_signed_for_the_public_endpoint(
    moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    storage = build_storage(
        moto_s3.settings(s3_bucket, tmp_path, s3_public_endpoint_url="https://media.example.test")
    )
    try:
        url = storage.signed_url("videos/a.mp4", 60)
    finally:
        await storage.aclose()

    assert urlsplit(url).netloc == "media.example.test"
    assert urlsplit(url).path == f"/{s3_bucket}/videos/a.mp4"


async def test_presigned_url_lifetime_is_limited_to_sigv4s_seven_days(s3_storage: S3MediaStorage) -> None:
    with pytest.raises(ValueError):
        s3_storage.signed_url("a.mp4", 8 * 24 * 3600)


async def test_reader_fetches_blocks_not_the_whole_object(s3_storage: S3MediaStorage) -> None:
    data = pattern_bytes(20 * MiB, seed=23)
    await s3_storage.put_stream("blocks.bin", stream_of(data), "video/mp4")

    def read_head_and_tail() -> tuple[bytes, bytes, int, int]:
        with s3_storage.open_reader("blocks.bin") as reader:
            start = reader.read(1000)
            reader.seek(-1000, 2)
            end = reader.read()
            reader.seek(500)
            reader.read(100)  # cached: no new request
            raw: Any = reader.raw
            return start, end, raw.requests, raw.bytes_fetched

    start, end, requests, fetched = await asyncio.to_thread(read_head_and_tail)

    assert (start, end) == (data[:1000], data[-1000:])
    assert requests == 2
    assert fetched == 2 * MiB


async def test_reader_refuses_to_mix_versions_when_the_object_is_replaced(s3_storage: S3MediaStorage) -> None:
    await s3_storage.put_stream("replaced.bin", stream_of(pattern_bytes(3 * MiB, seed=24)), "video/mp4")
    reader = await asyncio.to_thread(s3_storage.open_reader, "replaced.bin")
    try:
        await asyncio.to_thread(reader.read, 10)
        await s3_storage.put_stream("replaced.bin", stream_of(pattern_bytes(3 * MiB, seed=25)), "video/mp4")
        await asyncio.to_thread(reader.seek, 2 * MiB)

        with pytest.raises(StorageError):
            await asyncio.to_thread(reader.read, 10)
    finally:
        reader.close()


async def test_ensure_bucket_creates_a_missing_bucket_once(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = f"created-{free_port()}"
    storage = build_storage(moto_s3.settings(bucket, tmp_path))
    assert isinstance(storage, S3MediaStorage)
    try:
        assert s3_bucket_exists(moto_s3, bucket) is False

        await storage.ensure_bucket()
        await storage.ensure_bucket()

        assert s3_bucket_exists(moto_s3, bucket) is True
        stored = await storage.put_stream("a.txt", stream_of(b"x"), "text/plain")
        assert await storage.head("a.txt") == stored
    finally:
        await storage.aclose()


async def test_missing_bucket_is_a_permanent_storage_error(moto_s3: MotoS3, tmp_path: Path) -> None:
    storage = build_storage(moto_s3.settings("no-such-bucket-here", tmp_path))
    try:
        with pytest.raises(StorageError) as caught:
            await storage.put_stream("a.txt", stream_of(b"x"), "text/plain")
        assert caught.value.retryable is False
        assert "NoSuchBucket" in caught.value.message
    finally:
        await storage.aclose()


async def test_unreachable_endpoint_is_a_retryable_storage_error(tmp_path: Path) -> None:
    settings = MotoS3(f"http://127.0.0.1:{free_port()}").settings("bucket", tmp_path)
    storage = build_storage(settings)
    try:
        with pytest.raises(StorageError) as caught:
            await storage.put_stream("a.txt", stream_of(b"x"), "text/plain")
        assert caught.value.retryable is True
    finally:
        await storage.aclose()


async def test_half_configured_credentials_are_refused(moto_s3: MotoS3, tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        build_storage(moto_s3.settings("bucket", tmp_path, s3_secret_access_key=None))
