"""What every media storage backend promises, checked on both: local files and S3 (moto over HTTP)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from core.settings import Settings
from storage import (
    InvalidObjectKeyError,
    LocalMediaStorage,
    MediaStorage,
    ObjectNotFoundError,
    S3MediaStorage,
    StorageError,
    build_storage,
)
from storage.digest import Digest
from tests.fixtures.s3 import MotoS3

MiB = 1024 * 1024
PART_MB = 5  # S3's minimum part size keeps the multipart tests fast
LARGE_BYTES = 40 * MiB + 12_345  # eight full parts and a short last one


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset, so a misplaced range cannot pass for the right one."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


async def stream_of(data: bytes, chunk_bytes: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_bytes):
        yield data[start : start + chunk_bytes]


class StreamBroke(RuntimeError):
    pass


async def stream_that_breaks(after_bytes: int) -> AsyncIterator[bytes]:
    async for chunk in stream_of(pattern_bytes(after_bytes)):
        yield chunk
    raise StreamBroke("the vendor hung up")


@pytest.fixture(params=["local", "s3"])
async def media_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStorage]:
    if request.param == "local":
        storage = build_storage(Settings(data_dir=tmp_path, media_signing_secret="test-secret-" + "s" * 32))
    else:
        moto: MotoS3 = request.getfixturevalue("moto_s3")
        storage = build_storage(moto.settings(moto.new_bucket(), tmp_path, s3_part_size_mb=PART_MB))
    yield storage
    await storage.aclose()


def leftovers(storage: MediaStorage) -> list[str]:
    """Everything a failed write could leave behind: files (local) or unfinished multipart uploads (S3)."""
    if isinstance(storage, LocalMediaStorage):
        return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file())
    assert isinstance(storage, S3MediaStorage)
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
    objects = storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
    return [f"upload:{u['Key']}" for u in uploads] + [f"object:{o['Key']}" for o in objects]


async def test_small_object_round_trips_with_size_checksum_and_type(media_storage: MediaStorage) -> None:
    data = b"a small thumbnail"
    stored = await media_storage.put_stream("videos/p1/j1/thumbnail.jpg", stream_of(data), "image/jpeg")

    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await media_storage.head("videos/p1/j1/thumbnail.jpg") == stored
    with media_storage.open_reader("videos/p1/j1/thumbnail.jpg") as reader:
        assert reader.read() == data


async def test_empty_object_is_stored(media_storage: MediaStorage) -> None:
    stored = await media_storage.put_stream("empty.bin", stream_of(b""), "application/octet-stream")

    assert stored.size_bytes == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await media_storage.head("empty.bin") == stored


async def test_multipart_object_round_trips_byte_for_byte(media_storage: MediaStorage) -> None:
    data = pattern_bytes(LARGE_BYTES, seed=1)

    stored = await media_storage.put_stream("videos/p1/j2/video.mp4", stream_of(data), "video/mp4")

    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await media_storage.head("videos/p1/j2/video.mp4") == stored
    with media_storage.open_reader("videos/p1/j2/video.mp4") as reader:
        assert hashlib.sha256(reader.read()).hexdigest() == stored.sha256


async def test_chunks_larger_than_a_part_are_split_correctly(media_storage: MediaStorage) -> None:
    data = pattern_bytes(3 * PART_MB * MiB + 7, seed=2)

    stored = await media_storage.put_stream("big-chunks.bin", stream_of(data, 12 * MiB), "video/mp4")

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    with media_storage.open_reader("big-chunks.bin") as reader:
        assert reader.read() == data


async def test_object_of_exactly_one_part_is_stored(media_storage: MediaStorage) -> None:
    data = pattern_bytes(PART_MB * MiB, seed=3)

    stored = await media_storage.put_stream("one-part.bin", stream_of(data), "video/mp4")

    assert await media_storage.head("one-part.bin") == stored
    with media_storage.open_reader("one-part.bin") as reader:
        assert reader.read() == data


async def hashed_stream_of(
    data: bytes, digest: Digest, chunk_bytes: int = 64 * 1024, skip_chunk: int | None = None
) -> AsyncIterator[bytes]:
    """``stream_of``, every chunk fed into ``digest`` before it is yielded, as the rehost download does;
    ``skip_chunk``: that chunk is yielded but not hashed (a producer with a bug)."""
    for number, start in enumerate(range(0, len(data), chunk_bytes)):
        chunk = data[start : start + chunk_bytes]
        if number != skip_chunk:
            digest.update(chunk)
        yield chunk


@pytest.mark.parametrize("size", [0, 17, LARGE_BYTES])  # empty, one short part, multipart
async def test_a_stream_hashed_by_its_producer_records_that_digest(
    media_storage: MediaStorage, size: int
) -> None:
    data = pattern_bytes(size, seed=4)
    digest = Digest()

    stored = await media_storage.put_stream(
        "videos/p1/j3/video.mp4", hashed_stream_of(data, digest), "video/mp4", hashed=digest
    )

    assert (stored.size_bytes, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert await media_storage.head("videos/p1/j3/video.mp4") == stored
    with media_storage.open_reader("videos/p1/j3/video.mp4") as reader:
        assert reader.read() == data


@pytest.mark.parametrize("skipped", [0, 100])  # in the first part, and in a later one
async def test_a_producers_digest_that_misses_bytes_fails_the_write_and_leaves_nothing(
    media_storage: MediaStorage, skipped: int
) -> None:
    data = pattern_bytes(LARGE_BYTES, seed=5)
    digest = Digest()
    stream = hashed_stream_of(data, digest, skip_chunk=skipped)

    with pytest.raises(StorageError, match="digest covers"):
        await media_storage.put_stream("videos/p1/j4/video.mp4", stream, "video/mp4", hashed=digest)

    assert await media_storage.head("videos/p1/j4/video.mp4") is None
    assert leftovers(media_storage) == []


async def test_reader_seeks_anywhere_and_reads_the_right_bytes(media_storage: MediaStorage) -> None:
    data = pattern_bytes(12 * MiB + 5, seed=4)
    await media_storage.put_stream("seek.bin", stream_of(data), "video/mp4")

    def read_pattern() -> None:
        with media_storage.open_reader("seek.bin") as reader:
            assert reader.seekable() and reader.readable()
            assert reader.seek(0, os.SEEK_END) == len(data)
            assert reader.read(10) == b""
            assert reader.seek(-100, os.SEEK_END) == len(data) - 100
            assert reader.read() == data[-100:]
            reader.seek(3 * MiB - 10)  # straddles a block boundary
            assert reader.read(20) == data[3 * MiB - 10 : 3 * MiB + 10]
            reader.seek(100)
            assert reader.read(5) == data[100:105]
            reader.seek(-5, os.SEEK_CUR)
            assert reader.tell() == 100
            assert reader.read(2 * MiB) == data[100 : 100 + 2 * MiB]

    await asyncio.to_thread(read_pattern)


async def test_put_file_stores_the_file(media_storage: MediaStorage, tmp_path: Path) -> None:
    data = pattern_bytes(11 * MiB, seed=5)
    source = tmp_path / "source.mp4"
    source.write_bytes(data)

    stored = await media_storage.put_file("from-file.mp4", source, "video/mp4")

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await media_storage.head("from-file.mp4") == stored


async def test_overwrite_replaces_the_object(media_storage: MediaStorage) -> None:
    await media_storage.put_stream("same.bin", stream_of(pattern_bytes(6 * MiB, seed=6)), "video/mp4")
    second = pattern_bytes(1000, seed=7)

    stored = await media_storage.put_stream("same.bin", stream_of(second), "image/jpeg")

    assert await media_storage.head("same.bin") == stored
    with media_storage.open_reader("same.bin") as reader:
        assert reader.read() == second


async def test_delete_removes_the_object_and_tolerates_missing(media_storage: MediaStorage) -> None:
    await media_storage.put_stream("gone.bin", stream_of(b"x"), "application/octet-stream")

    await media_storage.delete("gone.bin")
    await media_storage.delete("gone.bin")

    assert await media_storage.head("gone.bin") is None
    assert leftovers(media_storage) == []


async def test_listing_a_folder_gives_its_objects_with_size_and_age_and_nothing_else(
    media_storage: MediaStorage,
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    for key in ("videos/p1/j1/video.mp4", "videos/p1/j1/thumbnail.jpg", "videos/p2/j2/video.mp4"):
        await media_storage.put_stream(key, stream_of(b"x" * 7), "application/octet-stream")
    await media_storage.put_stream("references/p1/j1/reference.png", stream_of(b"png"), "image/png")

    listed = [item async for item in media_storage.list_objects("videos/")]

    assert sorted(item.key for item in listed) == [
        "videos/p1/j1/thumbnail.jpg",
        "videos/p1/j1/video.mp4",
        "videos/p2/j2/video.mp4",
    ]
    assert {item.size_bytes for item in listed} == {7}
    assert all(before < item.modified <= datetime.now(UTC) + timedelta(minutes=5) for item in listed)
    assert [item.key async for item in media_storage.list_objects("nothing/")] == []


async def test_missing_object_has_no_head_and_no_reader(media_storage: MediaStorage) -> None:
    assert await media_storage.head("never/written.mp4") is None
    with pytest.raises(ObjectNotFoundError):
        media_storage.open_reader("never/written.mp4")


@pytest.mark.parametrize("broken_after", [3 * MiB, 17 * MiB])  # before and after the first part
async def test_stream_failing_midway_leaves_nothing(media_storage: MediaStorage, broken_after: int) -> None:
    with pytest.raises(StreamBroke):
        await media_storage.put_stream("videos/p1/broken.mp4", stream_that_breaks(broken_after), "video/mp4")

    assert await media_storage.head("videos/p1/broken.mp4") is None
    assert leftovers(media_storage) == []


async def test_failed_overwrite_keeps_the_previous_object(media_storage: MediaStorage) -> None:
    original = await media_storage.put_stream("kept.bin", stream_of(b"original"), "text/plain")

    with pytest.raises(StreamBroke):
        await media_storage.put_stream("kept.bin", stream_that_breaks(12 * MiB), "video/mp4")

    assert await media_storage.head("kept.bin") == original


async def test_cancelled_write_leaves_nothing(media_storage: MediaStorage) -> None:
    enough_sent = asyncio.Event()

    async def stalls_after_three_parts() -> AsyncIterator[bytes]:
        async for chunk in stream_of(pattern_bytes(3 * PART_MB * MiB + 1, seed=8)):
            yield chunk
        enough_sent.set()
        await asyncio.Event().wait()  # the vendor stops sending; the activity gets cancelled
        yield b""

    task = asyncio.create_task(
        media_storage.put_stream("cancelled.mp4", stalls_after_three_parts(), "video/mp4")
    )
    await enough_sent.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await media_storage.head("cancelled.mp4") is None
    assert leftovers(media_storage) == []


@pytest.mark.parametrize(
    "key",
    ["../escape.mp4", "/etc/passwd", "a/../../b", "a//b", "a/", ".hidden", "a/.meta", "sp ace", "ü.mp4", ""],
)
async def test_bad_keys_are_refused_before_any_io(media_storage: MediaStorage, key: str) -> None:
    with pytest.raises(InvalidObjectKeyError):
        await media_storage.put_stream(key, stream_of(b"x"), "text/plain")
    with pytest.raises(InvalidObjectKeyError):
        await media_storage.head(key)
    with pytest.raises(InvalidObjectKeyError):
        media_storage.open_reader(key)
    with pytest.raises(InvalidObjectKeyError):
        media_storage.signed_url(key, 60)
    assert leftovers(media_storage) == []


@pytest.fixture(scope="session")
def sample_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real H.264 MP4 of noise (~8 MB: noise does not compress), ``moov`` at the end as muxers write it."""
    path = tmp_path_factory.mktemp("media") / "noise.mp4"
    rng = np.random.default_rng(9)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for _ in range(48):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (360, 640, 3), dtype=np.uint8), format="rgb24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def first_frame_size(reader: object) -> tuple[int, int]:
    with av.open(reader, "r") as container:
        frame = next(container.decode(container.streams.video[0]))
        return frame.width, frame.height


async def test_pyav_probes_and_decodes_the_first_frame_through_the_reader(
    media_storage: MediaStorage, sample_mp4: Path
) -> None:
    await media_storage.put_file("videos/p1/j3/video.mp4", sample_mp4, "video/mp4")

    def probe() -> tuple[tuple[int, int], int | None]:
        with media_storage.open_reader("videos/p1/j3/video.mp4") as reader:
            size = first_frame_size(reader)
            raw = getattr(reader, "raw", None)
            return size, getattr(raw, "bytes_fetched", None)

    size, fetched = await asyncio.to_thread(probe)

    assert size == (640, 360)
    if isinstance(media_storage, S3MediaStorage):
        # Ranged reads: the start, the moov box at the end and the first frame, not the whole video.
        assert fetched is not None and fetched < sample_mp4.stat().st_size / 2
