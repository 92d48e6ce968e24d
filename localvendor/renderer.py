"""Render a ``RenderJob`` to an H.264 MP4 (and a JPEG thumbnail of its first frame) with PyAV.

The file is written under a temporary name and renamed into place only when complete, so whoever sees
``out_path`` sees a whole, fast-start MP4 (moov atom first, playable while it downloads).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from localvendor.frames import Frame, rgb_view
from localvendor.render_job import RenderCancelled, RenderJob, RenderResult
from localvendor.scene import Scene

# superfast keeps a 4k encode practical on two cores; crf 23 is x264's default quality.
X264_OPTIONS = {"preset": "superfast", "crf": "23"}
# faststart moves the moov atom to the front so players (and rehost's probe) need only the first bytes.
MP4_OPTIONS = {"movflags": "+faststart"}
THUMBNAIL_MAX_SIDE = 640
_STOP_CHECK_SECONDS = 0.05


def thumbnail_path_for(video_path: Path) -> Path:
    return video_path.with_suffix(".jpg")


def render_video(
    job: RenderJob,
    out_path: Path,
    on_progress: Callable[[int], None],
    should_stop: Callable[[], bool],
    *,
    min_seconds: float = 0.0,
) -> RenderResult:
    """Render ``job`` to ``out_path`` and its thumbnail beside it (``thumbnail_path_for``).

    ``should_stop`` is asked before every frame; when it says yes this raises ``RenderCancelled`` and leaves
    nothing behind. ``on_progress`` gets 0-99 as frames are encoded (only when the number changes) and 100
    once the file is in place. ``min_seconds`` paces the frames so the render takes at least that long,
    which lets tests act mid-render.
    """
    started = time.monotonic()
    total = job.frame_count
    thumbnail_path = thumbnail_path_for(out_path)
    partial_video = out_path.with_name(f".{out_path.name}.{os.getpid()}.part")
    partial_thumbnail = thumbnail_path.with_name(f".{thumbnail_path.name}.{os.getpid()}.part")
    try:
        with av.open(str(partial_video), mode="w", format="mp4", options=MP4_OPTIONS) as output:
            _encode_frames(
                output, job, partial_thumbnail, _Pacing(started, min_seconds, should_stop), on_progress
            )
        _wait_until(started + min_seconds, should_stop)
        if should_stop():
            raise RenderCancelled("stopped after the last frame")
        os.replace(partial_thumbnail, thumbnail_path)
        os.replace(partial_video, out_path)
    except BaseException:
        partial_video.unlink(missing_ok=True)
        partial_thumbnail.unlink(missing_ok=True)
        raise
    on_progress(100)
    width, height = job.dimensions
    return RenderResult(
        video_path=out_path,
        thumbnail_path=thumbnail_path,
        width=width,
        height=height,
        fps=job.fps,
        frame_count=total,
        duration_seconds=total / job.fps,
        size_bytes=out_path.stat().st_size,
        render_seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class _Pacing:
    """When the render started, how long it must take at least, and how to ask whether to stop."""

    started: float
    min_seconds: float
    should_stop: Callable[[], bool]


def _encode_frames(
    output: av.container.OutputContainer,
    job: RenderJob,
    partial_thumbnail: Path,
    pacing: _Pacing,
    on_progress: Callable[[int], None],
) -> None:
    """Draw, encode and mux every frame of ``job`` (writing the thumbnail from the first), then flush."""
    scene = Scene(job)
    total = job.frame_count
    stream = _add_h264_stream(output, job)
    frame, pixels = _rgb_frame(*job.dimensions)
    reported = -1
    for index in range(total):
        _wait_until(pacing.started + pacing.min_seconds * index / total, pacing.should_stop)
        if pacing.should_stop():
            raise RenderCancelled(f"stopped before frame {index} of {total}")
        scene.draw(index, pixels)
        if index == 0:
            _write_thumbnail(Image.fromarray(pixels), partial_thumbnail)
        frame.pts = index
        frame.time_base = Fraction(1, job.fps)
        output.mux(stream.encode(frame))
        percent = (index + 1) * 99 // total
        if percent != reported:
            reported = percent
            on_progress(percent)
    output.mux(stream.encode(None))


def _add_h264_stream(output: av.container.OutputContainer, job: RenderJob) -> av.VideoStream:
    stream = output.add_stream("libx264", rate=job.fps, options=X264_OPTIONS)
    stream.width, stream.height = job.dimensions
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, job.fps)
    stream.codec_context.thread_count = 0  # let x264 pick (one thread per core, plus lookahead)
    return stream


def _rgb_frame(width: int, height: int) -> tuple[av.VideoFrame, Frame]:
    """One RGB frame the scene draws straight into, reused for every frame of the video.

    Reuse is safe because the encoder never keeps it: the stream is yuv420p, so each ``encode`` converts
    it into a new frame first. Drawing in place saves a full-frame copy per frame (20 ms at 4k).
    """
    frame = av.VideoFrame(width, height, "rgb24")
    return frame, rgb_view(frame)


def _write_thumbnail(image: Image.Image, path: Path) -> None:
    image.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE), Image.Resampling.BILINEAR)
    image.save(path, format="JPEG", quality=85)


def _wait_until(deadline: float, should_stop: Callable[[], bool]) -> None:
    """Sleep until ``deadline`` (monotonic), waking often enough to notice a stop request."""
    while (remaining := deadline - time.monotonic()) > 0:
        if should_stop():
            return
        time.sleep(min(remaining, _STOP_CHECK_SECONDS))
