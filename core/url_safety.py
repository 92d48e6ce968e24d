"""Which URLs we may fetch on a customer's behalf (SSRF guard).

Only http(s) (and data: images, which fetch nothing). The host must resolve only to public unicast
addresses: loopback, private, link-local (cloud metadata at 169.254.169.254 included), multicast, reserved
and unspecified addresses are refused, for IPv4 and IPv6 (mapped addresses unwrapped).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
_DATA_IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}


class UnsafeUrl(ValueError):
    """The URL is refused; ``reason`` is a stable machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class DataImage:
    content_type: str
    data: bytes


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse_data_image(url: str, max_bytes: int) -> DataImage:
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise UnsafeUrl("bad_data_uri", "a data URI must look like data:image/png;base64,...")
    content_type = header[len("data:") : -len(";base64")].lower()
    if content_type not in _DATA_IMAGE_TYPES:
        raise UnsafeUrl("unsupported_image_type", f"data URI type {content_type!r} is not a supported image")
    if len(payload) * 3 // 4 > max_bytes:
        raise UnsafeUrl("too_large", f"the image is larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UnsafeUrl("bad_data_uri", "the data URI is not valid base64") from None
    return DataImage(content_type, data)


def check_url_shape(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("malformed_url", "the URL cannot be parsed") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(
            "unsupported_scheme", f"only http(s) and data: URLs are accepted, not {parts.scheme!r}:"
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("malformed_url", "the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials_in_url", "URLs with embedded credentials are refused")
    if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise UnsafeUrl("private_address", f"{host} is not a public host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


async def resolve_public(host: str, port: int, *, allow_private: bool = False) -> list[IpAddress]:
    """Resolve ``host`` and require every address to be public (all of them: a rebinding answer mixing a
    public and a private address is refused). Returns the addresses to connect to."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise UnsafeUrl("unresolvable_host", f"{host} does not resolve") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeUrl("private_address", f"{host} resolves to a non-public address ({address})")
    return addresses


async def check_fetchable_url(url: str, *, allow_private: bool, max_bytes: int) -> None:
    """Validate a URL a customer wants us (or a vendor) to fetch. Raises UnsafeUrl."""
    if url.startswith("data:"):
        parse_data_image(url, max_bytes)
        return
    _, host, port = check_url_shape(url)
    await resolve_public(host, port, allow_private=allow_private)
