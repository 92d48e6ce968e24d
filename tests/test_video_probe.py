"""``probe_video``: what rehost learns from a vendor's bytes (size, length, first frame as thumbnail), and
the one error it raises for bytes that are not a decodable video (the job then fails ``vendor_error``)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from activities.rehost import UnplayableVideoError, probe_video


def _mp4(width: int, height: int, frames: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            pixels = np.full((height, width, 3), index * 10 % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_video_gives_its_shape_length_and_a_jpeg_thumbnail() -> None:
    probe = probe_video(io.BytesIO(_mp4(320, 180, 24)))

    assert (probe.width, probe.height, probe.frame_count) == (320, 180, 24)
    assert probe.duration_seconds == pytest.approx(1.0, abs=0.05)
    thumbnail = Image.open(io.BytesIO(probe.thumbnail_jpeg))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (320, 180))


@pytest.mark.parametrize(
    "content",
    [b"", b"<html>Access Denied</html>", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64],
    ids=["empty", "an error page", "a truncated mp4 header"],
)
def test_bytes_that_are_not_a_video_raise_the_one_error(content: bytes) -> None:
    with pytest.raises(UnplayableVideoError) as raised:
        probe_video(io.BytesIO(content))
    assert str(raised.value)
