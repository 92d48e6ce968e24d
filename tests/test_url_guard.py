"""The SSRF guard (``core.guarded_fetch``) against real loopback servers, with DNS played by a resolver seam.

Loopback is exactly what the guard refuses, so the servers here are reached through the operator allowlist
(``host:port``), and the tests check what happens on the way: each redirect hop is vetted on its own, names
are resolved once and the connection goes to the vetted address with the name kept in Host and TLS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from core.guarded_fetch import FetchLimits, fetch_image
from core.url_safety import IpAddress, UnsafeUrl, UrlPolicy, is_public_address, parse_allowlist
from tests.fixtures.image_server import ImageServer, png, tls_for

LIMITS = FetchLimits(max_bytes=100_000, timeout_seconds=10.0)
IMAGE = png()


class FakeDns:
    """Answers from a table; ``answers`` may be a list to answer differently on each lookup (rebinding)."""

    def __init__(self, table: dict[str, str | list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IpAddress]:
        self.lookups.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise UnsafeUrl("unresolvable_host", f"{host} does not resolve")
        if isinstance(answer, list):
            answer = answer[min(len(self.lookups), len(answer)) - 1]
        return [ipaddress.ip_address(answer)]


def _policy(*allowed: str, dns: Callable[..., object] | None = None) -> UrlPolicy:
    policy = UrlPolicy(allowlist=parse_allowlist(allowed))
    return UrlPolicy(allowlist=policy.allowlist, resolver=dns) if dns else policy  # type: ignore[arg-type]


async def _refused(url: str, policy: UrlPolicy, limits: FetchLimits = LIMITS) -> str:
    with pytest.raises(UnsafeUrl) as refused:
        await fetch_image(url, policy, limits)
    return refused.value.reason


# -- addresses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "0.0.0.0",
        "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1",
        "ff02::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, wrapping 127.0.0.1
    ],
)  # fmt: skip
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


async def test_a_name_that_resolves_to_loopback_is_refused_before_connecting() -> None:
    with ImageServer() as server:
        server.image("/a.png", IMAGE)
        dns = FakeDns({"images.example": "127.0.0.1"})
        reason = await _refused(server.url("/a.png", host="images.example"), _policy(dns=dns))
    assert reason == "private_address"
    assert server.seen == []


async def test_an_answer_mixing_public_and_private_addresses_is_refused() -> None:
    async def mixed(host: str, port: int) -> list[IpAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    policy = UrlPolicy(resolver=mixed)
    assert await _refused("http://cdn.example/a.png", policy) == "private_address"


async def test_metadata_addresses_stay_refused_when_private_addresses_are_allowed() -> None:
    dns = FakeDns({"innocent.example": "169.254.169.254"})
    policy = UrlPolicy(allow_private=True, resolver=dns)
    assert await _refused("http://innocent.example/latest/meta-data/", policy) == "metadata_address"
    assert await _refused("http://[::ffff:169.254.169.254]/", policy) == "metadata_address"


# -- pinning: resolve once, connect to what was vetted ---------------------------------------------------


async def test_the_connection_goes_to_the_vetted_address_with_the_name_kept_in_host() -> None:
    with ImageServer() as server:
        server.image("/a.png", IMAGE)
        # The system resolver has never heard of this name: only the vetted address can be reached.
        dns = FakeDns({"mirror.internal": "127.0.0.1"})
        image = await fetch_image(
            server.url("/a.png", host="mirror.internal"),
            _policy(f"mirror.internal:{server.port}", dns=dns),
            LIMITS,
        )
    assert image.data == IMAGE and image.content_type == "image/png"
    assert [(r.path, r.host) for r in server.seen] == [("/a.png", f"mirror.internal:{server.port}")]
    assert dns.lookups == ["mirror.internal"]


async def test_a_rebinding_answer_after_the_check_is_never_used() -> None:
    with ImageServer() as vetted, ImageServer(bind="127.0.0.2", port=vetted.port) as rebound:
        vetted.image("/a.png", IMAGE)
        rebound.image("/a.png", png((0, 0, 255)))
        # First lookup (the check) says 127.0.0.1; any later lookup would say 127.0.0.2.
        dns = FakeDns({"flaky.example": ["127.0.0.1", "127.0.0.2"]})
        image = await fetch_image(
            vetted.url("/a.png", host="flaky.example"),
            _policy(f"flaky.example:{vetted.port}", dns=dns),
            LIMITS,
        )
    assert image.data == IMAGE
    assert rebound.seen == [] and len(dns.lookups) == 1


async def test_tls_to_a_pinned_address_still_verifies_the_name(tmp_path: Path) -> None:
    tls = tls_for("images.example", tmp_path)
    with ImageServer(tls=tls.server) as server:
        server.image("/a.png", IMAGE)
        dns = FakeDns({"images.example": "127.0.0.1", "impostor.example": "127.0.0.1"})
        policy = _policy(f"images.example:{server.port}", f"impostor.example:{server.port}", dns=dns)
        image = await fetch_image(
            server.url("/a.png", host="images.example"), policy, LIMITS, verify=tls.client
        )
        with pytest.raises(UnsafeUrl) as mismatch:
            # Same address, a name the certificate does not cover: the handshake must fail.
            await fetch_image(
                server.url("/a.png", host="impostor.example"), policy, LIMITS, verify=tls.client
            )
    assert image.data == IMAGE
    assert mismatch.value.reason == "fetch_failed"
    assert server.paths_seen() == ["/a.png"]


# -- redirects -----------------------------------------------------------------------------------------


async def test_a_redirect_to_a_private_address_is_refused_at_that_hop() -> None:
    with ImageServer() as allowed, ImageServer() as internal:
        internal.image("/secret.png", IMAGE)
        allowed.redirect("/a.png", internal.url("/secret.png"))
        reason = await _refused(allowed.url("/a.png"), _policy(allowed.netloc))
    assert reason == "private_address"
    assert allowed.paths_seen() == ["/a.png"] and internal.seen == []


async def test_a_redirect_to_a_name_resolving_inside_is_refused() -> None:
    with ImageServer() as allowed:
        allowed.redirect("/a.png", f"http://sneaky.example:{allowed.port}/b.png")
        allowed.image("/b.png", IMAGE)
        dns = FakeDns({"sneaky.example": "127.0.0.1"})
        reason = await _refused(allowed.url("/a.png"), _policy(allowed.netloc, dns=dns))
    assert reason == "private_address"
    assert allowed.paths_seen() == ["/a.png"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "metadata_address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata_address"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("http://[::1]:1/", "private_address"),
        ("http://user:pw@images.example/a.png", "credentials_in_url"),
    ],
)
async def test_redirects_to_forbidden_places_are_refused(location: str, reason: str) -> None:
    with ImageServer() as allowed:
        allowed.redirect("/a.png", location)
        assert await _refused(allowed.url("/a.png"), _policy(allowed.netloc)) == reason


async def test_a_redirect_loop_ends_as_too_many_redirects() -> None:
    with ImageServer() as allowed:
        allowed.redirect("/a.png", "/b.png")
        allowed.redirect("/b.png", "/a.png")
        assert await _refused(allowed.url("/a.png"), _policy(allowed.netloc)) == "too_many_redirects"
    assert len(allowed.seen) == LIMITS.max_redirects + 1


async def test_an_allowed_redirect_within_the_allowlist_is_followed() -> None:
    with ImageServer() as allowed:
        allowed.redirect("/old.png", "/new.png", status=301)
        allowed.image("/new.png", IMAGE)
        image = await fetch_image(allowed.url("/old.png"), _policy(allowed.netloc), LIMITS)
    assert image.data == IMAGE and allowed.paths_seen() == ["/old.png", "/new.png"]


# -- what comes back -----------------------------------------------------------------------------------


async def test_an_image_over_the_cap_is_refused_by_its_declared_length() -> None:
    with ImageServer() as server:
        server.image("/big.png", IMAGE + b"\0" * LIMITS.max_bytes)
        assert await _refused(server.url("/big.png"), _policy(server.netloc)) == "too_large"


async def test_an_image_over_the_cap_is_refused_while_streaming_without_a_length() -> None:
    with ImageServer() as server:
        server.unsized("/big.png", IMAGE + b"\0" * (3 * LIMITS.max_bytes))
        assert await _refused(server.url("/big.png"), _policy(server.netloc)) == "too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<html>hello</html>", "text/html", "unsupported_image_type"),
        (IMAGE, "application/octet-stream", "unsupported_image_type"),
        (IMAGE, "image/svg+xml", "unsupported_image_type"),
        (b"<html>not a png</html>", "image/png", "not_an_image"),
        (IMAGE[:40], "image/png", "not_an_image"),  # a truncated PNG
    ],
)
async def test_what_is_not_a_supported_image_is_refused(body: bytes, content_type: str, reason: str) -> None:
    with ImageServer() as server:
        server.image("/x", body, content_type)
        assert await _refused(server.url("/x"), _policy(server.netloc)) == reason


async def test_an_error_status_is_refused() -> None:
    with ImageServer() as server:  # every unknown path is a 404
        assert await _refused(server.url("/missing.png"), _policy(server.netloc)) == "http_status"


async def test_a_slow_drip_body_hits_the_total_deadline() -> None:
    with ImageServer() as server:
        server.slow("/drip.png", IMAGE, seconds_per_byte=0.2)
        limits = FetchLimits(max_bytes=LIMITS.max_bytes, timeout_seconds=1.5)
        assert await _refused(server.url("/drip.png"), _policy(server.netloc), limits) == "timeout"


async def test_a_server_that_never_answers_hits_the_total_deadline() -> None:
    with ImageServer() as server:
        server.hang("/never.png")
        limits = FetchLimits(max_bytes=LIMITS.max_bytes, timeout_seconds=1.5)
        assert await _refused(server.url("/never.png"), _policy(server.netloc), limits) == "timeout"


async def test_a_data_uri_is_checked_like_a_download() -> None:
    import base64

    good = "data:image/png;base64," + base64.b64encode(IMAGE).decode()
    image = await fetch_image(good, UrlPolicy(), LIMITS)
    assert image.data == IMAGE
    lying = "data:image/png;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode()
    assert await _refused(lying, UrlPolicy()) == "not_an_image"


def test_the_allowlist_takes_exact_host_port_pairs() -> None:
    assert parse_allowlist(["127.0.0.1:8080", " Mirror.Internal.:443 ", "[::1]:9000", ""]) == {
        ("127.0.0.1", 8080),
        ("mirror.internal", 443),
        ("::1", 9000),
    }
    for bad in ("127.0.0.1", "host:http", ":80", "host:0"):
        with pytest.raises(ValueError):
            parse_allowlist([bad])
