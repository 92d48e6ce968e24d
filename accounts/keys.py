"""Project API keys: how they look, how they are hashed, how a presented key is found.

A key is ``ifr_pk_proj_`` + a body of 32-128 url-safe characters. The first 12 characters of the body
are the key's public id (``key_id``): shown in ``GET /v1/account``, used in ``DELETE
/v1/account/keys/{key_id}`` and as the database lookup. The rest is secret. Keys we mint look like
``ifr_pk_proj_<12 base36 id>_<43 chars of token_urlsafe(32)>`` (256 secret bits).

Only the SHA-256 of the whole key is stored. A plain hash is enough because the key is high-entropy
(nothing to brute-force, unlike a password); the comparison is constant-time so response timing tells
nothing about how much of a guessed key matched.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "ifr_pk_proj_"
KEY_ID_LENGTH = 12
_BODY_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class PresentedKey:
    """A well-formed key as presented by a caller: its public id and the hash to compare."""

    key_id: str
    key_hash: str


def _base36_token(length: int) -> str:
    return "".join(secrets.choice(_BASE36) for _ in range(length))


def new_api_key() -> str:
    return f"{API_KEY_PREFIX}{_base36_token(KEY_ID_LENGTH)}_{secrets.token_urlsafe(32)}"


def new_project_id() -> str:
    return "proj_" + _base36_token(20)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def parse_api_key(api_key: str) -> PresentedKey | None:
    """The key's id and hash, or None when it cannot be one of our keys (no DB lookup needed)."""
    if not api_key.startswith(API_KEY_PREFIX):
        return None
    body = api_key[len(API_KEY_PREFIX) :]
    if not _BODY_RE.match(body):
        return None
    return PresentedKey(key_id=body[:KEY_ID_LENGTH], key_hash=hash_api_key(api_key))


def hashes_match(stored_hash: str, presented_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())


# One IPv6 subscriber usually holds a whole /64 (SLAAC, privacy addresses), so counting per IPv6 address
# would give one machine unlimited trials; an IPv4 address is the unit a subscriber gets.
IPV6_ACTIVATION_PREFIX = 64


def activation_bucket(client_address: str) -> str:
    """What one activation limit counts: the IPv4 address, or the IPv6 address's /64 network.

    IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``, from dual-stack sockets) count as their IPv4
    address. Anything that is not an IP address (``"unknown"``, a Unix socket) is its own bucket.
    """
    try:
        address = ipaddress.ip_address(client_address.strip().split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return client_address
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_ACTIVATION_PREFIX), strict=False))
    return str(address)


def client_address_hash(client_address: str) -> str:
    """What the activation rate limit stores instead of the caller's IP address: a hash of its bucket."""
    bucket = activation_bucket(client_address)
    return hashlib.sha256(b"infrai-activation\0" + bucket.encode()).hexdigest()
