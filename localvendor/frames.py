"""RGB frames as numpy arrays, and zero-copy numpy views of PyAV frames."""

from __future__ import annotations

import av
import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]  # (height, width, 3) RGB


def rgb_view(frame: av.VideoFrame) -> Frame:
    """A writable (height, width, 3) view of an rgb24 PyAV frame's pixels, skipping any row padding."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(frame.height, plane.line_size)
    pixels: Frame = rows[:, : frame.width * 3].reshape(frame.height, frame.width, 3)
    return pixels
