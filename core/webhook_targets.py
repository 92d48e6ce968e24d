"""Vetting a customer's webhook URL with the SSRF guard (``core.url_safety``), at generate and at delivery.

A webhook is a request we make on a customer's behalf, so it gets the same guard as reference images: http(s)
only, no credentials in the URL, and a host that resolves only to public addresses. ``INFRAI_URL_ALLOWLIST``
exempts listed host:port pairs from the public-address rule (an internal receiver, a loopback one in tests).

The delivery connects to the address vetted here (``VettedUrl.addresses``), not to whatever a second DNS
lookup would answer, so a name that re-binds to a private address after the check gains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.url_safety import IpAddress, UnsafeUrl, UrlPolicy, check_url_shape

MAX_WEBHOOK_URL_CHARS = 2048


@dataclass(frozen=True)
class VettedUrl:
    url: str
    scheme: str
    host: str
    port: int
    addresses: list[IpAddress]


async def vet_webhook_url(
    url: str, *, allowlist: frozenset[tuple[str, int]], allow_private: bool = False
) -> VettedUrl:
    """The URL's parts and the addresses it may be reached at; ``UnsafeUrl`` when refused."""
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        raise UnsafeUrl("url_too_long", f"webhook URLs are limited to {MAX_WEBHOOK_URL_CHARS} characters")
    scheme, host, port = check_url_shape(url)
    address = await UrlPolicy(allow_private=allow_private, allowlist=allowlist).vet(host, port)
    return VettedUrl(url=url, scheme=scheme, host=host, port=port, addresses=[address])
