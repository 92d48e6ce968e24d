"""Small real media the emulators serve: a 1 s 320x180 H.264 MP4 and a PNG reference image."""

from __future__ import annotations

import io
from functools import lru_cache

import av
import numpy as np
from PIL import Image


@lru_cache(maxsize=1)
def sample_mp4() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index in range(24):
            frame = np.zeros((180, 320, 3), dtype=np.uint8)
            frame[:, :, 0] = index * 10
            frame[:, index * 13 : index * 13 + 20, 1] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def sample_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()
