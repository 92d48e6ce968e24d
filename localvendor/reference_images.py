"""Turn a request's ``reference_image_url`` into checked image bytes, once, at submit time.

The server keeps the bytes in the task's folder, so a render restarted after a crash does not depend on the
URL still answering.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re

import httpx
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_PIXELS = 40_000_000  # decoded size cap: a small file can still decompress to gigabytes
FETCH_TIMEOUT_SECONDS = 20.0
_DATA_URI = re.compile(r"^data:(image/[A-Za-z0-9.+-]+)((?:;[^;,]*)*);base64,(.*)$", re.DOTALL)


class ReferenceImageError(Exception):
    """The reference image could not be used; the message is safe to show the caller."""


async def load_reference_image(url: str, client: httpx.AsyncClient, max_bytes: int) -> bytes:
    if url.startswith("data:"):
        data = _decode_data_uri(url, max_bytes)
    elif url.startswith(("http://", "https://")):
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                data = await _fetch(url, client, max_bytes)
        except TimeoutError as exc:
            raise ReferenceImageError(
                f"reference image not fetched within {FETCH_TIMEOUT_SECONDS:g}s"
            ) from exc
    else:
        raise ReferenceImageError(
            "reference_image_url must be an http(s) URL or a data:image/...;base64, URI"
        )
    await asyncio.to_thread(check_image, data)  # decoding headers of a 20 MB file is not free
    return data


def check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ReferenceImageError(f"reference image is larger than {MAX_IMAGE_PIXELS} pixels")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ReferenceImageError(f"reference image is not a readable image: {exc}") from exc


def _decode_data_uri(url: str, max_bytes: int) -> bytes:
    match = _DATA_URI.match(url)
    if match is None:
        raise ReferenceImageError(
            "a data: reference_image_url must look like data:image/<type>;base64,<data>"
        )
    payload = "".join(match.group(3).split())
    if len(payload) * 3 // 4 > max_bytes:
        raise ReferenceImageError(f"reference image is larger than {max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise ReferenceImageError(f"reference image data is not valid base64: {exc}") from exc


async def _fetch(url: str, client: httpx.AsyncClient, max_bytes: int) -> bytes:
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ReferenceImageError(f"reference image URL answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise ReferenceImageError(f"reference image is larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise ReferenceImageError(f"reference image is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise ReferenceImageError(f"reference image could not be fetched: {exc!r}") from exc
