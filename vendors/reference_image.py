"""Fetching a customer's reference image for vendors that want the bytes rather than a URL (Veo).

The fetch is bounded (size cap while streaming, timeout) and goes through ``core.url_safety`` (the API's own
SSRF guard) again here, because the URL is the customer's and the request leaves from our worker.
"""

from __future__ import annotations

import asyncio
import base64

import httpx
from pydantic import BaseModel

from core.errors import ErrorCode, VendorError
from core.url_safety import UnsafeUrl, check_url_shape, parse_data_image, resolve_public

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


class ReferenceImage(BaseModel):
    data: bytes
    mime_type: str

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{self.base64()}"


def sniff_mime_type(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def fetch_reference_image(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout_seconds: float,
    allow_private: bool,
) -> ReferenceImage:
    """Download ``url`` (or decode a data URI), at most ``max_bytes``, and check it is an image."""
    try:
        if url.startswith("data:"):
            image = parse_data_image(url, max_bytes)
            return ReferenceImage(data=image.data, mime_type=image.content_type)
        _, host, port = check_url_shape(url)
        await resolve_public(host, port, allow_private=allow_private)
    except UnsafeUrl as exc:
        raise VendorError(ErrorCode.UNSAFE_URL, f"reference image refused: {exc.message}") from exc
    try:
        async with asyncio.timeout(timeout_seconds):
            data, content_type = await _download(client, url, max_bytes)
    except TimeoutError as exc:
        raise VendorError(
            ErrorCode.TIMEOUT, "fetching the reference image timed out", retryable=True
        ) from exc
    except httpx.HTTPError as exc:
        raise VendorError(
            ErrorCode.INVALID_INPUT,
            f"the reference image could not be fetched ({type(exc).__name__})",
            retryable=True,
        ) from exc
    mime = sniff_mime_type(data) or content_type
    if not mime.startswith("image/"):
        raise _invalid("the reference image URL did not return an image")
    return ReferenceImage(data=data, mime_type=mime)


async def _download(client: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[bytes, str]:
    async with client.stream("GET", url, follow_redirects=False) as response:
        if response.status_code != 200:
            raise _invalid(f"the reference image URL answered HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _invalid(f"the reference image is larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _invalid(f"the reference image is larger than {max_bytes} bytes")
            chunks.append(chunk)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        return b"".join(chunks), content_type


def _invalid(message: str) -> VendorError:
    return VendorError(ErrorCode.INVALID_INPUT, message)
