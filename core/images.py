"""Is it really an image? Magic bytes for the type, then Pillow reads the header and verifies the file.

A declared ``Content-Type`` proves nothing; a small file can also decompress to gigabytes, so the pixel
count is capped before anything decodes it.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_PIXELS = 40_000_000

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class NotAnImage(ValueError):
    """The bytes are not a readable image of a supported type; the message is safe to show."""


def sniff_image_type(data: bytes) -> str | None:
    """The image type the bytes start with (png, jpeg, gif, webp), or None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def verify_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> str:
    """The image's type, once Pillow has read and verified it (blocking: call it from a thread)."""
    mime = sniff_image_type(data)
    if mime is None:
        raise NotAnImage("the bytes are not a PNG, JPEG, GIF or WebP image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
            if pixels <= max_pixels:
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"the image cannot be read: {exc}") from exc
    if pixels > max_pixels:
        raise NotAnImage(f"the image is larger than {max_pixels} pixels")
    return mime
