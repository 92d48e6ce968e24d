"""Which addresses we may fetch on a customer's behalf (the SSRF policy).

Only http(s) (and data: images, which fetch nothing). A host must resolve only to public unicast addresses:
loopback, private, shared (CGNAT), link-local, multicast, reserved and unspecified addresses are refused for
IPv4 and IPv6, with IPv4 hidden inside IPv6 (mapped, 6to4, Teredo, NAT64) unwrapped first. Cloud metadata
endpoints are refused even where private addresses are allowed.

The policy only says yes or no; ``core.guarded_fetch`` applies it to every request of a fetch (each
redirect hop included) and connects to the very address that was vetted, so a DNS answer that changes
between the check and the connect (rebinding) cannot slip a private address in.

Two escape hatches, for operators, never for customers: ``INFRAI_URL_ALLOWLIST`` names exact ``host:port``
pairs (an internal image mirror, the tests' loopback image server) that may resolve to private addresses;
``INFRAI_ALLOW_PRIVATE_URLS`` allows every private address (development only).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.settings import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the host resolves to. The seam tests use to play DNS (rebinding included).
Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data", "metadata.azure.internal"}
# Instance metadata services (AWS/GCP/Azure/OpenStack, AWS ECS task metadata, AWS IPv6, Alibaba Cloud).
_METADATA_ADDRESSES = {
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
DATA_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


class UnsafeUrl(ValueError):
    """The URL (or what it answered) is refused; ``reason`` is a stable machine-readable word.

    Reasons: ``unsupported_scheme``, ``malformed_url``, ``credentials_in_url``, ``private_address``,
    ``metadata_address``, ``unresolvable_host``, ``too_many_redirects``, ``fetch_failed``, ``http_status``,
    ``timeout``, ``too_large``, ``unsupported_image_type``, ``not_an_image``, ``bad_data_uri``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class DataImage:
    content_type: str
    data: bytes


async def system_resolver(host: str, port: int) -> list[IpAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl("unresolvable_host", f"{host} does not resolve") from None
    # Drop an IPv6 zone id ("fe80::1%eth0") so the address parses; it is link-local and refused anyway.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_metadata_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return address in _METADATA_ADDRESSES


def is_public_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def parse_allowlist(entries: Iterable[str]) -> frozenset[tuple[str, int]]:
    """``host:port`` entries (``[v6]:port`` for IPv6) as normalised pairs; a malformed entry is an error."""
    pairs = set()
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        host = host.strip("[]").rstrip(".").lower()
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"INFRAI_URL_ALLOWLIST entry {entry!r} is not host:port")
        pairs.add((host, int(port)))
    return frozenset(pairs)


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool = False
    allowlist: frozenset[tuple[str, int]] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver = system_resolver) -> UrlPolicy:
        return cls(
            allow_private=settings.allow_private_urls,
            allowlist=parse_allowlist(settings.url_allowlist.split(",")),
            resolver=resolver,
        )

    async def vet(self, host: str, port: int) -> IpAddress:
        """Resolve ``host`` once and return the address to connect to, or raise ``UnsafeUrl``.

        Every address of the answer must pass (a rebinding answer that mixes a public and a private address
        is refused), and the caller connects to the returned address rather than resolving again."""
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addresses = [literal] if literal is not None else await self.resolver(host, port)
        if not addresses:
            raise UnsafeUrl("unresolvable_host", f"{host} does not resolve")
        private_ok = self.allow_private or (host, port) in self.allowlist
        for address in addresses:
            if is_metadata_address(address) and (host, port) not in self.allowlist:
                raise UnsafeUrl("metadata_address", f"{host} resolves to a cloud metadata address")
            if not private_ok and not is_public_address(address):
                raise UnsafeUrl("private_address", f"{host} resolves to a non-public address ({address})")
        return addresses[0]


def check_url_shape(url: str) -> tuple[str, str, int]:
    """Scheme, host (lower case, IPv6 without brackets) and port of an http(s) URL, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("malformed_url", "the URL cannot be parsed") from None
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme[:20]
        raise UnsafeUrl("unsupported_scheme", f"only http(s) and data: URLs are accepted, not {scheme!r}:")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("malformed_url", "the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials_in_url", "URLs with embedded credentials are refused")
    if host in _METADATA_HOSTS:
        raise UnsafeUrl("metadata_address", f"{host} is a cloud metadata host")
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeUrl("private_address", f"{host} is not a public host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def parse_data_image(url: str, max_bytes: int) -> DataImage:
    """The bytes of a ``data:image/<type>;base64,...`` URI (the image itself is checked by the caller)."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise UnsafeUrl("bad_data_uri", "a data URI must look like data:image/png;base64,...")
    content_type = header[len("data:") : -len(";base64")].split(";")[0].strip().lower()
    if content_type not in DATA_IMAGE_TYPES:
        raise UnsafeUrl(
            "unsupported_image_type", f"data URI type {content_type[:40]!r} is not a supported image"
        )
    payload = "".join(payload.split())  # base64 may be wrapped
    if len(payload) * 3 // 4 > max_bytes:
        raise UnsafeUrl("too_large", f"the image is larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UnsafeUrl("bad_data_uri", "the data URI is not valid base64") from None
    return DataImage(content_type, data)
