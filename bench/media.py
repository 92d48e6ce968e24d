"""Real videos for the benchmarks to move around: a rendered clip at a chosen bitrate, and a padded one."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.sampling import MiB
from core.models import Resolution
from localvendor.render_job import RenderJob
from localvendor.scene import Scene
from tests.emulators.media import sample_mp4


def write_clip(path: Path, *, seconds: int, resolution: Resolution, bitrate: str) -> int:
    """An H.264 MP4 of the local renderer's scene at ``bitrate`` (e.g. "8M": 8 Mbit/s, about 1 MB per
    second, what vendors' 1080p outputs weigh); its size in bytes."""
    job = RenderJob(prompt="a paper boat on a pond at dawn", duration_seconds=seconds, resolution=resolution)
    width, height = job.dimensions
    scene = Scene(job)
    options = {
        "preset": "ultrafast",
        "b": bitrate,
        "minrate": bitrate,
        "maxrate": bitrate,
        "bufsize": bitrate,
    }
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=job.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        for index in range(job.frame_count):
            scene.draw(index, pixels)
            encoded = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            encoded.pts = index
            encoded.time_base = Fraction(1, job.fps)
            container.mux(stream.encode(encoded))
        container.mux(stream.encode(None))
    return path.stat().st_size


def write_padded_mp4(path: Path, size: int) -> None:
    """A valid MP4 of exactly ``size`` bytes: the emulators' 1 s sample, then one ``free`` box (which
    players skip), so a gigabyte costs nothing to make and still passes rehost's probe."""
    video = sample_mp4()
    padding = size - len(video)
    if padding < 8 or padding >= 2**32:
        raise ValueError(f"cannot pad a {len(video)} byte video to {size} bytes with one free box")
    block = bytes(8 * MiB)
    with path.open("wb") as out:
        out.write(video)
        out.write(struct.pack(">I4s", padding, b"free"))
        left = padding - 8
        while left:
            left -= out.write(block[: min(len(block), left)])
