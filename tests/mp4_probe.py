"""What a test needs to know about an MP4: that it decodes, and its codec, size, frames and duration."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av


def probe_mp4(media: bytes | Path) -> dict[str, Any]:
    """Decode every frame of the first video stream (so a truncated file fails here, not later)."""
    source = io.BytesIO(media) if isinstance(media, bytes) else str(media)
    with av.open(source) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "format": container.format.name,
            "codec": stream.codec_context.name,
            "width": stream.width,
            "height": stream.height,
            "frames": frames,
            "duration": float(stream.duration * stream.time_base) if stream.duration else None,
        }
