"""The local renderer against a raw PyAV encode of the very same frames, at 720p, 1080p and 4k.

Ours is ``localvendor.renderer.render_video`` as the local vendor's render worker calls it: the scene drawn
frame by frame into one reused buffer, encoded as it goes, the thumbnail, the atomic rename. The baseline
gets the frames for free: they are drawn first (not timed) into a memory-mapped scratch file, then encoded
with the same encoder settings (libx264, the same preset and CRF, yuv420p, x264's own threading,
faststart). So the ratio is the price of drawing the scene plus our bookkeeping, on top of the encode.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.report import Row, ratio_text
from bench.services import BenchRun
from core.models import Resolution
from localvendor.render_job import RenderJob
from localvendor.renderer import MP4_OPTIONS, X264_OPTIONS, render_video
from localvendor.scene import Scene

PROMPT = "a red kite over green hills at golden hour"
TARGET = 1.2


def render_ours(job: RenderJob, out: Path) -> float:
    started = time.perf_counter()
    render_video(job, out, lambda _: None, lambda: False)
    return time.perf_counter() - started


def draw_frames(job: RenderJob, scratch: Path) -> np.memmap:
    width, height = job.dimensions
    frames = np.memmap(scratch, dtype=np.uint8, mode="w+", shape=(job.frame_count, height, width, 3))
    scene = Scene(job)
    for index in range(job.frame_count):
        scene.draw(index, frames[index])
    frames.flush()
    return frames


def encode_raw(job: RenderJob, frames: np.memmap, out: Path) -> float:
    """PyAV, same settings as the renderer, frames already in memory: the encode and nothing else."""
    width, height = job.dimensions
    started = time.perf_counter()
    with av.open(str(out), mode="w", format="mp4", options=MP4_OPTIONS) as container:
        stream = container.add_stream("libx264", rate=job.fps, options=X264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, job.fps)
        stream.codec_context.thread_count = 0
        for index in range(job.frame_count):
            frame = av.VideoFrame.from_ndarray(frames[index], format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, job.fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return time.perf_counter() - started


def compare(job: RenderJob, folder: Path) -> tuple[float, float, int]:
    """(ours, raw) seconds and our output's size, each run once after the frames were drawn."""
    frames = draw_frames(job, folder / "frames.raw")
    try:
        raw = encode_raw(job, frames, folder / "raw.mp4")
        ours = render_ours(job, folder / "ours.mp4")
    finally:
        del frames
        (folder / "frames.raw").unlink()
    return ours, raw, (folder / "ours.mp4").stat().st_size


async def render_rows(run: BenchRun) -> list[Row]:
    seconds = 1 if run.quick else 5
    resolutions = [Resolution.P720] if run.quick else [Resolution.P720, Resolution.P1080, Resolution.K4]
    rows: list[Row] = []
    for resolution in resolutions:
        job = RenderJob(prompt=PROMPT, duration_seconds=seconds, resolution=resolution)
        ours, raw, size = await asyncio.to_thread(compare, job, run.folder(f"render-{resolution.value}"))
        width, height = job.dimensions
        rows.append(
            Row(
                measure=f"local renderer, {seconds} s at {resolution.value} ({width}x{height})",
                ours=f"{ours:.2f} s ({job.frame_count / ours:.0f} fps, {size / 1e6:.1f} MB)",
                baseline=f"raw PyAV encode of the same frames: {raw:.2f} s",
                ratio=ratio_text(ours, raw),
                target=f"≤ {TARGET}x",
                met=ours <= TARGET * raw,
            )
        )
    return rows
