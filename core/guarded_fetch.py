"""Fetching a customer's image without letting the customer point us at our own network (SSRF).

``VettedTransport`` is an httpx transport that checks *every* request it sends — the first and each
redirect hop — against a ``UrlPolicy`` and then connects to the IP address it vetted, keeping the original
``Host`` header and TLS server name (SNI, certificate check), so the name is never resolved a second time
(DNS rebinding). ``fetch_image`` adds the limits: a total deadline (slow-drip servers included), a size cap
while streaming, an allowed ``Content-Type``, and proof that the bytes really are an image.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpx

from core.images import NotAnImage, verify_image
from core.url_safety import DATA_IMAGE_TYPES, UnsafeUrl, UrlPolicy, check_url_shape, parse_data_image

MAX_REDIRECTS = 3
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 20.0  # the whole fetch: connects, redirects, headers and body
    max_redirects: int = MAX_REDIRECTS


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str  # from the bytes themselves, not from what the server declared


class VettedTransport(httpx.AsyncBaseTransport):
    """Sends each request to the address ``policy`` vetted for its host, never to a fresh DNS answer."""

    def __init__(self, policy: UrlPolicy, *, verify: ssl.SSLContext | bool = True) -> None:
        self._policy = policy
        # No keep-alive: a pooled connection is keyed by IP, and one opened with host A's TLS name must not
        # carry a request for host B that happens to share the address.
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0), retries=0
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _, host, port = check_url_shape(str(request.url))
        address = await self._policy.vet(host, port)
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,  # keeps Host: the name, not the address
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def fetch_image(
    url: str,
    policy: UrlPolicy,
    limits: FetchLimits,
    *,
    verify: ssl.SSLContext | bool = True,
) -> FetchedImage:
    """The image at ``url`` (http(s), or a data: URI), checked; any refusal raises ``UnsafeUrl``."""
    if url.startswith("data:"):
        inline = parse_data_image(url, limits.max_bytes)
        return await _checked(inline.data)
    check_url_shape(url)  # refuse a bad scheme before opening anything
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            data = await _download(url, policy, limits, verify)
    except TimeoutError:
        raise UnsafeUrl(
            "timeout", f"the image was not fetched within {limits.timeout_seconds:g} seconds"
        ) from None
    except httpx.TooManyRedirects:
        raise UnsafeUrl("too_many_redirects", f"more than {limits.max_redirects} redirects") from None
    except httpx.HTTPError as exc:
        raise UnsafeUrl("fetch_failed", f"the image could not be fetched ({type(exc).__name__})") from None
    return await _checked(data)


async def _download(url: str, policy: UrlPolicy, limits: FetchLimits, verify: ssl.SSLContext | bool) -> bytes:
    async with (
        httpx.AsyncClient(
            transport=VettedTransport(policy, verify=verify),
            follow_redirects=True,
            max_redirects=limits.max_redirects,
            timeout=limits.timeout_seconds,
            trust_env=False,  # a proxy from the environment would resolve the name itself
            # identity: a gzip bomb would expand past the size cap within a single chunk.
            headers={"Accept": ", ".join(sorted(DATA_IMAGE_TYPES)), "Accept-Encoding": "identity"},
        ) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code != 200:
            raise UnsafeUrl("http_status", f"the image URL answered HTTP {response.status_code}")
        declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared not in DATA_IMAGE_TYPES:
            shown = declared[:60] or "none"
            raise UnsafeUrl("unsupported_image_type", f"the URL served {shown!r}, not a PNG/JPEG/GIF/WebP")
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limits.max_bytes:
            raise UnsafeUrl("too_large", f"the image is larger than {limits.max_bytes} bytes")
        body = bytearray()
        async for chunk in response.aiter_bytes(_CHUNK_BYTES):
            body += chunk
            if len(body) > limits.max_bytes:
                raise UnsafeUrl("too_large", f"the image is larger than {limits.max_bytes} bytes")
        return bytes(body)


async def _checked(data: bytes) -> FetchedImage:
    try:
        mime = await asyncio.to_thread(verify_image, data)  # header decoding of a 20 MB file is not free
    except NotAnImage as exc:
        raise UnsafeUrl("not_an_image", str(exc)) from None
    return FetchedImage(data=data, content_type=mime)
