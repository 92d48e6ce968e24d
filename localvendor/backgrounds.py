"""The two backgrounds a frame starts from: a drifting seeded gradient, or a Ken-Burns pan over an image.

Both do their expensive work once. The gradient is drawn as a periodic canvas one period larger than the
frame, so a frame is a moving window into it (one memcpy). The pan resamples the reference image with
swscale from a box that moves across a pre-scaled copy of the image.
"""

from __future__ import annotations

import io
import math
from typing import Protocol

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray
from PIL import Image, ImageOps

from localvendor.frames import Frame, rgb_view

RGB = tuple[int, int, int]


class Background(Protocol):
    def draw_into(self, frame: Frame, seconds: float) -> None:
        """Overwrite ``frame`` with the background at time ``seconds``."""
        ...


class DriftingGradient:
    """Three seeded colours blended by two periodic ramps; the view drifts across them at a seeded speed."""

    def __init__(
        self,
        size: tuple[int, int],
        colours: tuple[RGB, RGB, RGB],
        velocity: tuple[float, float],
    ) -> None:
        width, height = size
        # Periods of half the frame keep the canvas small (1.5 x 1.5 frames) while still showing a full
        # colour cycle on screen.
        self._period_x, self._period_y = max(width // 2, 2), max(height // 2, 2)
        self._size = size
        self._velocity = velocity
        ramp_x = _cosine_ramp(width + self._period_x, self._period_x)
        ramp_y = _cosine_ramp(height + self._period_y, self._period_y)
        first, second, third = (np.asarray(colour, dtype=np.float32) for colour in colours)
        canvas = np.empty((height + self._period_y, width + self._period_x, 3), dtype=np.uint8)
        for channel in range(3):
            across = first[channel] + (second[channel] - first[channel]) * ramp_x
            down = (third[channel] - (first[channel] + second[channel]) / 2.0) * 0.6 * ramp_y
            canvas[:, :, channel] = np.clip(np.add.outer(down, across), 0.0, 255.0).astype(np.uint8)
        self._canvas = canvas

    def draw_into(self, frame: Frame, seconds: float) -> None:
        width, height = self._size
        left = int(self._velocity[0] * seconds) % self._period_x
        top = int(self._velocity[1] * seconds) % self._period_y
        np.copyto(frame, self._canvas[top : top + height, left : left + width])


class KenBurnsPan:
    """A slow zoom and pan across the reference image, cover-fitted to the frame."""

    ZOOM = 1.18  # how much tighter the last view is than the first (or the reverse when zooming out)

    def __init__(
        self,
        image_bytes: bytes,
        size: tuple[int, int],
        duration_seconds: float,
        zoom_in: bool,
        drift: tuple[float, float],
    ) -> None:
        width, height = size
        with Image.open(io.BytesIO(image_bytes)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        # The stage is the image scaled once (with a good filter) so that even the tightest view maps at
        # least 1:1 onto the frame: per frame we only ever shrink a little, never blow pixels up.
        scale = max(width / image.width, height / image.height) * self.ZOOM
        stage_size = (
            max(width, math.ceil(image.width * scale)),
            max(height, math.ceil(image.height * scale)),
        )
        self._stage: Frame = np.ascontiguousarray(image.resize(stage_size, Image.Resampling.LANCZOS))
        self._size = size
        self._duration = max(duration_seconds, 1e-6)
        wide = _largest_box(stage_size, width / height)
        tight = (wide[0] / self.ZOOM, wide[1] / self.ZOOM)
        self._box_sizes = (wide, tight) if zoom_in else (tight, wide)
        self._drift = drift  # where the view's centre travels, as fractions of the slack on each axis
        self._reformatter = VideoReformatter()

    def draw_into(self, frame: Frame, seconds: float) -> None:
        left, top, box_width, box_height = self._view_box(seconds)
        view = self._stage[top : top + box_height, left : left + box_width]
        width, height = self._size
        if (box_width, box_height) == (width, height):
            np.copyto(frame, view)
            return
        # swscale on a zero-copy view of the crop: 3-5x faster than Pillow's resampler at 4k. The crop is
        # whole stage pixels, which at these slow speeds (several pixels a frame at 4k) does not show.
        scaled = self._reformatter.reformat(
            av.VideoFrame.from_numpy_buffer(view, format="rgb24"),
            width,
            height,
            "rgb24",
            interpolation="FAST_BILINEAR",
            threads=0,
        )
        np.copyto(frame, rgb_view(scaled))

    def _view_box(self, seconds: float) -> tuple[int, int, int, int]:
        """The stage pixels (left, top, width, height) the frame shows at ``seconds``."""
        progress = _smoothstep(min(max(seconds / self._duration, 0.0), 1.0))
        (w0, h0), (w1, h1) = self._box_sizes
        stage_height, stage_width = self._stage.shape[:2]
        box_width = min(round(w0 + (w1 - w0) * progress), stage_width)
        box_height = min(round(h0 + (h1 - h0) * progress), stage_height)
        slack_x, slack_y = stage_width - box_width, stage_height - box_height
        # The centre moves from one side of the free space to the other along the seeded drift.
        left = round(slack_x * (0.5 + self._drift[0] * (progress - 0.5)))
        top = round(slack_y * (0.5 + self._drift[1] * (progress - 0.5)))
        return left, top, box_width, box_height


def _cosine_ramp(length: int, period: int) -> NDArray[np.float32]:
    """0..1..0 over each ``period`` pixels, smooth so the drifting gradient shows no seams."""
    phase = np.arange(length, dtype=np.float32) * np.float32(2.0 * math.pi / period)
    ramp: NDArray[np.float32] = (0.5 - 0.5 * np.cos(phase)).astype(np.float32)
    return ramp


def _largest_box(stage_size: tuple[int, int], aspect: float) -> tuple[float, float]:
    stage_width, stage_height = stage_size
    if stage_width / stage_height > aspect:
        return stage_height * aspect, float(stage_height)
    return float(stage_width), stage_width / aspect


def _smoothstep(value: float) -> float:
    return value * value * (3.0 - 2.0 * value)
