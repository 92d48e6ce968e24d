"""Rehost a vendor's finished video into our storage: stream it (bounded memory, checksum), probe it,
make a thumbnail from its first frame. Vendor URLs expire, so this runs as soon as the vendor is done.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from PIL import Image
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import final_error
from activities.head_reader import HeadFirstReader, kept_head
from activities.rehost_download import (
    BlockingDownload,
    DownloadFailedError,
    DownloadRefusedError,
    download_chunks,
)
from core.errors import ErrorCode
from core.models import RehostRequest, StoredVideo
from storage import MediaStorage, StorageError, StoredObject
from storage.digest import Digest
from storage.threads import run_to_completion
from vendors.base import VideoVendor

logger = logging.getLogger(__name__)

# The activity's name on the wire: workflows call it by method, the API and tests look it up by this name.
REHOST_VIDEO = "rehost_video"

_HEARTBEAT_EVERY_SECONDS = 1.0
# ... or every this many bytes: often enough to show progress, rarely enough to cost nothing next to the
# copy itself.
_HEARTBEAT_EVERY_BYTES = 8 * 1024 * 1024
_THUMBNAIL_MAX_WIDTH = 640
_PROBE_BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class VideoProbe:
    duration_seconds: float | None
    width: int
    height: int
    frame_count: int | None
    thumbnail_jpeg: bytes


def media_keys(project_id: str, job_id: str) -> tuple[str, str]:
    base = f"videos/{project_id}/{job_id}"
    return f"{base}/video.mp4", f"{base}/thumbnail.jpg"


class UnplayableVideoError(Exception):
    """The bytes are not a video PyAV can open and decode a first frame of."""


def probe_video(reader: io.RawIOBase | io.BufferedIOBase | object) -> VideoProbe:
    """Read the container's metadata and decode only the first frame (blocking: run it in a thread).
    ``UnplayableVideoError`` when there is no decodable video stream."""
    import av  # ~20 MB: only worker processes that rehost pay for it, on their first video

    try:
        with av.open(reader, mode="r") as container:
            stream = container.streams.video[0]
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            frames = int(stream.frames) or None
            first = next(container.decode(stream))
            # Scaled to the thumbnail's size while converted to RGB (one libswscale pass): a 1080p frame
            # converted whole and then resized by Pillow cost ~27 ms of CPU, this ~10 (P6).
            size = _thumbnail_size(first.width, first.height)
            image: Image.Image = first.to_image(**size, interpolation="AREA")  # type: ignore[no-untyped-call]
    except (av.error.FFmpegError, StopIteration, IndexError) as err:
        raise UnplayableVideoError(str(err) or type(err).__name__) from err
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return VideoProbe(duration, int(stream.width), int(stream.height), frames, out.getvalue())


def _thumbnail_size(width: int, height: int) -> dict[str, int]:
    """The thumbnail's width and height: the frame's, narrowed to ``_THUMBNAIL_MAX_WIDTH`` if wider."""
    if width <= _THUMBNAIL_MAX_WIDTH:
        return {}
    return {"width": _THUMBNAIL_MAX_WIDTH, "height": round(height * _THUMBNAIL_MAX_WIDTH / width)}


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _with_heartbeats(
    download: BlockingDownload, chunk_bytes: int | None, head: bytearray
) -> AsyncGenerator[bytes, None]:
    """The download's chunks, with a heartbeat every 8 MB or every second, whichever comes first (and
    every second a read waits): a slow vendor CDN must not look like a dead worker. The first bytes are
    kept in ``head`` for the probe."""
    reported = 0
    last_beat = time.monotonic()

    def beat() -> None:
        nonlocal reported, last_beat
        reported, last_beat = download.received, time.monotonic()
        activity.heartbeat(reported)

    async with aclosing(download_chunks(download, chunk_bytes=chunk_bytes, while_waiting=beat)) as chunks:
        async for chunk in chunks:
            if (
                download.received - reported >= _HEARTBEAT_EVERY_BYTES
                or time.monotonic() - last_beat >= _HEARTBEAT_EVERY_SECONDS
            ):
                beat()
            kept_head(head, chunk)
            yield chunk


class RehostActivities:
    def __init__(self, vendors: dict[str, VideoVendor], storage: MediaStorage) -> None:
        self._vendors = vendors
        self._storage = storage

    async def _download(self, req: RehostRequest, key: str) -> tuple[StoredObject, bytes]:
        """The stored object and its first bytes (up to ``HEAD_BYTES``)."""
        vendor = self._vendors.get(req.task.vendor)
        headers = vendor.download_headers(req.task, req.output_url) if vendor else {}
        digest = Digest()  # fed by the download's reading thread, piece by piece
        download = BlockingDownload(req.output_url, headers, digest=digest)
        head = bytearray()
        try:
            await run_to_completion(None, download.open)
            chunk_bytes = self._storage.stream_chunk_bytes
            async with aclosing(_with_heartbeats(download, chunk_bytes, head)) as chunks:
                stored = await self._storage.put_stream(key, chunks, "video/mp4", hashed=digest)
            return stored, bytes(head)
        except DownloadRefusedError as err:
            if err.status in (401, 403, 404, 410):
                raise final_error(
                    ErrorCode.VENDOR_ERROR,
                    f"the vendor's output is gone or refused (HTTP {err.status}); it may have expired",
                ) from None
            # 5xx and the like are worth a retry (the activity's retry policy bounds it).
            raise RuntimeError(f"downloading the vendor's video failed: {err}") from err
        except DownloadFailedError as err:
            raise RuntimeError(f"downloading the vendor's video failed: {err}") from err
        except StorageError as err:
            raise ApplicationError(
                f"storing the video failed: {err}",
                type=ErrorCode.STORAGE_ERROR,
                non_retryable=not err.retryable,
            ) from err
        finally:
            download.close()

    @activity.defn(name=REHOST_VIDEO)
    async def rehost_video(self, req: RehostRequest) -> StoredVideo:
        video_key, thumbnail_key = media_keys(req.project_id, req.job_id)
        if activity.info().attempt > 1:
            # Temporal declared the previous attempt dead (its worker was killed, or it stopped
            # heartbeating): remove the temporary file or multipart upload it could not clean up.
            for key in (video_key, thumbnail_key):
                await self._storage.discard_incomplete(key)
        stored, head = await self._download(req, video_key)
        try:
            probe = await asyncio.to_thread(self._probe, video_key, head, stored.size_bytes)
        except UnplayableVideoError as err:
            await self._storage.delete(video_key)
            message = f"the vendor's output is not a playable video: {err}"
            raise final_error(ErrorCode.VENDOR_ERROR, message) from None
        await self._storage.put_stream(thumbnail_key, _one_chunk(probe.thumbnail_jpeg), "image/jpeg")
        logger.info("rehosted %s: %d bytes, %sx%s", req.job_id, stored.size_bytes, probe.width, probe.height)
        return StoredVideo(
            video_key=video_key,
            thumbnail_key=thumbnail_key,
            content_type="video/mp4",
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            duration_seconds=probe.duration_seconds,
            width=probe.width,
            height=probe.height,
            frame_count=probe.frame_count,
        )

    def _probe(self, key: str, head: bytes, size: int) -> VideoProbe:
        # The head as downloaded (the same bytes as stored); the rest, if PyAV wants it, from storage.
        raw = HeadFirstReader(head, size, lambda: self._storage.open_reader(key))
        with io.BufferedReader(raw, buffer_size=_PROBE_BUFFER_BYTES) as reader:
            return probe_video(reader)
